// The interpreter alone (`import LafamRuntime`, no explainers, no images): load an ONNX model,
// read the last Conv's activations while it runs, and take the gradient of the top class with
// respect to them.
//
//   swift run runtime-tour Models/mobilenet_v2.onnx
import Foundation
import LafamRuntime

let path = CommandLine.arguments.dropFirst().first ?? "Models/mobilenet_v2.onnx"
do {
    // Load: parse, validate, infer shapes. One thread here; every model has its own options.
    let model = try Model(path: path, options: ModelOptions(threads: 1))
    let input = model.inputs[0], output = model.outputs[0]
    print("\(path): \(input.name) \(input.shape.shapeString) → \(output.name) \(output.shape.shapeString)")

    // Any tensor can be tapped by node name; here the last Conv's output.
    guard let conv = model.graph.nodes.last(where: { $0.opType == "Conv" }) else {
        throw LafamError.invalidArgument("the model has no Conv node")
    }

    // A batch of one deterministic input of the model's shape (symbolic dimensions made 1).
    let shape = input.shape.map { $0.value ?? 1 }
    var random = SplitMix64(seed: 1)
    let x = try Tensor(shape: shape, floats: (0..<Sizes.elementCount(shape)).map { _ in random.normal() })

    // Run with a tap: the activation arrives as soon as it is computed.
    let result = try model.run(x, taps: [conv.name]) { name, value in
        print("tap \(name): \(value.shape)")
    }
    let logits = try result.outputs[output.name]!.floatValues()
    let top = logits.indices.max { logits[$0] < logits[$1] }!
    print("top class \(top), logit \(logits[top])")

    // Reverse-mode autodiff over the graph: d(top logit) / d(the tapped activation).
    let g = try model.gradients(x, target: .logit(classes: [top]), withRespectTo: [conv.name])
    let name = model.graph.values[conv.outputs[0]].name
    let gradient = try g.gradients[name]!.floatValues()
    let norm = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
    print("gradient of logit \(top) w.r.t. \(name): \(g.gradients[name]!.shape), L2 norm \(norm)")
} catch {
    FileHandle.standardError.write(Data("runtime-tour: \(error)\n".utf8))
    exit(1)
}
