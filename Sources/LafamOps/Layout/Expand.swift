import LafamGraph
import LafamTensor

/// Expand to a shape with bidirectional broadcasting.
struct Expand: Operator {
    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input"), s = try required(inputs, 1, "shape")
        try expect(s, [.int64], "shape")
        guard let xs = x.shape, let target = s.elements else { return [facts(x.dtype, nil)] }
        return [facts(x.dtype, try broadcast(xs, target))]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let shape = try broadcast(required(inputs, 0).shape, required(inputs, 1).asInts)
        return [Tensor(shape: shape, storage: required(inputs, 0).storage.take(try indexMaps(inputs)[0]))]
    }
}

extension Expand: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0)
        let shape = try broadcast(x.shape, required(inputs, 1).asInts)
        return [stridedIndices(shape, strides: broadcastStrides(x.shape, to: shape), offset: 0)]
    }
}
