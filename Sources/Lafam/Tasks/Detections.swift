/// One detection decoded from a detector's raw head: a box in input pixels, its class and score,
/// and the candidate (anchor or grid cell) it came from.
public struct Detection: Sendable, Equatable {
    /// Left, top, right and bottom edges, in pixels of the model's input.
    public var x0: Float, y0: Float, x1: Float, y1: Float
    /// The class index.
    public var classIndex: Int
    /// The class score (times the objectness, for heads that have one).
    public var score: Float
    /// The candidate's index along the head's candidates axis.
    public var candidate: Int

    /// A detection of `classIndex` with `score` at box (x0, y0, x1, y1), from `candidate`.
    public init(x0: Float, y0: Float, x1: Float, y1: Float, classIndex: Int, score: Float, candidate: Int) {
        (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1)
        self.classIndex = classIndex
        self.score = score
        self.candidate = candidate
    }

    /// Intersection over union with `other` (0 when either box is empty).
    public func iou(_ other: Detection) -> Float {
        let w = max(0, min(x1, other.x1) - max(x0, other.x0)), h = max(0, min(y1, other.y1) - max(y0, other.y0))
        let inter = w * h
        let union = (x1 - x0) * (y1 - y0) + (other.x1 - other.x0) * (other.y1 - other.y0) - inter
        return union > 0 ? inter / union : 0
    }
}

/// How a one-output detector head lays out its candidates (YOLO exports): `[N, K, A]` rows first
/// (YOLOv8: K = 4 + C rows — box centre x, y, width, height in input pixels, then the class
/// scores) or `[N, A, K]` candidates first (YOLOv5: K = 5 + C — the box, an objectness, the class
/// scores; a detection's score is objectness × class score).
public struct DetectionHead: Sendable, Equatable {
    /// The head's axis order.
    public enum Layout: String, Sendable { case rowsFirst, candidatesFirst }

    /// The output holding the head.
    public var output: String
    /// Its axis order.
    public var layout: Layout
    /// Whether a row after the box is an objectness (YOLOv5) rather than the first class score.
    public var hasObjectness: Bool

    /// A head on `output` laid out as `layout`.
    public init(output: String, layout: Layout, hasObjectness: Bool) {
        self.output = output
        self.layout = layout
        self.hasObjectness = hasObjectness
    }

    /// Rows before the class scores.
    var classOffset: Int { hasObjectness ? 5 : 4 }

    /// The detections of each image of `head` (the output's values): candidates with a box of
    /// positive size whose best class score reaches `scoreThreshold`, non-maximum suppression per class (a box overlapping a
    /// higher-scored one of its class by IoU > `iou` is dropped), the `limit` best, by score.
    public func decode(_ head: Tensor, scoreThreshold: Float = 0.25, iou: Float = 0.45, limit: Int = 100) throws -> [[Detection]] {
        guard head.rank == 3 else { throw LafamError.invalidArgument("a detector head is [N, K, A] or [N, A, K], got shape \(head.shape)") }
        let (n, k, a) = layout == .rowsFirst ? (head.shape[0], head.shape[1], head.shape[2]) : (head.shape[0], head.shape[2], head.shape[1])
        guard k > classOffset else { throw LafamError.invalidArgument("a head of \(k) rows has no class scores after \(classOffset) box rows") }
        let v = try head.floatValues()
        func value(_ b: Int, _ row: Int, _ c: Int) -> Float {
            layout == .rowsFirst ? v[(b * k + row) * a + c] : v[(b * a + c) * k + row]
        }
        return (0..<n).map { b in
            var found: [Detection] = []
            for c in 0..<a {
                var best = classOffset, top = value(b, classOffset, c)
                for row in (classOffset + 1)..<k where value(b, row, c) > top { best = row; top = value(b, row, c) }
                let score = hasObjectness ? top * value(b, 4, c) : top
                guard score >= scoreThreshold, score.isFinite else { continue }
                let (cx, cy, w, h) = (value(b, 0, c), value(b, 1, c), value(b, 2, c), value(b, 3, c))
                guard w > 0, h > 0, cx.isFinite, cy.isFinite, w.isFinite, h.isFinite else { continue }  // no box
                found.append(Detection(x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2,
                                       classIndex: best - classOffset, score: score, candidate: c))
            }
            found.sort { $0.score > $1.score || ($0.score == $1.score && $0.candidate < $1.candidate) }
            var kept: [Detection] = []
            for d in found where kept.count < limit {
                if !kept.contains(where: { $0.classIndex == d.classIndex && $0.iou(d) > iou }) { kept.append(d) }
            }
            return kept
        }
    }

