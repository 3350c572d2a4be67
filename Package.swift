// swift-tools-version:6.0
import PackageDescription

// Modules by layer; each depends only on the ones above it in this list (SPEC.md §1):
//   LafamTensor → LafamONNX → LafamGraph → LafamOps → LafamRuntime   the interpreter
//   Lafam (explainers, metrics) → LafamImaging → LafamEvaluation → lafam (CLI)
let package = Package(
    name: "lafam",
    products: [
        // The interpreter alone: load an ONNX model, run it, tap any tensor, differentiate.
        .library(name: "LafamRuntime", targets: ["LafamRuntime"]),
        // Everything: the interpreter, the explainers and metrics, imaging and evaluation.
        .library(name: "Lafam", targets: ["Lafam", "LafamImaging", "LafamEvaluation"]),
        .executable(name: "lafam", targets: ["lafam"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation --target Lafam` (the DocC catalog in Sources/Lafam/Lafam.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // C: protoc-c output for tools/onnx.proto (regenerate with tools/gen-proto.sh).
        .target(name: "CONNXProto", path: "Sources/CONNXProto", linkerSettings: [.linkedLibrary("protobuf-c")]),
        // C: Debian's OpenBLAS (pthread variant) CBLAS header and library.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas"),
        // C: glibc's <malloc.h> (mallopt), for the opt-in allocator policy.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // C: PNG and JPEG codecs over libpng and libjpeg-turbo, with C-side error handling.
        .target(name: "CImageCodecs", path: "Sources/CImageCodecs",
                linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
        // C: kernels built for AVX2 and FMA, called when the CPU has them (runtime check).
        .target(name: "CKernels", path: "Sources/CKernels"),

        // Tensors, element types, shapes of symbolic dimensions, lafam's error vocabulary.
        .target(name: "LafamTensor", path: "Sources/LafamTensor"),
        // ONNX files: protobuf-c → plain Swift values (nodes, attributes, tensors, external data).
        .target(name: "LafamONNX", dependencies: ["LafamTensor", "CONNXProto"], path: "Sources/LafamONNX"),
        // The op graph: IR, the Operator protocol and registry, building (validation, topological
        // order, shape inference, constant folding), name lookup, batch analysis, the rewrite framework.
        .target(name: "LafamGraph", dependencies: ["LafamTensor", "LafamONNX"], path: "Sources/LafamGraph"),
        // Every op (shape rule, kernel, gradient rule and traits side by side), the kernels' threads,
        // the standard registry and the standard graph passes.
        .target(name: "LafamOps", dependencies: ["LafamGraph", "CKernels", "COpenBLAS"], path: "Sources/LafamOps"),
        // Model (options, specialisation, passes), the executor with taps, reverse-mode autodiff.
        // Re-exports the layers above, so `import LafamRuntime` is the whole interpreter.
        .target(name: "LafamRuntime", dependencies: ["LafamOps", "CMalloc"], path: "Sources/LafamRuntime"),
        // Explainers (LaFAM, Grad-CAM family, EigenCAM, input gradients, RELAX) and metrics.
        // Re-exports LafamRuntime.
        .target(name: "Lafam", dependencies: ["LafamRuntime"], path: "Sources/Lafam"),
        // Images: decoding/encoding, preprocessing, colormaps, overlays, .npy, tensor bridges.
        .target(name: "LafamImaging", dependencies: ["LafamTensor", "CImageCodecs"], path: "Sources/LafamImaging"),
        // Evaluation over annotated images: datasets, metric runs, results files and summaries.
        .target(name: "LafamEvaluation", dependencies: ["Lafam", "LafamImaging"], path: "Sources/LafamEvaluation"),
        // The command-line tool: parses, calls the library, prints and writes.
        .executableTarget(
            name: "lafam",
            dependencies: ["Lafam", "LafamImaging", "LafamEvaluation", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/lafam"
        ),
        // The README's interpreter example: uses LafamRuntime only (load, tap, gradient).
        .executableTarget(name: "runtime-tour", dependencies: ["LafamRuntime"], path: "Examples/RuntimeTour"),
        // The DocC getting-started article's program: explainers and imaging (load, tap, LaFAM, Grad-CAM, overlay).
        .executableTarget(name: "explain-tour", dependencies: ["Lafam", "LafamImaging"], path: "Examples/ExplainTour"),

        // Fixture paths, tensor comparisons and the runner of the built executables, for the tests.
        .target(name: "LafamTestSupport", dependencies: ["LafamTensor", "LafamImaging"], path: "Tests/Support"),
        .testTarget(name: "LafamRuntimeTests", dependencies: ["LafamRuntime", "LafamTestSupport", "COpenBLAS"], path: "Tests/LafamRuntimeTests"),
        // ONNX's own backend node tests from Debian's libonnx-testdata (see SPEC.md §8).
        .testTarget(name: "ConformanceTests", dependencies: ["LafamRuntime"], path: "Tests/ConformanceTests"),
        .testTarget(name: "LafamTests", dependencies: ["Lafam", "LafamTestSupport"], path: "Tests/LafamTests"),
        .testTarget(name: "LafamImagingTests", dependencies: ["LafamImaging", "LafamTensor"], path: "Tests/LafamImagingTests"),
        // Runs the built `lafam` and `runtime-tour` executables.
        .testTarget(name: "CLITests", dependencies: ["Lafam", "LafamEvaluation", "LafamImaging", "LafamTestSupport"], path: "Tests/CLITests"),
    ]
)
