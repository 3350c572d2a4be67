// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "lafam",
    products: [
        // The interpreter, the explainers and the imaging helpers, for other Swift programs.
        .library(name: "Lafam", targets: ["Lafam", "LafamImaging", "LafamEvaluation"]),
        .executable(name: "lafam", targets: ["lafam"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // protoc-c output for tools/onnx.proto (regenerate with tools/gen-proto.sh).
        .target(
            name: "CONNXProto",
            path: "Sources/CONNXProto",
            cSettings: [.unsafeFlags(["-w"])],
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        // Debian's OpenBLAS (pthread variant) CBLAS header and library.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas"),
        // glibc's <malloc.h> (mallopt), to keep freed activation buffers for reuse.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // PNG and JPEG codecs over libpng and libjpeg-turbo, with C-side error handling.
        .target(
            name: "CImageCodecs",
            path: "Sources/CImageCodecs",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]
        ),
        // Kernels built for AVX2 and FMA, called when the CPU has them (runtime check).
        .target(name: "CKernels", path: "Sources/CKernels"),
        // Format → graph → ops → runtime → explainers (folders under Sources/Lafam, in that order).
        .target(name: "Lafam", dependencies: ["CONNXProto", "COpenBLAS", "CMalloc", "CKernels"], path: "Sources/Lafam"),
        // Image decoding/encoding, preprocessing, colormaps and .npy files.
        .target(name: "LafamImaging", dependencies: ["CImageCodecs"], path: "Sources/LafamImaging"),
        // Evaluation over annotated images: datasets, metric runs, results files and summaries.
        .target(name: "LafamEvaluation", dependencies: ["Lafam", "LafamImaging"], path: "Sources/LafamEvaluation"),
        .executableTarget(
            name: "lafam",
            dependencies: ["Lafam", "LafamImaging", "LafamEvaluation", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/lafam"
        ),
        .testTarget(name: "LafamTests", dependencies: ["Lafam", "LafamImaging", "LafamEvaluation"], path: "Tests/LafamTests"),
        // ONNX's own backend node tests from Debian's libonnx-testdata (see SPEC.md §8).
        .testTarget(name: "ConformanceTests", dependencies: ["Lafam"], path: "Tests/ConformanceTests"),
        .testTarget(name: "LafamImagingTests", dependencies: ["LafamImaging"], path: "Tests/LafamImagingTests"),
    ]
)
