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

/// Where a detector's boxes and scores are, over its candidates.
///
/// A one-output YOLO head holds both: `[N, K, A]` rows first (YOLOv8: K = 4 + C rows — box centre
/// x, y, width, height in input pixels, then the class scores) or `[N, A, K]` candidates first
/// (YOLOv5: K = 5 + C — the box, an objectness, the class scores; a detection's score is
/// objectness × class score). A pair of outputs holds them apart: boxes `[N, A, 4]` (corners or
/// centre and size, in pixels or as fractions of the input) and scores `[N, A, C]` (SSD-style
/// exports with decoded boxes, DETR-style heads; `--boxes`/`--scores` on the command line). A
/// grid head holds them as maps over a fully convolutional detector's cells (MTCNN's P-Net): box
/// offsets `[N, 4, H, W]` and scores `[N, C, H, W]`; each cell is a sliding window on the input
/// (its receptive field, read from the graph), and its box is that window with each edge moved
/// by its offset times the window's size.
public struct DetectionHead: Sendable, Equatable {
    /// A one-output head's axis order.
    public enum Layout: String, Sendable { case rowsFirst, candidatesFirst }
    /// How a box's four numbers read.
    public enum BoxFormat: String, Sendable, CaseIterable {
        /// Centre x, centre y, width, height.
        case cxcywh
        /// Left, top, right, bottom.
        case xyxy
    }

    /// The output holding the boxes (and, for a one-output head, the scores).
    public var output: String
    /// A one-output head's axis order (a pair's boxes and scores are candidates first).
    public var layout: Layout
    /// Whether a row after the box is an objectness (YOLOv5) rather than the first class score.
    public var hasObjectness: Bool
    /// The separate scores output `[N, A, C]` of a pair; nil for a one-output head.
    public var scores: String?
    /// How the boxes read (a one-output YOLO head: centre and size).
    public var boxFormat: BoxFormat
    /// Whether the boxes are fractions of the input's width and height rather than pixels.
    public var normalisedBoxes: Bool
    /// A grid head's cell windows on the input; nil for other heads.
    public var cells: CellWindow?
    /// Whether score channel 0 is the background (a grid head whose scores are a softmax over
    /// channels, MTCNN's "not a face"): never a detection.
    public var hasBackground: Bool

    /// A one-output YOLO head on `output` laid out as `layout`.
    public init(output: String, layout: Layout, hasObjectness: Bool) {
        self.output = output
        self.layout = layout
        self.hasObjectness = hasObjectness
        scores = nil
        boxFormat = .cxcywh
        normalisedBoxes = false
        cells = nil
        hasBackground = false
    }

    /// A pair of outputs: `boxes` `[N, A, 4]` read as `boxFormat` (fractions of the input when
    /// `normalised`) and `scores` `[N, A, C]`.
    public init(boxes: String, scores: String, boxFormat: BoxFormat, normalised: Bool) {
        output = boxes
        layout = .candidatesFirst
        hasObjectness = false
        self.scores = scores
        self.boxFormat = boxFormat
        normalisedBoxes = normalised
        cells = nil
        hasBackground = false
    }

    /// A grid head: box offsets `offsets` `[N, 4, H, W]` and scores `scores` `[N, C, H, W]` over
    /// cells whose windows on the input are `cells`; `background` when score channel 0 is the
    /// background.
    public init(offsets: String, scores: String, cells: CellWindow, background: Bool) {
        self.init(boxes: offsets, scores: scores, boxFormat: .xyxy, normalised: false)
        self.cells = cells
        hasBackground = background
    }

    /// How lafam reads this head, in words (for `inspect` and messages).
    public var summary: String {
        if let cells, let scores {
            let window = cells.size[0] == cells.size[1] ? "\(cells.size[0])" : "\(cells.size[0])×\(cells.size[1])"
            let step = cells.stride[0] == cells.stride[1] ? "\(cells.stride[0])" : "\(cells.stride[0])×\(cells.stride[1])"
            return "grid of \(window)-pixel windows every \(step) pixels; \(output) moves each window edge by its offset × the window's size; "
                + "\(scores) holds the class scores\(hasBackground ? ", channel 0 the background" : "")"
        }
        if let scores {
            return "boxes \(output) (\(boxFormat.rawValue)\(normalisedBoxes ? ", fractions of the input" : ", pixels")) and scores \(scores)"
        }
        return "\(output), \(layout == .rowsFirst ? "rows first (YOLOv8)" : "candidates first (YOLOv5)"): centre x, y, width, height"
            + (hasObjectness ? ", an objectness, then the class scores" : ", then the class scores")
    }

    /// Rows before the class scores of a one-output head.
    var classOffset: Int { hasObjectness ? 5 : 4 }

    /// The output a detection's score is read from (and differentiated at).
    public var scoresOutput: String { scores ?? output }

    /// The number of candidates of a head whose score output has `shape`.
    func candidates(scoresShape shape: [Int]) -> Int {
        if cells != nil { return shape.count == 4 ? shape[2] * shape[3] : 0 }
        return scores == nil && layout == .rowsFirst ? shape[2] : shape[1]
    }

