// glibc's malloc tuning (mallopt), for lafam's memory policy (Sources/Lafam/Runtime/MemoryPolicy.swift).
#include <malloc.h>
