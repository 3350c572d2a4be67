import Foundation
import LafamGraph
import LafamTensor

/// The Reduce* family over `axes` (an attribute until the opset where it became an optional
/// input: 13 for ReduceSum, 18 for the others), with `keepdims` and `noop_with_empty_axes`.
/// Accumulates in float64.
struct Reduce: Operator {
    var inputArity: ClosedRange<Int> { axesAreInput ? 1...2 : 1...1 }

    enum Kind: String { case mean, sum, max, min, prod, l1, l2, sumSquare, logSum, logSumExp }
    let kind: Kind
    let attrAxes: [Int]?
    let axesAreInput: Bool
    let keepDims: Bool
    let noopWithEmptyAxes: Bool

    init(_ node: NodeContext, kind: Kind) throws {
        self.kind = kind
        axesAreInput = node.opset >= (kind == .sum ? 13 : 18)
        attrAxes = axesAreInput ? nil : try node.ints("axes")
        keepDims = try node.int("keepdims", default: 1) != 0
        noopWithEmptyAxes = try node.int("noop_with_empty_axes", default: 0) != 0
    }

    private func reduced(rank: Int, axes: [Int]?) throws -> Set<Int>? {
        guard let axes, !axes.isEmpty else { return noopWithEmptyAxes ? nil : Set(0..<rank) }
        return Set(try axes.map { try normalizeAxis($0, rank: rank) })
    }

    private func shape<D>(_ s: [D], _ axes: Set<Int>?, one: D) -> [D] {
        guard let axes else { return s }
        return s.enumerated().compactMap { axes.contains($0.offset) ? (keepDims ? one : nil) : $0.element }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        try expect(x, DType.floatingPoint, "data")
        let axesFacts = axesAreInput ? optional(inputs, 1) : nil
        guard let s = x.shape, axesFacts == nil || axesFacts?.constant != nil else { return [facts(x.dtype, nil)] }
        let axes = try reduced(rank: s.count, axes: axesFacts?.constant?.asInts ?? attrAxes)
        return [facts(x.dtype, shape(s, axes, one: .known(1)))]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        // All axes (no axes given) or axis 0 combine images.
        guard let rank = inputs[0]?.rank else { return .mixesImages }
        let given: [Int]?? = axesAreInput ? optional(inputs, 1).map { $0.constant?.asInts } : attrAxes.map { Optional($0) }
        if given == nil || given??.isEmpty == true { return noopWithEmptyAxes ? firstInputBatchBehaviour(carryingBatch) : .mixesImages }
        guard let axes = given ?? nil, let normalised = try? axes.map({ try normalizeAxis($0, rank: rank) }), !normalised.contains(0) else {
            return .mixesImages
        }
        return firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        guard let axes = try reduced(rank: x.rank, axes: axesAreInput ? optional(inputs, 1)?.asInts : attrAxes) else {
            // noop_with_empty_axes: the data passes through (with the elementwise part applied).
            return [result(x.shape, x.asDoubles.map { finish(step(initial, $0), count: 1) }, like: x)]
        }
        let keptShape = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var acc = [Double](repeating: initial, count: Tensor.count(of: keptShape))
        let outStrides = broadcastStrides(keptShape, to: x.shape)
        let xs = x.asDoubles
        // Walk the input once, accumulating into the kept position (stride 0 on reduced axes).
        var index = [Int](repeating: 0, count: x.rank), pos = 0
        for i in 0..<xs.count {
            acc[pos] = step(acc[pos], xs[i])
            var axis = x.rank - 1
            while axis >= 0 {
                index[axis] += 1
                pos += outStrides[axis]
                if index[axis] < x.shape[axis] { break }
                pos -= outStrides[axis] * x.shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        let n = acc.isEmpty ? 1 : xs.count / acc.count
        return [result(shape(x.shape, axes, one: 1), acc.map { finish($0, count: n) }, like: x)]
    }

    /// Float64 results in the input's storage (float64 stays, float32/16 round to float).
    private func result(_ shape: [Int], _ values: [Double], like x: Tensor) -> Tensor {
        x.dtype == .float64 ? Tensor(uncheckedShape: shape, doubles: values) : Tensor(uncheckedShape: shape, floats: values.map(Float.init))
    }

    private var initial: Double {
        switch kind {
        case .max: return -.infinity
        case .min: return .infinity
        case .prod: return 1
        default: return 0
        }
    }

    @inline(__always)
    private func step(_ a: Double, _ v: Double) -> Double {
        switch kind {
        case .mean, .sum, .logSum: return a + v
        case .max: return Swift.max(a, v)
        case .min: return Swift.min(a, v)
        case .prod: return a * v
        case .l1: return a + abs(v)
        case .l2, .sumSquare: return a + v * v
        case .logSumExp: return a + Foundation.exp(v)
        }
    }

    private func finish(_ a: Double, count: Int) -> Double {
        switch kind {
        case .mean: return a / Double(Swift.max(count, 1))
        case .l2: return a.squareRoot()
        case .logSum, .logSumExp: return Foundation.log(a)
        default: return a
        }
    }
}

extension Reduce: Differentiable {
    /// The output gradient broadcast back over the reduced axes, times ∂(reduction)/∂x.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0)
        guard let axes = try reduced(rank: x.rank, axes: axesAreInput ? optional(inputs, 1)?.asInts : attrAxes) else {
            return [g] + wanted.dropFirst().map { _ in nil }
        }
        let kept = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        let positions = try stridedIndices(x.shape, strides: broadcastStrides(kept, to: x.shape), offset: 0)
        let gs = g.floats, ys = outputs[0].floats, xs = x.floats
        let n = Float(max(1, x.count / max(1, gs.count)))
        let dx: [Float] = positions.enumerated().map { i, p in
            let (gv, y, v) = (gs[p], ys[p], xs[i])
            switch kind {
            case .mean: return gv / n
            case .sum: return gv
            case .max, .min: return v == y ? gv : 0
            case .prod: return v != 0 ? gv * y / v : 0
            case .l1: return v > 0 ? gv : (v < 0 ? -gv : 0)
            case .l2: return y != 0 ? gv * v / y : 0
            case .sumSquare: return 2 * gv * v
            case .logSum: return gv / Foundation.exp(y)
            case .logSumExp: return gv * Foundation.exp(v - y)
            }
        }
        return [Tensor(uncheckedShape: x.shape, floats: dx)] + wanted.dropFirst().map { _ in nil }
    }
}
