import LafamGraph
import LafamTensor

/// Reshape: the target shape comes from the second input; 0 copies the input dimension unless
/// `allowzero` (opset 14) is set, and one −1 is inferred.
struct Reshape: Operator {
    var inputArity: ClosedRange<Int> { 2...2 }

    let allowZero: Bool

    init(_ node: NodeContext) throws {
        let flag = try node.int("allowzero", default: 0)
        allowZero = node.opset >= 14 && flag != 0
        if node.opset < 5 { throw OpError(unsupported: "Reshape before opset 5 (shape as attribute) is not supported") }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data"), s = try required(inputs, 1, "shape")
        try expect(s, [.int64], "shape")
        try expectRank(s, 1, "shape")
        guard let target = s.elements else { return [facts(x.dtype, s.shape?[0].value.map { [Dim](repeating: .unknown, count: $0) })] }
        var out = facts(x.dtype, try Reshape.resolve(target, input: x.shape, allowZero: allowZero))
        // A small shape tensor keeps its (row-major) elements through any reshape (`[-1, 2]` and
        // back in torch's pad-order reversal, `[-1]` in class-token chains).
        if let e = x.elements, let dims = out.shape?.concrete, dims.reduce(1, *) == e.count { out.elements = e }
        return [out]
    }

    /// The output shape for a target with 0/−1 entries, over possibly symbolic input dims.
    static func resolve(_ target: [Dim], input: [Dim]?, allowZero: Bool) throws -> [Dim] {
        var out = target
        var inferred: Int? = nil
        for (i, d) in target.enumerated() {
            if d == .known(0) && !allowZero {
                guard let input, i < input.count else { throw OpError("shape entry \(i) is 0 but the input has no dimension \(i)") }
                out[i] = input[i]
            } else if d == .known(-1) {
                guard inferred == nil else { throw OpError("shape \(target.shapeString) has more than one -1") }
                inferred = i
            } else if let v = d.value, v < -1 {
                throw OpError("shape entry \(v) is invalid")
            }
        }
        guard let k = inferred else {
            if let input = input?.concrete, let o = out.concrete {
                let (count, target) = (try Sizes.elementCount(input), try Sizes.elementCount(o))
                guard count == target else { throw OpError("cannot reshape \(input) (\(count) elements) to \(o) (\(target))") }
            }
            return out
        }
        out[k] = .unknown
        guard let input else { return out }
        // Cancel dimensions common to both sides (symbolic batch included), then divide the rest.
        var numerator = input, others = out
        others.remove(at: k)
        for d in others where d.value == nil {
            if let j = numerator.firstIndex(of: d), d != .unknown { numerator.remove(at: j) } else { return out }
        }
        let known = others.compactMap(\.value)
        let symbolic = numerator.filter { $0.value == nil }
        let num = try Sizes.product(of: numerator.compactMap(\.value), "shape \(input.shapeString) overflows")
        let den = try Sizes.product(of: known, "shape \(target.shapeString) overflows")
        guard den != 0, num % den == 0 else {
            if symbolic.isEmpty { throw OpError("cannot reshape \(input.shapeString) to \(target.shapeString)") }
            return out
        }
        if symbolic.isEmpty { out[k] = .known(num / den) } else if symbolic.count == 1 && num == den { out[k] = symbolic[0] }
        return out
    }

    /// Moves integers unchanged: a quantized input's scale and zero point are its output's.
    func outputQuantization(_ k: Int) -> QuantizationSource? { k == 0 ? .sameAs(input: 0) : nil }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let target = required(inputs, 1).asInts.map { Dim.known($0) }
        guard let shape = try Reshape.resolve(target, input: x.shape.map { .known($0) }, allowZero: allowZero).concrete,
              try Sizes.elementCount(shape) == x.count else {
            throw OpError("cannot reshape \(x.shape) to \(target.map(\.description))")
        }
        return [x.viewed(as: shape)]
    }
}

extension Reshape: ShapeView {}

