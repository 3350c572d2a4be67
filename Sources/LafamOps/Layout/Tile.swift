import LafamGraph
import LafamTensor

/// Tile: repeat the input `repeats[i]` times along each axis.
struct Tile: Operator {
    var inputArity: ClosedRange<Int> { 2...2 }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input"), r = try required(inputs, 1, "repeats")
        try expect(r, [.int64], "repeats")
        guard let xs = x.shape, let reps = r.constant?.asInts else { return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })] }
        guard reps.count == xs.count, reps.allSatisfy({ $0 >= 0 }) else {
            throw OpError("repeats \(reps) must hold \(xs.count) non-negative values")
        }
        let out: [Dim] = try zip(xs, reps).map { d, k in try d.value.map { .known(try Sizes.product($0, k, "tiling \(xs.shapeString) by \(reps) overflows")) } ?? .unknown }
        if let shape = out.concrete { _ = try Sizes.elementCount(shape) }
        return [facts(x.dtype, out)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        return [Tensor(uncheckedShape: try outputShape(x, required(inputs, 1).asInts), storage: x.storage.take(try indexMaps(inputs)[0]))]
    }

    /// The tiled shape, its size held to the memory budget with the index map that fills it.
    private func outputShape(_ x: Tensor, _ reps: [Int]) throws -> [Int] {
        guard reps.count == x.rank, reps.allSatisfy({ $0 >= 0 }) else { throw OpError("repeats \(reps) must hold \(x.rank) non-negative values") }
        let shape = try zip(x.shape, reps).map { try Sizes.product($0, $1, "tiling \(x.shape) by \(reps) overflows") }
        try MemoryBudget.current.check(count: try Sizes.elementCount(shape), width: x.dtype.storageWidth + 8, for: "Tile's output of shape \(shape)")
        return shape
    }
}

extension Tile: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0)
        let shape = try outputShape(x, required(inputs, 1).asInts)
        let strides = Tensor.strides(of: x.shape)
        var flat = [Int](repeating: 0, count: Tensor.count(of: shape))
        var index = [Int](repeating: 0, count: shape.count)
        for o in flat.indices {
            var rest = o, src = 0
            for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                index[axis] = rest % shape[axis]
                rest /= shape[axis]
                src += (index[axis] % x.shape[axis]) * strides[axis]
            }
            flat[o] = src
        }
        return [flat]
    }
}
