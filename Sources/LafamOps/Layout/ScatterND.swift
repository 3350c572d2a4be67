import LafamGraph
import LafamTensor

/// ScatterND (opsets 11, 13, 16, 18): a copy of `data` in which the slices that the last axis of
/// `indices` addresses are replaced by `updates` or, with `reduction` (16+), combined with them
/// (add, mul, max, min). Slices are applied in index order, so with `none` a repeated index keeps
/// the last update (the specification leaves it undefined; onnxruntime does the same).
struct ScatterND: Operator {
    var inputArity: ClosedRange<Int> { 3...3 }

    let reduction: String

    init(_ node: NodeContext) throws {
        reduction = try node.require("reduction", in: ["none", "add", "mul", "max", "min"], default: "none")
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let data = try required(inputs, 0, "data"), indices = try required(inputs, 1, "indices")
        let updates = try required(inputs, 2, "updates")
        try expect(indices, [.int64], "indices")
        guard updates.dtype == data.dtype else { throw OpError("updates are \(updates.dtype) but data is \(data.dtype)") }
        if reduction != "none" { try expect(data, DType.numeric, "data") }
        if let d = data.shape, let i = indices.shape, let u = updates.shape {
            guard let k = i.last?.value else { return [facts(data.dtype, d)] }
            guard !i.isEmpty, k >= 1, k <= d.count else {
                throw OpError("indices of shape \(i.shapeString) address \(k) axes of data of rank \(d.count)")
            }
            let expected = Array(i.dropLast()) + Array(d[k...])
            guard expected.count == u.count, zip(expected, u).allSatisfy({ $0.value == nil || $1.value == nil || $0 == $1 }) else {
                throw OpError("updates have shape \(u.shapeString); indices \(i.shapeString) and data \(d.shapeString) need \(expected.shapeString)")
            }
        }
        return [facts(data.dtype, data.shape)]
    }

    /// For each index tuple (the last axis of `indices`), the flat offset of its slice in `data`,
    /// and the slice's length.
    private func slices(_ inputs: [Tensor?]) throws -> (offsets: [Int], length: Int) {
        let data = required(inputs, 0), indices = required(inputs, 1), updates = required(inputs, 2)
        guard let k = indices.shape.last, indices.rank >= 1, k >= 1, k <= data.rank else {
            throw OpError("indices of shape \(indices.shape) do not address data of shape \(data.shape)")
        }
        let expected = Array(indices.shape.dropLast()) + Array(data.shape[k...])
        guard updates.shape == expected else {
            throw OpError("updates have shape \(updates.shape); indices \(indices.shape) and data \(data.shape) need \(expected)")
        }
        let strides = Tensor.strides(of: data.shape)
        let values = indices.asInts
        let offsets = try stride(from: 0, to: values.count, by: k).map { start -> Int in
            try (0..<k).reduce(0) { offset, axis in
                let n = data.shape[axis], i = values[start + axis]
                let j = i < 0 ? i + n : i
                guard j >= 0, j < n else { throw OpError("index \(i) is out of range for axis \(axis) of size \(n)") }
                return offset + j * strides[axis]
            }
        }
        return (offsets, data.shape[k...].reduce(1, *))
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let data = required(inputs, 0), updates = required(inputs, 2)
        let (offsets, length) = try slices(inputs)
        func scatter<T>(_ d: [T], _ u: [T], _ combine: (T, T) -> T) -> [T] {
            var out = d
            for (t, offset) in offsets.enumerated() {
                for e in 0..<length { out[offset + e] = combine(out[offset + e], u[t * length + e]) }
            }
            return out
        }
        func numeric<T: Comparable & Numeric>(_ d: [T], _ u: [T]) -> [T] {
            switch reduction {
            case "add": return scatter(d, u, +)
            case "mul": return scatter(d, u, *)
            case "max": return scatter(d, u) { Swift.max($0, $1) }
            case "min": return scatter(d, u) { Swift.min($0, $1) }
            default: return scatter(d, u) { $1 }
            }
        }
        let storage: Tensor.Storage
        switch (data.storage, updates.storage) {
        case let (.float(d), .float(u)): storage = .float(numeric(d, u))
        case let (.double(d), .double(u)): storage = .double(numeric(d, u))
        case let (.int64(d), .int64(u)) where reduction != "add" && reduction != "mul": storage = .int64(numeric(d, u))
        case let (.int64(d), .int64(u)): storage = .int64(scatter(d, u, reduction == "add" ? (&+) : (&*)))
        case let (.bool(d), .bool(u)) where reduction == "none": storage = .bool(scatter(d, u) { $1 })
        case let (.string(d), .string(u)) where reduction == "none": storage = .string(scatter(d, u) { $1 })
        default: throw OpError("reduction \(reduction) is not defined for \(data.dtype)")
        }
        return [Tensor(uncheckedShape: data.shape, storage: storage, dtype: data.dtype)]
    }
}

extension ScatterND: Differentiable {
    /// With `none`, data's gradient is the output's with the replaced slices zeroed and the
    /// updates' is the output's at those slices (of a repeated index, only the last one, which
    /// won); with `add`, both pass the output's gradient through.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        guard reduction == "none" || reduction == "add" else {
            throw OpError(unsupported: "the gradient of ScatterND with reduction \(reduction) is not implemented")
        }
        let (offsets, length) = try slices(inputs)
        let gv = g.floats
        var dData = gv, dUpdates = [Float](repeating: 0, count: offsets.count * length)
        var winner = [Int: Int]()
        for (t, offset) in offsets.enumerated() { winner[offset] = t }
        for (t, offset) in offsets.enumerated() where reduction == "add" || winner[offset] == t {
            for e in 0..<length { dUpdates[t * length + e] = gv[offset + e] }
        }
        if reduction == "none" {
            for offset in offsets { for e in 0..<length { dData[offset + e] = 0 } }
        }
        let updates = required(inputs, 2)
        return [wanted[0] ? Tensor(uncheckedShape: g.shape, floats: dData) : nil, nil,
                wanted[2] ? Tensor(uncheckedShape: updates.shape, floats: dUpdates) : nil]
    }
}
