import LafamGraph
import LafamTensor

/// Expand to a shape with bidirectional broadcasting.
struct Expand: Operator {
    var inputArity: ClosedRange<Int> { 2...2 }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input"), s = try required(inputs, 1, "shape")
        try expect(s, [.int64], "shape")
        guard let xs = x.shape, let target = s.elements else { return [facts(x.dtype, nil)] }
        if target.contains(where: { ($0.value ?? 0) < 0 }) { throw OpError("shape \(target.shapeString) has a negative dimension") }
        let out = try broadcast(xs, target)
        if let shape = out.concrete { _ = try Sizes.elementCount(shape) }
        return [facts(x.dtype, out)]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let shape = try outputShape(x, required(inputs, 1).asInts)
        try MemoryBudget.current.check(count: try Sizes.elementCount(shape), width: x.dtype.storageWidth, for: "Expand's output of shape \(shape)")
        return [Tensor(uncheckedShape: shape, storage: x.storage.strided(shape: shape, strides: broadcastStrides(x.shape, to: shape), offset: 0))]
    }

    private func outputShape(_ x: Tensor, _ target: [Int]) throws -> [Int] {
        guard target.allSatisfy({ $0 >= 0 }) else { throw OpError("shape \(target) has a negative dimension") }
        let shape = try broadcast(x.shape, target)
        _ = try Sizes.elementCount(shape)
        return shape
    }
}

extension Expand: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0)
        let shape = try outputShape(x, required(inputs, 1).asInts)
        return [try stridedIndices(shape, strides: broadcastStrides(x.shape, to: shape), offset: 0)]
    }
}
