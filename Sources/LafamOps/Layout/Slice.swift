import LafamGraph
import LafamTensor

/// Slice: starts/ends/axes/steps as attributes (< 10) or inputs (≥ 10), numpy clamping rules.
struct Slice: Operator {
    var inputArity: ClosedRange<Int> { attributes == nil ? 3...5 : 1...1 }

    let attributes: (starts: [Int], ends: [Int], axes: [Int]?)?

    init(_ node: NodeContext) throws {
        if node.opset < 10 {
            guard let s = try node.ints("starts"), let e = try node.ints("ends") else { throw OpError("attributes starts and ends are required") }
            attributes = (s, e, try node.ints("axes"))
        } else {
            attributes = nil
        }
    }

    struct Plan { var shape: [Int]; var strides: [Int]; var offset: Int }

    /// Per-axis start, step and length after clamping.
    static func plan(shape: [Int], starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?) throws -> Plan {
        let axes = try (axes ?? Array(0..<starts.count)).map { try normalizeAxis($0, rank: shape.count) }
        let steps = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw OpError("starts, ends, axes and steps must have the same length")
        }
        guard Set(axes).count == axes.count else { throw OpError("axes \(axes) name an axis twice") }
        let base = Tensor.strides(of: shape)
        var out = shape, strides = base, offset = 0
        for (k, axis) in axes.enumerated() {
            let n = shape[axis], step = steps[k]
            guard step != 0 else { throw OpError("slice step must not be 0") }
            func clamp(_ v: Int, _ lo: Int, _ hi: Int) -> Int { min(max(v, lo), hi) }
            var s = starts[k] < 0 ? starts[k] + n : starts[k]
            var e = ends[k] < 0 ? ends[k] + n : ends[k]
            if step > 0 { s = clamp(s, 0, n); e = clamp(e, 0, n) } else { s = clamp(s, -1, n - 1); e = clamp(e, -1, n - 1) }
            // Counted without overflow for any step: the clamped span is at most n + 1.
            let span = step > 0 ? e - s : s - e, magnitude = step.magnitude
            let len = span <= 0 ? 0 : Int((UInt(span) + magnitude - 1) / magnitude)
            out[axis] = len
            // |step| ≤ n whenever two or more elements are taken, so the stride cannot overflow.
            strides[axis] = len > 1 ? base[axis] * step : base[axis]
            if len > 0 { offset += s * base[axis] }
        }
        return Plan(shape: out, strides: strides, offset: offset)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        var params: (starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?)
        if let attributes {
            params = (attributes.starts, attributes.ends, attributes.axes, nil)
        } else {
            let parts = (1...4).map { optional(inputs, $0) }
            guard parts[0] != nil, parts[1] != nil else { throw OpError("inputs starts and ends are required") }
            for p in parts.compactMap({ $0 }) { try expect(p, DType.indices, "slice parameter") }
            guard parts.allSatisfy({ $0 == nil || knownInts($0) != nil }) else {
                return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })]
            }
            params = (knownInts(parts[0])!, knownInts(parts[1])!, knownInts(parts[2]), knownInts(parts[3]))
        }
        if params.steps?.contains(0) == true { throw OpError("slice step must not be 0") }
        guard let s = x.shape else { return [facts(x.dtype, nil)] }
        // Unknown dimensions stay unknown unless they are not sliced.
        let axes = try (params.axes ?? Array(0..<params.starts.count)).map { try normalizeAxis($0, rank: s.count) }
        guard Set(axes).count == axes.count else { throw OpError("axes \(axes) name an axis twice") }
        var out = s
        if let concrete = s.concrete {
            out = try Slice.plan(shape: concrete, starts: params.starts, ends: params.ends, axes: axes, steps: params.steps).shape.map { .known($0) }
        } else {
            // Axes of known size slice as usual; a sliced symbolic or unknown axis becomes unknown.
            guard params.starts.count == axes.count, params.ends.count == axes.count,
                  params.steps == nil || params.steps?.count == axes.count else {
                throw OpError("starts, ends, axes and steps must have the same length")
            }
            for (k, a) in axes.enumerated() {
                guard let n = s[a].value else { out[a] = .unknown; continue }
                out[a] = .known(try Slice.plan(shape: [n], starts: [params.starts[k]], ends: [params.ends[k]], axes: [0],
                                               steps: params.steps.map { [$0[k]] }).shape[0])
            }
        }
        var result = facts(x.dtype, out)
        if let concrete = s.concrete, let plan = try? Slice.plan(shape: concrete, starts: params.starts, ends: params.ends, axes: axes, steps: params.steps) {
            result.elements = rearranged(x.elements, shape: s, count: plan.shape.reduce(1, *)) {
                try stridedIndices(plan.shape, strides: plan.strides, offset: plan.offset)
            }
        }
        return [result]
    }

    private func plan(_ inputs: [Tensor?]) throws -> Plan {
        let x = required(inputs, 0)
        if let attributes {
            return try Slice.plan(shape: x.shape, starts: attributes.starts, ends: attributes.ends, axes: attributes.axes, steps: nil)
        }
        return try Slice.plan(shape: x.shape, starts: required(inputs, 1).asInts, ends: required(inputs, 2).asInts,
                              axes: optional(inputs, 3)?.asInts, steps: optional(inputs, 4)?.asInts)
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        // Without axes, starts and ends apply from axis 0 on.
        guard let rank = inputs[0]?.rank else { return .mixesImages }
        let axes: [Int]?? = attributes.map { $0.axes } ?? optional(inputs, 3).map { $0.constant?.asInts }
        guard let sliced = axes ?? nil, let normalised = try? sliced.map({ try normalizeAxis($0, rank: rank) }),
              !normalised.contains(0) else { return .mixesImages }
        return firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let p = try plan(inputs)
        return [Tensor(uncheckedShape: p.shape, storage: required(inputs, 0).storage.strided(shape: p.shape, strides: p.strides, offset: p.offset))]
    }
}

extension Slice: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let p = try plan(inputs)
        return [try stridedIndices(p.shape, strides: p.strides, offset: p.offset)]
    }
}
