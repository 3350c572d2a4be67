import LafamGraph
import LafamTensor

/// Resize (opset 10 to 19 signatures) and its predecessor Upsample (7 to 9): nearest, linear and
/// cubic interpolation over any axes, with every coordinate transformation and nearest-rounding
/// mode of the ONNX specification, separably: one pass per resized axis.
struct Resize: Operator {
    var inputArity: ClosedRange<Int> { legacy ? 1...2 : 1...4 }

    enum Mode: String { case nearest, linear, cubic }
    let mode: Mode
    let transform: String
    let nearestMode: String
    let cubicA: Float
    let excludeOutside: Bool
    let extrapolation: Float
    let opset: Int
    /// Upsample-style signature: (X, scales) with scales as input (Upsample 9, Resize 10) or attribute (Upsample 7).
    let legacy: Bool
    let attrScales: [Float]?

    init(_ node: NodeContext, upsample: Bool) throws {
        opset = node.opset
        legacy = upsample || node.opset < 11
        let modeName = try node.string("mode", default: "nearest")
        guard let m = Mode(rawValue: modeName == "bilinear" ? "linear" : modeName) else {
            throw OpError(unsupported: "mode \"\(modeName)\" is not supported (nearest, linear, cubic)")
        }
        if legacy && m == .cubic { throw OpError("mode cubic needs Resize opset ≥ 11") }
        mode = m
        transform = legacy ? "asymmetric" : try node.require(
            "coordinate_transformation_mode",
            in: ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize", "half_pixel_symmetric"],
            default: "half_pixel")
        nearestMode = legacy ? "simple" : try node.require("nearest_mode", in: ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"], default: "round_prefer_floor")
        cubicA = try node.float("cubic_coeff_a", default: -0.75)
        excludeOutside = try node.int("exclude_outside", default: 0) != 0
        extrapolation = try node.float("extrapolation_value", default: 0)
        attrScales = upsample && node.opset < 9 ? try node.floats("scales") : nil
        if upsample && node.opset < 9 && attrScales == nil { throw OpError("attribute scales is required") }
        if try node.int("antialias", default: 0) != 0 { throw OpError(unsupported: "antialias=1 is not supported") }
        if try node.ints("axes") != nil { throw OpError(unsupported: "the axes attribute is not supported") }
        if try node.string("keep_aspect_ratio_policy", default: "stretch") != "stretch" {
            throw OpError(unsupported: "keep_aspect_ratio_policy other than stretch is not supported")
        }
    }

    /// Input positions of roi, scales and sizes for this signature.
    private var slots: (roi: Int?, scales: Int?, sizes: Int?) {
        if attrScales != nil { return (nil, nil, nil) }
        return legacy ? (nil, 1, nil) : (1, 2, 3)
    }

    /// Output sizes and per-axis scales from the scales or sizes input.
    private func plan(input: [Int], scales: [Float]?, sizes: [Int]?) throws -> (out: [Int], scales: [Float]) {
        if let sizes, !sizes.isEmpty {
            guard sizes.count == input.count, sizes.allSatisfy({ $0 >= 0 }) else { throw OpError("sizes \(sizes) must hold \(input.count) non-negative values") }
            _ = try Sizes.elementCount(sizes)
            return (sizes, zip(sizes, input).map { Float($0) / Float($1) })
        }
        guard let scales, scales.count == input.count, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw OpError("scales must hold \(input.count) positive finite values (or give sizes)")
        }
        let out = try zip(input, scales).map { try Sizes.integer((Double(Float($0) * $1)).rounded(.down), "scales \(scales) make an output too large") }
        _ = try Sizes.elementCount(out)
        return (out, scales)
    }

