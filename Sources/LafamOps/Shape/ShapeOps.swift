import LafamGraph
import LafamTensor

/// Shape (with opset-15 start/end). Its value is known statically when the input's
/// dimensions are, which lets whole shape subgraphs fold to constants.
struct ShapeOp: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    let start: Int, end: Int?

    init(_ node: NodeContext) throws {
        start = node.opset >= 15 ? try node.int("start", default: 0) : 0
        end = node.opset >= 15 ? try node.ints("end")?.first : nil
    }

    private func range(_ rank: Int) -> Range<Int> {
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
        let s = clamp(start), e = clamp(end ?? rank)
        return s..<max(s, e)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        guard let s = x.shape else { return [facts(.int64, [.unknown])] }
        let dims = Array(s[range(s.count)])
        if let c = dims.concrete { return [ValueFacts(Tensor(uncheckedShape: [c.count], int64s: c.map(Int64.init)))] }
        return [ValueFacts(dtype: .int64, shape: [.known(dims.count)], elements: dims)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        .perImage
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let dims = x.shape[range(x.rank)]
        return [Tensor(uncheckedShape: [dims.count], int64s: dims.map(Int64.init))]
    }
}

/// Constant: the value from `value` (tensor), `value_float(s)` or `value_int(s)`.
struct ConstantOp: Operator {
    var inputArity: ClosedRange<Int> { 0...0 }

    let value: Tensor

    init(_ node: NodeContext) throws {
        if let t = try node.tensor("value") { value = t }
        else if case .float(let f)? = node.attributes["value_float"] { value = .scalar(f) }
        else if case .int(let i)? = node.attributes["value_int"] { value = .scalar(Int64(i)) }
        else if let fs = try node.floats("value_floats") { value = Tensor(uncheckedShape: [fs.count], floats: fs) }
        else if case .ints(let a)? = node.attributes["value_ints"] { value = Tensor(uncheckedShape: [a.count], int64s: a.map(Int64.init)) }
        else { throw OpError(unsupported: "needs a value attribute (value, value_float(s) or value_int(s)); sparse and string values are not supported") }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] { [ValueFacts(value)] }
    func run(_ inputs: [Tensor?]) throws -> [Tensor] { [value] }
}

/// ConstantOfShape: a tensor of the given shape filled with `value` (default float32 0).
struct ConstantOfShape: Operator {
    var inputArity: ClosedRange<Int> { 1...1 }

    let fill: Tensor

    init(_ node: NodeContext) throws {
        fill = try node.tensor("value") ?? .scalar(Float(0))
        guard fill.count == 1 else { throw OpError("value must hold one element") }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let s = try required(inputs, 0, "input")
        try expect(s, [.int64], "input")
        if let known = s.elements?.compactMap(\.value) { _ = try Sizes.elementCount(known) }
        return [facts(fill.dtype, s.elements ?? s.shape?[0].value.map { [Dim](repeating: .unknown, count: $0) })]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let shape = required(inputs, 0).asInts
        let count = try Sizes.elementCount(shape)
        try MemoryBudget.current.check(count: count, width: fill.dtype.storageWidth, for: "ConstantOfShape's output of shape \(shape)")
        return [Tensor(uncheckedShape: shape, storage: fill.storage.repeatingFirst(count: count), dtype: fill.dtype)]
    }
}
