import LafamGraph
import LafamTensor

/// Tile: repeat the input `repeats[i]` times along each axis.
struct Tile: Operator {
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input"), r = try required(inputs, 1, "repeats")
        try expect(r, [.int64], "repeats")
        guard let xs = x.shape, let reps = r.constant?.asInts else { return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })] }
        guard reps.count == xs.count else { throw OpError("repeats has \(reps.count) values for rank \(xs.count)") }
        return [facts(x.dtype, zip(xs, reps).map { d, k in d.value.map { .known($0 * k) } ?? .unknown })]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), reps = required(inputs, 1).asInts
        return [Tensor(shape: zip(x.shape, reps).map { $0 * $1 }, storage: x.storage.take(try indexMaps(inputs)[0]))]
    }
}

extension Tile: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0), reps = required(inputs, 1).asInts
        guard reps.count == x.rank, reps.allSatisfy({ $0 >= 0 }) else { throw OpError("repeats \(reps) must hold \(x.rank) non-negative values") }
        let shape = zip(x.shape, reps).map { $0 * $1 }
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