    private func values(_ inputs: [ValueFacts?], _ slot: Int?) -> ValueFacts? { slot.flatMap { optional(inputs, $0) } }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, [.float32], "X")
        let s = slots
        let scales = values(inputs, s.scales), sizes = values(inputs, s.sizes)
        if let scales { try expect(scales, [.float32], "scales") }
        if let sizes { try expect(sizes, [.int64], "sizes") }
        if let roi = values(inputs, s.roi) { try expect(roi, [.float32, .float64, .float16], "roi") }
        let given = attrScales ?? scales?.constant.flatMap { $0.count > 0 ? $0.floats : nil }
        let sizesKnown = sizes == nil || sizes?.constant != nil
        // Sizes computed from shapes (FCN's F.interpolate(size=input.shape[-2:])): the output's
        // dims are their elements, symbols included.
        if sizes?.constant == nil, let dims = sizes?.elements, dims.count == x.shape?.count ?? dims.count {
            return [facts(.float32, dims)]
        }
        guard let shape = x.shape?.concrete, sizesKnown, given != nil || sizes?.constant != nil else {
            return [facts(.float32, x.shape.map { $0.map { _ in .unknown } })]
        }
        let out = try plan(input: shape, scales: given, sizes: sizes?.constant?.asInts).out
        return [facts(.float32, out.map { .known($0) })]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let (outShape, taps) = try plan(inputs)
        let count = try Sizes.elementCount(outShape)
        try MemoryBudget.current.check(count: count, width: 4, for: "Resize's output of shape \(outShape)")
        guard count > 0 else { return [Tensor(uncheckedShape: outShape, floats: [])] }
        var shape = x.shape, values = x.floats
        for axis in try passOrder(shape: x.shape, outShape: outShape, taps: taps) {
            var next = shape
            next[axis] = outShape[axis]
            values = Self.interpolate(values, axis: axis, from: shape, to: next, taps: taps[axis], adjoint: false)
            shape = next
        }
        forEachOutsideCropBox(outShape: outShape, taps: taps) { values[$0] = extrapolation }
        return [Tensor(uncheckedShape: outShape, floats: values)]
    }

    /// Input indices and weights for each output position along one axis; nil marks a position
    /// outside the crop box (tf_crop_and_resize), which takes the extrapolation value.
    private func taps(inSize n: Int, outSize m: Int, scale: Float, roi: (Float, Float)?) -> [[(Int, Float)]?] {
        (0..<m).map { o in
            let x = sourceCoordinate(Float(o), inSize: n, outSize: m, scale: scale, roi: roi)
            if transform == "tf_crop_and_resize" && !(x >= 0 && x <= Float(n - 1)) { return nil }
            switch mode {
            case .nearest:
                return [(min(max(nearest(x, downsampling: scale < 1), 0), n - 1), 1)]
            case .linear:
                let f = x.rounded(.down), r = x - f
                return weighted([Int(f), Int(f) + 1], [1 - r, r], n: n)
            case .cubic:
                let f = x.rounded(.down), r = x - f, a = cubicA
                func near(_ t: Float) -> Float { ((a + 2) * t - (a + 3)) * t * t + 1 }
                func far(_ t: Float) -> Float { ((a * t - 5 * a) * t + 8 * a) * t - 4 * a }
                let i = Int(f)
                return weighted([i - 1, i, i + 1, i + 2], [far(r + 1), near(r), near(1 - r), far(2 - r)], n: n)
            }
        }
    }

    /// Clamps out-of-range taps to the border, or drops them and renormalises (exclude_outside).
    /// Taps of weight exactly 0 (every tap but one on an axis that is not resized) are dropped,
    /// so a 4-D cubic resize of H and W sums 16 terms per output, not 256.
    private func weighted(_ indices: [Int], _ weights: [Float], n: Int) -> [(Int, Float)] {
        var taps = zip(indices, weights).map { ($0, $1) }
        if excludeOutside {
            taps = taps.filter { $0.0 >= 0 && $0.0 < n }
            let total = taps.reduce(0) { $0 + $1.1 }
            taps = taps.map { ($0.0, total != 0 ? $0.1 / total : 0) }
        } else {
            taps = taps.map { (min(max($0.0, 0), n - 1), $0.1) }
        }
        let nonzero = taps.filter { $0.1 != 0 }
        return nonzero.isEmpty ? [taps.first ?? (0, 0)] : nonzero
    }

    /// The input coordinate of output position `o`. Like the specification, the resized length
    /// is `n · scale` (not rounded) in align_corners and pytorch_half_pixel.
    private func sourceCoordinate(_ o: Float, inSize n: Int, outSize m: Int, scale: Float, roi: (Float, Float)?) -> Float {
        let resized = Float(n) * scale
        switch transform {
        case "half_pixel": return (o + 0.5) / scale - 0.5
        case "half_pixel_symmetric":
            let adjustment = Float(m) / (scale * Float(n))
            let center = Float(n) / 2, offset = center * (1 - adjustment)
            return offset + (o + 0.5) / scale - 0.5
        case "pytorch_half_pixel": return resized > 1 ? (o + 0.5) / scale - 0.5 : 0
        case "align_corners": return resized == 1 ? 0 : o * Float(n - 1) / (resized - 1)
        case "tf_half_pixel_for_nn": return (o + 0.5) / scale
        case "tf_crop_and_resize":
            let (start, end) = roi!
            return m > 1 ? start * Float(n - 1) + o * (end - start) * Float(n - 1) / Float(m - 1)
                         : 0.5 * (start + end) * Float(n - 1)
        default: return o / scale
        }
    }

    private func nearest(_ x: Float, downsampling: Bool) -> Int {
        switch nearestMode {
        case "floor": return Int(x.rounded(.down))
        case "ceil": return Int(x.rounded(.up))
        case "round_prefer_ceil": return x - x.rounded(.down) == 0.5 ? Int(x.rounded(.up)) : Int(x.rounded(.toNearestOrAwayFromZero))
        case "simple": return Int(downsampling ? x.rounded(.up) : x.rounded(.towardZero))
        default: // round_prefer_floor
            return x - x.rounded(.down) == 0.5 ? Int(x.rounded(.down)) : Int(x.rounded(.toNearestOrAwayFromZero))
        }
    }

    /// The axes to interpolate, one pass each, shrinking ones first so that the intermediate
    /// tensors stay small; axes whose taps are the identity are skipped. Interpolation is separable,
    /// so a pass costs at most 4 terms per element of its result however many axes are resized
    /// (summing the tensor product of the taps per output would cost up to 4^rank).
    private func passOrder(shape: [Int], outShape: [Int], taps: [[[(Int, Float)]?]]) throws -> [Int] {
        func isIdentity(_ axis: Int) -> Bool {
            guard shape[axis] == outShape[axis] else { return false }
            for (p, t) in taps[axis].enumerated() {
                guard let t, t.count == 1, t[0].0 == p, t[0].1 == 1 else { return false }
            }
            return true
        }
        func ratio(_ axis: Int) -> Double { Double(outShape[axis]) / Double(shape[axis]) }
        let axes = (0..<shape.count).filter { !isIdentity($0) }.sorted { ratio($0) < ratio($1) }
        var intermediate = shape
        for axis in axes.dropLast() {
            intermediate[axis] = outShape[axis]
            try MemoryBudget.current.check(count: try Sizes.elementCount(intermediate), width: 4,
                                           for: "Resize's intermediate of shape \(intermediate)")
        }
        return axes
    }

    /// One pass along `axis`: `source`, of shape `from`, interpolated to shape `to` (they differ
    /// only along `axis`). With `adjoint`, the transpose: `source` has shape `to` and each value goes
    /// back to its taps, weighted, giving shape `from`. Positions outside the crop box give 0.
    private static func interpolate(_ source: [Float], axis: Int, from: [Int], to: [Int],
                                    taps: [[(Int, Float)]?], adjoint: Bool) -> [Float] {
        let blocks = from[..<axis].reduce(1, *), inner = from[(axis + 1)...].reduce(1, *)
        let n = from[axis], m = to[axis]
        let (sourceRows, resultRows) = adjoint ? (m, n) : (n, m)
        var result = [Float](repeating: 0, count: blocks * resultRows * inner)
        result.withUnsafeMutableBufferPointer { r in
            source.withUnsafeBufferPointer { s in
                for b in 0..<blocks {
                    for p in 0..<m {
                        guard let axisTaps = taps[p] else { continue }
                        for (i, w) in axisTaps {
                            let (sourceRow, resultRow) = adjoint ? (p, i) : (i, p)
                            let sourceBase = (b * sourceRows + sourceRow) * inner
                            let resultBase = (b * resultRows + resultRow) * inner
                            for k in 0..<inner { r[resultBase + k] += w * s[sourceBase + k] }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Calls `body` with the flat index of each output outside the crop box (tf_crop_and_resize):
    /// those take the extrapolation value, whatever the passes computed.
    private func forEachOutsideCropBox(outShape: [Int], taps: [[[(Int, Float)]?]], _ body: (Int) -> Void) {
        guard taps.contains(where: { $0.contains { $0 == nil } }) else { return }
        let strides = Tensor.strides(of: outShape)
        for o in 0..<Tensor.count(of: outShape) {
            if (0..<outShape.count).contains(where: { taps[$0][(o / strides[$0]) % outShape[$0]] == nil }) { body(o) }
        }
    }

    /// Per-axis taps for an input of `shape` resized per the op's inputs.
    private func plan(_ inputs: [Tensor?]) throws -> (outShape: [Int], taps: [[[(Int, Float)]?]]) {
        let x = required(inputs, 0)
        let s = slots
        let scalesInput = s.scales.flatMap { optional(inputs, $0) }
        let given = attrScales ?? scalesInput.flatMap { $0.count > 0 ? $0.floats : nil }
        let (outShape, scales) = try plan(input: x.shape, scales: given, sizes: s.sizes.flatMap { optional(inputs, $0) }?.asInts)
        let roi = s.roi.flatMap { optional(inputs, $0) }.flatMap { $0.count > 0 ? $0.asDoubles.map { Float($0) } : nil }
        if transform == "tf_crop_and_resize" {
            guard let roi, roi.count == 2 * x.rank, roi.allSatisfy({ $0.isFinite }) else {
                throw OpError("tf_crop_and_resize needs roi with \(2 * x.rank) finite values")
            }
        }
        guard try Sizes.elementCount(outShape) > 0 else { return (outShape, []) }
        guard x.count > 0 else { throw OpError("X of shape \(x.shape) is empty: it cannot be resized to \(outShape)") }
        // An axis's table holds up to 4 (index, weight) pairs per output position.
        let positions = outShape.reduce(0, +)
        try MemoryBudget.current.check(count: positions, width: 4 * MemoryLayout<(Int, Float)>.stride + 16,
                                       for: "Resize's interpolation tables for an output of shape \(outShape)")
        let axisTaps = (0..<x.rank).map { axis in
            taps(inSize: x.shape[axis], outSize: outShape[axis], scale: scales[axis], roi: roi.map { ($0[axis], $0[axis + x.rank]) })
        }
        return (outShape, axisTaps)
    }
}

extension Resize: Differentiable {
    /// The adjoint of the interpolation: each output gradient goes back to its taps, weighted.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0)
        let (outShape, taps) = try plan(inputs)
        let nothingElse = wanted.dropFirst().map { _ in Tensor?.none }
        guard g.count > 0 else { return [Tensor(uncheckedShape: x.shape, floats: [Float](repeating: 0, count: x.count))] + nothingElse }
        var values = g.floats
        forEachOutsideCropBox(outShape: outShape, taps: taps) { values[$0] = 0 }
        var shape = outShape
        for axis in try passOrder(shape: x.shape, outShape: outShape, taps: taps).reversed() {
            var previous = shape
            previous[axis] = x.shape[axis]
            values = Self.interpolate(values, axis: axis, from: previous, to: shape, taps: taps[axis], adjoint: true)
            shape = previous
        }
        return [Tensor(uncheckedShape: x.shape, floats: values)] + nothingElse
    }
}
