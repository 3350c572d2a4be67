// Entry points for the fuzz executables.
//
// SwiftPM (tools version >= 5.5, Linux) compiles an executable target's top-level code into a
// function named `<Target>_main` and links the executable with `--defsym main=<Target>_main`, so
// that tests can link against executables. Built with `-parse-as-library`, a fuzz target has no
// top-level code, so `<Target>_main` would be undefined and the link fails; and the alias also
// replaces libFuzzer's own `main`. Each `<Target>_main` below therefore does what libFuzzer's
// `main` does: it runs the libFuzzer driver on the target's `LLVMFuzzerTestOneInput`.
// (swiftlang/swift-package-manager#8731, swiftlang/swift#75800.)
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#define FUZZ_ENTRY(target)                                                   \
    int target##_main(int argc, char **argv);                                \
    int target##_main(int argc, char **argv) {                               \
        return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);    \
    }

FUZZ_ENTRY(FuzzONNXLoad)
FUZZ_ENTRY(FuzzModelRun)
FUZZ_ENTRY(FuzzImageDecode)
FUZZ_ENTRY(FuzzNPYDecode)