    /// The number of classes of a head whose score output has `shape`.
    func classCount(scoresShape shape: [Int]) -> Int {
        if cells != nil || scores != nil { return shape.count > 1 ? shape[cells != nil ? 1 : 2] : 0 }
        return (layout == .rowsFirst ? shape[1] : shape[2]) - classOffset
    }

    /// The flat index of candidate `c`'s score of class `k` in image `b`, in a scores output of `shape`.
    func scoreIndex(image b: Int, candidate c: Int, classIndex k: Int, shape: [Int]) -> Int {
        if cells != nil { return (b * shape[1] + k) * shape[2] * shape[3] + c }
        if scores != nil { return (b * shape[1] + c) * shape[2] + k }
        let row = classOffset + k
        return layout == .rowsFirst ? (b * shape[1] + row) * shape[2] + c : (b * shape[1] + c) * shape[2] + row
    }

    /// The detections of each image of a one-output head (the output's values); see
    /// `decode(_:inputSize:scoreThreshold:iou:limit:)`.
    public func decode(_ head: Tensor, scoreThreshold: Float = 0.25, iou: Float = 0.45, limit: Int = 100) throws -> [[Detection]] {
        try decode([output: head], inputSize: (1, 1), scoreThreshold: scoreThreshold, iou: iou, limit: limit)
    }

