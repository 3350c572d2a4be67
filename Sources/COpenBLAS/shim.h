// Debian installs the CBLAS header of the pthread build under openblas-pthread/ (found via pkg-config).
#include <cblas.h>
