/// What a gradient method explains, in the terms of the model's task; for one input,
/// `Model.gradientTarget(for:input:)` makes it the autodiff's `GradientTarget`.
public enum ExplanationGoal: Sendable {
    /// A classifier's class score: the logit (or softmax probability) of `classes[b]` of the
    /// first output for image b, the top class when nil.
    case classScore(classes: [Int]?, probability: Bool)
    /// The L2 norm of an embedding output — of the vector before the normalisation when the
    /// output is L2-normalised (its own norm is 1 everywhere) —: what makes the embedding large,
    /// with no reference.
    case embeddingNorm(output: String)
    /// The cosine similarity of an embedding output to `reference` (one embedding for all
    /// images, or one per image): why the input resembles the reference.
    case similarity(output: String, reference: Tensor)
    /// A segmenter's score for class `classes[b]` summed over the pixels of image b predicted as
    /// that class (pytorch-grad-cam's SemanticSegmentationTarget), or over `region` (an `[h, w]`
    /// or `[N, h, w]` mask, values above 0.5 inside, resampled nearest to the output's grid) when
    /// given; the class covering most pixels when `classes` is nil.
    case segmentClass(output: String, classes: [Int]?, region: Tensor?)
    /// A detector's score of one detection per image (`detections[b]` for image b, decoded by
    /// `head.decode`).
    case detection(head: DetectionHead, detections: [Detection])
}

/// The gradient target for one input and what it settled: the class explained per image
/// (classifier and segmenter goals), and the embedding or pixel facts found on the way.
public struct ResolvedGoal: Sendable {
    /// What the autodiff differentiates.
    public var target: GradientTarget
    /// The class explained per image, when the goal has classes and they are known before the
    /// backward pass (a classifier's top class is found by the autodiff itself: nil here).
    public var classes: [Int]? = nil
    /// The pixels the score is summed over, per image, for a segmenter goal.
    public var pixels: [Int]? = nil
    /// Those pixels as masks on the output's grid (`[N][height · width]`, row-major), and the grid.
    public var masks: (masks: [[Bool]], height: Int, width: Int)? = nil
}

