// Explain a photo with the library (`import Lafam` and `import LafamImaging`): load a model, list
// its conv nodes, tap one while the model runs, and draw LaFAM and Grad-CAM maps over the part of
// the photo the model saw.
//
//   swift run explain-tour Models/mobilenet_v2.onnx Models/samples/coffee.jpg explain-tour-output
import Foundation
import Lafam
import LafamImaging

let arguments = Array(CommandLine.arguments.dropFirst())
let modelPath = arguments.count > 0 ? arguments[0] : "Models/mobilenet_v2.onnx"
let photoPath = arguments.count > 1 ? arguments[1] : "Models/samples/coffee.jpg"
let folder = arguments.count > 2 ? arguments[2] : "explain-tour-output"
do {
    // Load: parse, validate, infer shapes. Options (threads, memory budget) belong to this model.
    let model = try Model(path: modelPath, options: ModelOptions(threads: 1))

    // The conv nodes with their static output shapes: the layers one can explain.
    let convs = model.graph.nodes.filter { $0.opType == "Conv" }
    for node in convs.suffix(3) {
        let shape = model.graph.values[node.outputs[0]].facts?.shape
        print("conv \(node.name) → \(shape?.shapeString ?? "?")")
    }

    // The photo as the model's input: centre crop, resize to 224, ImageNet mean and std.
    let photo = try ImageIO.readImage(path: photoPath)
    let preprocessing = Preprocessing(width: 224, height: 224)
    let input = try preprocessing.tensor(photo)

    // Run with a tap on the last conv; name the top class.
    guard let lastConv = convs.last?.name else { throw LafamError.invalidArgument("the model has no Conv node") }
    let result = try model.run(input, taps: [lastConv])
    let scores = result.outputs[model.outputs[0].name]!
    let top = try scores.topK(1)[0][0]
    let labels = ClassLabels.of(model, classes: scores.shape[1])
    print("top class \(labels?.name(top.index) ?? "class \(top.index)") (\(top.index)), p = \(top.probability)")
    for (name, activation) in result.taps { print("tap \(name): \(activation.shape)") }

    // LaFAM (label-free) and Grad-CAM (for the top class) at the default target layer.
    let lafam = try LaFAM().explain(input, model: model, target: nil)
    let gradcam = try GradCAM(.gradcam, target: .logit(classes: [top.index])).explain(input, model: model, target: nil)

    // Each map over the part of the photo the model saw: the centre crop, not the whole photo.
    let region = try preprocessing.visibleRegion(of: photo)
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    for (name, explanation) in [("lafam", lafam), ("gradcam", gradcam)] {
        let map = try explanation.maps.batchItem(0)
        let picture = try overlay(map: try map.floatValues(), mapWidth: map.shape[2], mapHeight: map.shape[1],
                                  on: region, colormap: .turbo)
        try ImageIO.write(picture, to: "\(folder)/\(name).png")
        print("\(name) at \(explanation.targetTensor) → \(folder)/\(name).png")
    }
} catch {
    FileHandle.standardError.write(Data("explain-tour: \(error)\n".utf8))
    exit(1)
}