/// Flatten to 2-D at `axis`: [d0·…·d(axis−1), d(axis)·…].
struct Flatten: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    let axis: Int
    init(_ node: NodeContext) throws { axis = try node.int("axis", default: 1) }

    static func product(_ dims: ArraySlice<Dim>) throws -> Dim {
        if dims.isEmpty { return .known(1) }
        if dims.count == 1 { return dims.first! }
        guard let v = Array(dims).concrete else { return .unknown }
        return .known(try Sizes.elementCount(v))
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        guard let s = x.shape else { return [facts(x.dtype, [.unknown, .unknown])] }
        let a = axis < 0 ? axis + s.count : axis
        guard a >= 0 && a <= s.count else { throw OpError("axis \(axis) is out of range for rank \(s.count)") }
        return [facts(x.dtype, [try Flatten.product(s[..<a]), try Flatten.product(s[a...])])]
    }

    /// Moves integers unchanged: a quantized input's scale and zero point are its output's.
    func outputQuantization(_ k: Int) -> QuantizationSource? { k == 0 ? .sameAs(input: 0) : nil }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let a = axis < 0 ? axis + x.rank : axis
        let outer = x.shape[..<a].reduce(1, *)
        return [x.viewed(as: [outer, x.shape[a...].reduce(1, *)])]
    }
}

extension Flatten: ShapeView {}

/// Squeeze and Unsqueeze: axes as attribute before opset 13, as an optional input from 13.
struct SqueezeUnsqueeze: Operator {
    var inputArity: ClosedRange<Int> { axesAreInput ? 1...2 : 1...1 }

    let unsqueeze: Bool
    let attrAxes: [Int]?
    let axesAreInput: Bool

    init(_ node: NodeContext, unsqueeze: Bool) throws {
        self.unsqueeze = unsqueeze
        axesAreInput = node.opset >= 13
        attrAxes = try node.ints("axes")
        if unsqueeze && !axesAreInput && attrAxes == nil { throw OpError("attribute axes is required") }
    }

    private func axes(_ axesInput: Tensor?) -> [Int]? { axesAreInput ? axesInput?.asInts : attrAxes }

    func outputShape(_ s: [Dim], axes: [Int]?) throws -> [Dim] {
        if unsqueeze {
            guard let axes else { throw OpError("axes input is required") }
            let rank = s.count + axes.count
            let norm = Set(try axes.map { try normalizeAxis($0, rank: rank) })
            guard norm.count == axes.count else { throw OpError("axes \(axes) repeat an axis") }
            var out: [Dim] = []
            var it = s.makeIterator()
            for i in 0..<rank { out.append(norm.contains(i) ? .known(1) : it.next()!) }
            return out
        }
        guard let axes else { return s.filter { $0 != .known(1) } }
        let norm = Set(try axes.map { try normalizeAxis($0, rank: s.count) })
        for a in norm where s[a].value != nil && s[a] != .known(1) {
            throw OpError("cannot squeeze axis \(a) of size \(s[a])")
        }
        return s.enumerated().filter { !norm.contains($0.offset) }.map(\.element)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        let axesFacts = axesAreInput ? optional(inputs, 1) : nil
        if let a = axesFacts { try expect(a, [.int64], "axes") }
        guard let s = x.shape, !(axesAreInput && axesFacts != nil && axesFacts?.constant == nil) else {
            return [facts(x.dtype, nil)]
        }
        var out = facts(x.dtype, try outputShape(s, axes: axes(axesFacts?.constant)))
        // Scalars ↔ 1-element vectors in shape chains keep their symbolic element.
        if let e = x.elements, e.count == 1 { out.elements = e }
        return [out]
    }

    /// Moves integers unchanged: a quantized input's scale and zero point are its output's.
    func outputQuantization(_ k: Int) -> QuantizationSource? { k == 0 ? .sameAs(input: 0) : nil }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let shape = try outputShape(x.shape.map { .known($0) }, axes: axes(optional(inputs, 1)))
        return [x.viewed(as: shape.concrete!)]
    }
}

extension SqueezeUnsqueeze: ShapeView {}