extension Model {
    /// `goal` for input `x` as a `GradientTarget`. Embedding norms and segment masks need the
    /// outputs, so those goals run `x` forward once first.
    public func gradientTarget(for goal: ExplanationGoal, input x: Tensor) throws -> ResolvedGoal {
        switch goal {
        case .classScore(let classes, let probability):
            return ResolvedGoal(target: probability ? .probability(classes: classes) : .logit(classes: classes), classes: classes)
        case .detection(let head, let detections):
            guard let k = graph.outputs.firstIndex(where: { graph.values[$0].name == head.scoresOutput }),
                  let shape = try outputShapes(forInputShape: x.shape)[k]?.concrete else {
                throw LafamError.invalidArgument("'\(head.scoresOutput)' is not an output of static shape for an input of shape \(x.shape)")
            }
            return ResolvedGoal(target: try head.target(detections, headShape: shape), classes: detections.map(\.classIndex))
        case .similarity(let output, let reference):
            return ResolvedGoal(target: .cosineSimilarity(tensor: output, reference: reference))
        case .embeddingNorm(let name):
            let v = try graph.resolveTensor(name)
            let output = graph.values[graph.normalisedVector(of: v) ?? v].name
            let y = try forwardValue(output, of: x)
            let values = try y.floatValues(), norms = try y.rowNorms()
            let d = values.count / max(norms.count, 1)
            // d‖y‖/dy = y / ‖y‖ (0 at y = 0).
            let seed = values.indices.map { i in norms[i / d] > 0 ? Float(Double(values[i]) / norms[i / d]) : 0 }
            return ResolvedGoal(target: .seeds([output: try Tensor(shape: y.shape, floats: seed)]))
        case .segmentClass(let output, let classes, let region):
            let scores = try forwardValue(output, of: x)
            guard scores.rank == 4 else {
                throw LafamError.invalidArgument("output '\(output)' has shape \(scores.shape); a segmenter's class scores are [N, C, H, W]")
            }
            let (n, c, plane) = (scores.shape[0], scores.shape[1], scores.shape[2] * scores.shape[3])
            if let classes, classes.count != 1 && classes.count != n {
                throw LafamError.invalidArgument("\(classes.count) classes for \(n) images; give one, or one per image")
            }
            let predicted = try scores.pixelClasses()
            var seed = [Float](repeating: 0, count: scores.count)
            var chosen: [Int] = [], counts: [Int] = [], masks: [[Bool]] = []
            for b in 0..<n {
                let k = classes.map { $0.count == 1 ? $0[0] : $0[b] } ?? Self.mostCovered(predicted[(b * plane)..<((b + 1) * plane)], classes: max(c, 2))
                guard k >= 0 && k < max(c, 2) && (c > 1 || k <= 1) else {
                    throw LafamError.invalidArgument("class \(k) is out of range: the segmenter has \(c == 1 ? "classes 0 (background) and 1" : "\(c) classes")")
                }
                let mask: [Bool]
                if let region {
                    guard region.rank == 2 || (region.rank == 3 && region.shape[0] == n), region.count > 0 else {
                        throw LafamError.invalidArgument("a region is an [h, w] or [\(n), h, w] mask, got shape \(region.shape)")
                    }
                    let r = try region.floatValues()
                    let (h, w) = (region.shape[region.rank - 2], region.shape[region.rank - 1])
                    let (gh, gw) = (scores.shape[2], scores.shape[3])
                    let base = region.rank == 2 ? 0 : b * h * w
                    mask = (0..<plane).map { p in r[base + ((p / gw) * h / gh) * w + (p % gw) * w / gw] > 0.5 }
                } else {
                    mask = (0..<plane).map { predicted[b * plane + $0] == k }
                }
                let count = mask.filter { $0 }.count
                guard count > 0 else {
                    throw LafamError.invalidArgument("class \(k) is predicted at no pixel of image \(b) (and no region was given): nothing to explain")
                }
                // A one-channel segmenter's score is its foreground: class 1 is it, class 0 its negation.
                let channel = c == 1 ? 0 : k, sign: Float = c == 1 && k == 0 ? -1 : 1
                for p in 0..<plane where mask[p] { seed[(b * c + channel) * plane + p] = sign }
                chosen.append(k); counts.append(count); masks.append(mask)
            }
            return ResolvedGoal(target: .seeds([output: try Tensor(shape: scores.shape, floats: seed)]), classes: chosen, pixels: counts,
                                masks: (masks, scores.shape[2], scores.shape[3]))
        }
    }

    /// The named output (or any tensor) of a forward pass of `x`.
    private func forwardValue(_ name: String, of x: Tensor) throws -> Tensor {
        let tensor = try graph.values[graph.resolveTensor(name)].name
        let r = try run(x, taps: graph.outputs.contains(try graph.resolveTensor(name)) ? [] : [tensor])
        guard let y = r.outputs[tensor] ?? r.taps[tensor] else { throw LafamError.invalidArgument("the model computed no '\(name)'") }
        return y
    }

    private static func mostCovered(_ pixels: ArraySlice<Int>, classes: Int) -> Int {
        var counts = [Int](repeating: 0, count: classes)
        for k in pixels { counts[k] += 1 }
        return counts.indices.max { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) } ?? 0
    }
}

extension Tensor {
    /// Each pixel's predicted class of segmenter scores `[N, C, H, W]`, flattened `[N·H·W]`: the
    /// arg-max over C (the first on ties), or for one channel 1 where the score is above 0.5 (a
    /// probability; above 0 when some score is outside [0, 1], a logit) and 0 elsewhere.
    public func pixelClasses() throws -> [Int] {
        guard rank == 4 else { throw TensorError("pixel classes need [N, C, H, W] scores, got shape \(shape)") }
        let (n, c, plane) = (shape[0], shape[1], shape[2] * shape[3])
        let v = try floatValues()
        var out = [Int](repeating: 0, count: n * plane)
        if c == 1 {
            let threshold: Float = v.allSatisfy { $0 >= 0 && $0 <= 1 } ? 0.5 : 0
            for i in 0..<(n * plane) { out[i] = v[i] > threshold ? 1 : 0 }
            return out
        }
        for b in 0..<n {
            for p in 0..<plane {
                var best = 0, top = v[b * c * plane + p]
                for k in 1..<c where v[(b * c + k) * plane + p] > top { best = k; top = v[(b * c + k) * plane + p] }
                out[b * plane + p] = best
            }
        }
        return out
    }
}