    /// The detections of each image, from the model's outputs by name: candidates with a box of
    /// positive size whose best class score reaches `scoreThreshold`, non-maximum suppression per
    /// class (a box overlapping a higher-scored one of its class by IoU > `iou` is dropped), the
    /// `limit` best, by score. Boxes come in pixels of the input (`inputSize` scales normalised ones).
    public func decode(_ outputs: [String: Tensor], inputSize: (width: Int, height: Int), scoreThreshold: Float = 0.25,
                       iou: Float = 0.45, limit: Int = 100) throws -> [[Detection]] {
        guard let main = outputs[output] else { throw LafamError.invalidArgument("the outputs hold no '\(output)'") }
        let boxes = try main.floatValues()
        let (n, a, classes): (Int, Int, Int)
        let box: (Int, Int, Int) -> Float, score: (Int, Int, Int) -> Float
        if let scoresName = scores, let cells {
            guard let scoreTensor = outputs[scoresName] else { throw LafamError.invalidArgument("the outputs hold no '\(scoresName)'") }
            guard main.rank == 4, main.shape[1] == 4, scoreTensor.rank == 4, scoreTensor.shape[0] == main.shape[0],
                  Array(scoreTensor.shape[2...]) == Array(main.shape[2...]), scoreTensor.shape[1] > (hasBackground ? 1 : 0) else {
                throw LafamError.invalidArgument("box offsets \(main.shape) and scores \(scoreTensor.shape) are not [N, 4, H, W] and [N, C, H, W] of one grid")
            }
            let v = try scoreTensor.floatValues()
            let (width, plane) = (main.shape[3], main.shape[2] * main.shape[3])
            (n, a, classes) = (main.shape[0], plane, scoreTensor.shape[1])
            box = { b, i, c in
                // Edges 0 and 2 move along x, 1 and 3 along y; 2 and 3 are the window's far edges.
                let axis = i % 2 == 0 ? 1 : 0, (y, x) = c.quotientAndRemainder(dividingBy: width)
                let start = (axis == 1 ? x : y) * cells.stride[axis] + cells.offset[axis] + (i >= 2 ? cells.size[axis] : 0)
                return Float(start) + boxes[(b * 4 + i) * plane + c] * Float(cells.size[axis])
            }
            score = { b, k, c in v[(b * classes + k) * plane + c] }
        } else if let scoresName = scores {
            guard let scoreTensor = outputs[scoresName] else { throw LafamError.invalidArgument("the outputs hold no '\(scoresName)'") }
            guard main.rank == 3, main.shape[2] == 4, scoreTensor.rank == 3, Array(scoreTensor.shape.prefix(2)) == Array(main.shape.prefix(2)),
                  scoreTensor.shape[2] > 0 else {
                throw LafamError.invalidArgument("boxes \(main.shape) and scores \(scoreTensor.shape) are not [N, A, 4] and [N, A, C] of one N and A")
            }
            let v = try scoreTensor.floatValues()
            (n, a, classes) = (main.shape[0], main.shape[1], scoreTensor.shape[2])
            box = { b, i, c in boxes[(b * a + c) * 4 + i] }
            score = { b, k, c in v[(b * a + c) * classes + k] }
        } else {
            guard main.rank == 3 else { throw LafamError.invalidArgument("a detector head is [N, K, A] or [N, A, K], got shape \(main.shape)") }
            let (rows, count) = layout == .rowsFirst ? (main.shape[1], main.shape[2]) : (main.shape[2], main.shape[1])
            guard rows > classOffset else { throw LafamError.invalidArgument("a head of \(rows) rows has no class scores after \(classOffset) box rows") }
            func value(_ b: Int, _ row: Int, _ c: Int) -> Float {
                layout == .rowsFirst ? boxes[(b * rows + row) * count + c] : boxes[(b * count + c) * rows + row]
            }
            let offset = classOffset, objectness = hasObjectness
            (n, a, classes) = (main.shape[0], count, rows - offset)
            box = value
            score = { b, k, c in objectness ? value(b, offset + k, c) * value(b, 4, c) : value(b, offset + k, c) }
        }
        let (sx, sy) = normalisedBoxes ? (Float(inputSize.width), Float(inputSize.height)) : (1, 1)
        return (0..<n).map { b in
            var found: [Detection] = []
            for c in 0..<a {
                let first = hasBackground ? 1 : 0
                var best = first, top = score(b, first, c)
                for k in (first + 1)..<max(classes, first + 1) where score(b, k, c) > top { best = k; top = score(b, k, c) }
                guard top >= scoreThreshold, top.isFinite else { continue }
                let (p, q, r, t) = (box(b, 0, c) * sx, box(b, 1, c) * sy, box(b, 2, c) * sx, box(b, 3, c) * sy)
                let (x0, y0, x1, y1) = boxFormat == .cxcywh ? (p - r / 2, q - t / 2, p + r / 2, q + t / 2) : (p, q, r, t)
                guard x1 > x0, y1 > y0, x0.isFinite, y0.isFinite, x1.isFinite, y1.isFinite else { continue }  // no box
                found.append(Detection(x0: x0, y0: y0, x1: x1, y1: y1, classIndex: best, score: top, candidate: c))
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
    /// score element of the scores output, of shape `shape` (for a head with objectness, the class
    /// score alone).
    public func target(_ detections: [Detection], headShape shape: [Int]) throws -> GradientTarget {
        guard shape.count == (cells != nil ? 4 : 3), detections.count == shape[0] else {
            throw LafamError.invalidArgument("one detection per image: \(detections.count) for a head of shape \(shape)")
        }
        let classes = classCount(scoresShape: shape)
        var seed = [Float](repeating: 0, count: shape.reduce(1, *))
        for (b, d) in detections.enumerated() {
            guard (0..<classes).contains(d.classIndex), (0..<candidates(scoresShape: shape)).contains(d.candidate) else {
                throw LafamError.invalidArgument("detection \(d) is outside a head of shape \(shape)")
            }
            seed[scoreIndex(image: b, candidate: d.candidate, classIndex: d.classIndex, shape: shape)] = 1
        }
        return .seeds([scoresOutput: try Tensor(shape: shape, floats: seed)])
    }
}

extension Model {
    /// The detector head the graph has (`inferredTask` reads it as detect) that lafam decodes by
    /// itself:
    /// - one output: rows first when its smaller non-batch axis is axis 1 (YOLOv8), candidates
    ///   first otherwise (YOLOv5, read with an objectness row unless its rows are 4 + 80, COCO's
    ///   classes without one);
    /// - a grid (box offsets and scores as maps, MTCNN's P-Net), when every op from the input to
    ///   the scores declares its window, so each cell's window is known; channel 0 is the
    ///   background when the scores are a softmax over channels.
    ///
    /// Nil for other detectors: boxes and scores as two `[N, A, …]` outputs are decoded when
    /// named (`DetectionHead(boxes:scores:boxFormat:normalised:)`), as their box format is not in
    /// the graph.
    public var detectionHead: DetectionHead? {
        let reading = inferredTask
        guard reading.task == .detect else { return nil }
        let g = graph
        if reading.outputs.count == 2, let offsets = g.valueIndex[reading.outputs[0]], let scores = g.valueIndex[reading.outputs[1]],
           g.values[offsets].facts?.shape?.count == 4, let cells = g.cellWindow(of: scores), g.cellWindow(of: offsets) != nil {
            let background = g.values[scores].producer.map { g.nodes[$0].opType == "Softmax" } ?? false
            return DetectionHead(offsets: reading.outputs[0], scores: reading.outputs[1], cells: cells, background: background)
        }
        guard reading.outputs.count == 1, let info = outputs.first(where: { $0.name == reading.outputs[0] }),
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
        detectionHead.map(detectionScales(for:)) ?? []
    }

    /// `detectionScales` for a given head (such as a pair named on the command line).
    public func detectionScales(for head: DetectionHead) -> [(tensor: String, candidates: Range<Int>)] {
        let g = graph
        guard let info = outputs.first(where: { $0.name == head.scoresOutput }), info.shape.count == 3,
              let count = (head.scores == nil && head.layout == .rowsFirst ? info.shape[2] : info.shape[1]).value else { return [] }
        let consumers = g.consumers
        let branches = g.values.indices.filter { v in
            guard g.values[v].producer != nil, let s = g.values[v].facts?.shape, s.count == 4, s[2].value ?? 0 > 1, s[3].value ?? 0 > 1 else { return false }
            return g.isHeadBranch(v, consumers: consumers)
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

extension Graph {
    /// True when two or more Convs read `v`: where a detector's head splits into its box and
    /// class branches.
    func isHeadBranch(_ v: Int, consumers: [[Int]]) -> Bool {
        consumers[v].filter { nodes[$0].opType == "Conv" }.count >= 2
    }
}
