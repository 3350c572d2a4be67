/// One method's explanations of the same inputs by two models — a float model and its int8 or
/// float16 deployment, say — each at its own default target, with how much each image's maps
/// agree and whether the models' top classes do: "did quantization change what it looks at?".
public struct ModelComparison {
    /// The first model's explanation (B×H×W maps at the input's size).
    public let first: Explanation
    /// The second model's explanation of the same input.
    public let second: Explanation
    /// Each image's agreement of the two maps (`MapAgreement` on the input-size maps).
    public let agreements: [MapAgreement]
    /// Each image's top class by each model (their first outputs' arg-max), when both models'
    /// first outputs are `[N, C]` scores.
    public let topClasses: (first: [Int], second: [Int])?

    /// `method` run on `input` with `first` and with `second` (which must take the same input),
    /// each at its default target; a class method without given classes explains the first
    /// model's top class with both, so that both maps answer the same question. `fraction` is the
    /// share of pixels `MapAgreement.topOverlap` compares (default 10%).
    public init(_ method: SaliencyMethod, first a: Model, second b: Model, input: Tensor, fraction: Double = 0.1) throws {
        guard let ea = try method.explain(input, model: a, nodes: []).first else {
            throw LafamError.invalidArgument("\(method.name.rawValue) gave no explanation to compare")
        }
        var same = method
        switch method.target {
        case .logit(nil): same.target = .logit(classes: ea.classes)
        case .probability(nil): same.target = .probability(classes: ea.classes)
        default: break
        }
        guard let eb = try same.explain(input, model: b, nodes: []).first else {
            throw LafamError.invalidArgument("\(method.name.rawValue) gave no explanation to compare")
        }
        guard ea.maps.shape == eb.maps.shape, ea.maps.rank == 3 else {
            throw LafamError.invalidArgument("the two models' maps have shapes \(ea.maps.shape) and \(eb.maps.shape): they must take the same input")
        }
        let (images, pixels) = (ea.maps.shape[0], ea.maps.shape[1] * ea.maps.shape[2])
        let va = try ea.maps.floatValues(), vb = try eb.maps.floatValues()
        agreements = try (0..<images).map { i in
            try MapAgreement(Array(va[(i * pixels)..<((i + 1) * pixels)]), Array(vb[(i * pixels)..<((i + 1) * pixels)]), fraction: fraction)
        }
        func top(_ e: Explanation, _ m: Model) -> [Int]? {
            guard let name = m.outputs.first?.name, let scores = e.outputs[name], scores.rank == 2 else { return nil }
            return try? scores.argmax()
        }
        if let ta = top(ea, a), let tb = top(eb, b), ta.count == tb.count { topClasses = (ta, tb) } else { topClasses = nil }
        (first, second) = (ea, eb)
    }
}
