// Ops that make or convert small tensors for shape arithmetic: Shape, Constant,
// ConstantOfShape, Cast.

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
        let n = shape.reduce(1, *)
        switch fill.storage {
        case .float(let v): return [Tensor(shape: shape, floats: [Float](repeating: v[0], count: n))]
        case .int64(let v): return [Tensor(shape: shape, int64s: [Int64](repeating: v[0], count: n))]
        case .bool(let v): return [Tensor(shape: shape, bools: [Bool](repeating: v[0], count: n))]
        }
    }
}

/// Cast between float32, int64 and bool (other ONNX numeric targets map to these).
struct Cast: Operator {
    let to: DType

    init(_ node: NodeContext) throws {
        let code = try node.int("to", default: -1)
        switch code {
        case 1, 10, 11, 16: to = .float32
        case 2, 3, 4, 5, 6, 7, 12, 13: to = .int64
        case 9: to = .bool
        default: throw OpError(unsupported: "cast to \(onnxTypeName(code)) is not supported")
        }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        var out = facts(to, x.shape)
        if to == .int64 { out.elements = x.elements }
        return [out]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let storage: Tensor.Storage
        switch (x.storage, to) {
        case (.float(let a), .int64): storage = .int64(a.map { $0.isFinite ? Int64(clamping: Int64(exactly: $0.rounded(.towardZero)) ?? ($0 < 0 ? .min : .max)) : 0 })
        case (.float(let a), .bool): storage = .bool(a.map { $0 != 0 })
        case (.int64(let a), .float32): storage = .float(a.map { Float($0) })
        case (.int64(let a), .bool): storage = .bool(a.map { $0 != 0 })
        case (.bool(let a), .float32): storage = .float(a.map { $0 ? 1 : 0 })
        case (.bool(let a), .int64): storage = .int64(a.map { $0 ? 1 : 0 })
        default: storage = x.storage
        }
        return [Tensor(shape: x.shape, storage: storage)]
    }
}
