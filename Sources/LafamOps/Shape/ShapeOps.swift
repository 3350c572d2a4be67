import LafamGraph
import LafamTensor

/// Shape (with opset-15 start/end). Its value is known statically when the input's
/// dimensions are, which lets whole shape subgraphs fold to constants.
struct ShapeOp: Operator {
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
        if let c = dims.concrete { return [ValueFacts(Tensor(shape: [c.count], int64s: c.map(Int64.init)))] }
        return [ValueFacts(dtype: .int64, shape: [.known(dims.count)], elements: dims)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        .perImage
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let dims = x.shape[range(x.rank)]
        return [Tensor(shape: [dims.count], int64s: dims.map(Int64.init))]
    }
}

/// Constant: the value from `value` (tensor), `value_float(s)` or `value_int(s)`.
struct ConstantOp: Operator {
    let value: Tensor

    init(_ node: NodeContext) throws {
        if let t = try node.tensor("value") { value = t }
        else if case .float(let f)? = node.attributes["value_float"] { value = .scalar(f) }
        else if case .int(let i)? = node.attributes["value_int"] { value = .scalar(Int64(i)) }
        else if let fs = try node.floats("value_floats") { value = Tensor(shape: [fs.count], floats: fs) }
        else if case .ints(let a)? = node.attributes["value_ints"] { value = Tensor(shape: [a.count], int64s: a.map(Int64.init)) }
        else { throw OpError(unsupported: "needs a value attribute (value, value_float(s) or value_int(s)); sparse and string values are not supported") }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] { [ValueFacts(value)] }
    func run(_ inputs: [Tensor?]) throws -> [Tensor] { [value] }
}

/// ConstantOfShape: a tensor of the given shape filled with `value` (default float32 0).
struct ConstantOfShape: Operator {
    let fill: Tensor

    init(_ node: NodeContext) throws {
        fill = try node.tensor("value") ?? .scalar(Float(0))
        guard fill.count == 1 else { throw OpError("value must hold one element") }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let s = try required(inputs, 0, "input")
        try expect(s, [.int64], "input")
        return [facts(fill.dtype, s.elements ?? s.shape?[0].value.map { [Dim](repeating: .unknown, count: $0) })]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let shape = required(inputs, 0).asInts
        guard shape.allSatisfy({ $0 >= 0 }) else { throw OpError("negative dimension in \(shape)") }
        return [Tensor(shape: shape, storage: fill.storage.take([Int](repeating: 0, count: shape.reduce(1, *))), dtype: fill.dtype)]
    }
}
