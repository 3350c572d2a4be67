// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for lafam. A package of its own so that the root package neither builds nor
// knows about it. Build and run with `tools/fuzz/run.sh` from the repository root, which passes
// `-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library` (libFuzzer supplies `main`; each
// target defines `LLVMFuzzerTestOneInput`) and builds the C targets with ASan and UBSan.
let package = Package(
    name: "LafamFuzz",
    dependencies: [
        .package(name: "lafam", path: ".."),
    ],
    targets: [
        // `<Target>_main` for each target below: starts libFuzzer's driver (see entry.c for why).
        .target(name: "FuzzEntry"),
        // ONNX bytes → ONNXReader.parse → GraphBuilder.build (standard registry).
        .executableTarget(
            name: "FuzzONNXLoad",
            dependencies: ["FuzzEntry", .product(name: "LafamRuntime", package: "lafam")]
        ),
        // ONNX bytes → Model(data:) → run on small deterministic inputs → one gradient.
        .executableTarget(
            name: "FuzzModelRun",
            dependencies: ["FuzzEntry", .product(name: "LafamRuntime", package: "lafam")]
        ),
        // PNG/JPEG bytes → ImageIO.decode.
        .executableTarget(
            name: "FuzzImageDecode",
            dependencies: ["FuzzEntry", .product(name: "Lafam", package: "lafam")]
        ),
        // .npy bytes → NPYArray.decode → Tensor(array).
        .executableTarget(
            name: "FuzzNPYDecode",
            dependencies: ["FuzzEntry", .product(name: "Lafam", package: "lafam")]
        ),
    ]
)