    /// The gradient target of one detection per image (`detections[b]` for image b): its class
    /// score element of the head (for a head with objectness, the class score alone).
    public func target(_ detections: [Detection], headShape shape: [Int]) throws -> GradientTarget {
        guard shape.count == 3, detections.count == shape[0] else {
            throw LafamError.invalidArgument("one detection per image: \(detections.count) for a head of shape \(shape)")
        }
        let (k, a) = layout == .rowsFirst ? (shape[1], shape[2]) : (shape[2], shape[1])
        var seed = [Float](repeating: 0, count: shape.reduce(1, *))
        for (b, d) in detections.enumerated() {
            let row = classOffset + d.classIndex
            guard row < k, d.candidate < a else { throw LafamError.invalidArgument("detection \(d) is outside a head of shape \(shape)") }
            seed[layout == .rowsFirst ? (b * k + row) * a + d.candidate : (b * a + d.candidate) * k + row] = 1
        }
        return .seeds([output: try Tensor(shape: shape, floats: seed)])
    }
}

extension Model {
    /// The one-output detector head the graph has (`inferredTask` reads it as detect): rows first
    /// when its smaller non-batch axis is axis 1 (YOLOv8), candidates first otherwise (YOLOv5,
    /// read with an objectness row unless its rows are 4 + 80, COCO's classes without one);
    /// nil for other detectors (separate box and score outputs are not decoded yet).
    public var detectionHead: DetectionHead? {
        let reading = inferredTask
        guard reading.task == .detect, reading.outputs.count == 1, let info = outputs.first(where: { $0.name == reading.outputs[0] }),
              info.shape.count == 3, let s1 = info.shape[1].value, let s2 = info.shape[2].value else { return nil }
        if s1 < s2 { return DetectionHead(output: info.name, layout: .rowsFirst, hasObjectness: false) }
        return DetectionHead(output: info.name, layout: .candidatesFirst, hasObjectness: s2 != 84)
    }
}

extension Model {
    /// The feature maps where a multi-scale head branches into its box and class convs, one per
    /// scale in candidate order, with the candidates each one's grid cells give (YOLOv8n at 640:
    /// 80×80, 40×40 and 20×20 maps for candidates 0..<6400, 6400..<8000, 8000..<8400), when the
    /// grids' cells add up to the head's candidates; empty otherwise. A detection's class score
    /// depends on its own scale's map only: that is the layer that explains it.
    public var detectionScales: [(tensor: String, candidates: Range<Int>)] {
        let g = graph
        guard let head = detectionHead, let info = outputs.first(where: { $0.name == head.output }),
              let count = (head.layout == .rowsFirst ? info.shape[2] : info.shape[1]).value else { return [] }
        let consumers = g.consumers
        let branches = g.values.indices.filter { v in
            guard g.values[v].producer != nil, let s = g.values[v].facts?.shape, s.count == 4, s[2].value ?? 0 > 1, s[3].value ?? 0 > 1 else { return false }
            return consumers[v].filter { g.nodes[$0].opType == "Conv" }.count >= 2
        }
        // The last branch maps whose cells add up to the candidates, in graph order.
        var scales: [(tensor: String, candidates: Range<Int>)] = [], total = 0
        for v in branches.reversed() {
            guard let s = g.values[v].facts?.shape, let h = s[2].value, let w = s[3].value else { continue }
            total += h * w
            scales.insert((g.values[v].name, 0..<(h * w)), at: 0)
            if total >= count { break }
        }
        guard total == count else { return [] }
        var start = 0
        return scales.map { scale in
            defer { start += scale.candidates.count }
            return (scale.tensor, start..<(start + scale.candidates.count))
        }
    }
}
