// Shared checks and shape arithmetic for the op implementations.

import LafamGraph
import LafamTensor

/// The input at `i`, or an error naming it when a required input is missing.
func required(_ inputs: [ValueFacts?], _ i: Int, _ what: String) throws -> ValueFacts {
    guard i < inputs.count, let f = inputs[i] else { throw OpError("missing required input \(i) (\(what))") }
    return f
}

func required(_ inputs: [Tensor?], _ i: Int) -> Tensor {
    guard i < inputs.count, let t = inputs[i] else { preconditionFailure("input \(i) was checked as present") }
    return t
}

func optional(_ inputs: [ValueFacts?], _ i: Int) -> ValueFacts? { i < inputs.count ? inputs[i] : nil }
func optional(_ inputs: [Tensor?], _ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }

func expect(_ f: ValueFacts, _ types: Set<DType>, _ what: String) throws {
    guard types.contains(f.dtype) else {
        let names = types.map(\.rawValue).sorted().joined(separator: " or ")
        // Another number type where the op takes float32 is valid ONNX that lafam does not compute.
        if types.contains(.float32), DType.numeric.contains(f.dtype) {
            throw OpError(unsupported: "\(what) is \(f.dtype); lafam implements this op for \(names)")
        }
        throw OpError("\(what) must be \(names), got \(f.dtype)")
    }
}

func expectRank(_ f: ValueFacts, _ rank: Int, _ what: String) throws {
    if let r = f.rank, r != rank { throw OpError("\(what) must have rank \(rank), got rank \(r) \(f.shape!.shapeString)") }
}

/// Resolves a possibly negative axis against a rank.
func normalizeAxis(_ axis: Int, rank: Int, _ what: String = "axis") throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0, a < rank else { throw OpError("\(what) \(axis) is out of range for rank \(rank)") }
    return a
}

/// numpy broadcasting of two static shapes (dims may be symbolic).
func broadcast(_ a: [Dim], _ b: [Dim]) throws -> [Dim] {
    let r = max(a.count, b.count)
    var out = [Dim](repeating: .unknown, count: r)
    for i in 0..<r {
        let x = i < r - a.count ? Dim.known(1) : a[i - (r - a.count)]
        let y = i < r - b.count ? Dim.known(1) : b[i - (r - b.count)]
        switch (x, y) {
        case (.known(1), _): out[i] = y
        case (_, .known(1)): out[i] = x
        case let (.known(p), .known(q)):
            guard p == q else { throw OpError("shapes \(a.shapeString) and \(b.shapeString) do not broadcast") }
            out[i] = x
        case (.known, _): out[i] = x
        case (_, .known): out[i] = y
        default: out[i] = x == y ? x : .unknown
        }
    }
    return out
}

func broadcast(_ a: [Int], _ b: [Int]) throws -> [Int] {
    try broadcast(a.map { .known($0) }, b.map { .known($0) }).map { $0.value! }
}

/// Row-major strides of `shape` aligned right to an output of rank `rank`, with 0 stride on
/// broadcast (size-1 or missing) axes.
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let own = Tensor.strides(of: shape)
    var s = [Int](repeating: 0, count: out.count)
    let offset = out.count - shape.count
    for i in 0..<shape.count where shape[i] != 1 { s[i + offset] = own[i] }
    return s
}

/// Output facts with only a shape known (no contents).
func facts(_ dtype: DType, _ shape: [Dim]?) -> ValueFacts { ValueFacts(dtype: dtype, shape: shape) }

/// The integers a value is known to hold before running: a constant's, or a shape vector's
/// elements when every one is known (a chain from `Shape` of a tensor with a symbolic batch
/// that picks only known dimensions is not folded, yet its values are known).
func knownInts(_ f: ValueFacts?) -> [Int]? {
    guard let f else { return nil }
    if let c = f.constant { return c.asInts }
    guard let e = f.elements, e.allSatisfy({ $0.value != nil }) else { return nil }
    return e.map { $0.value! }
}

/// Shape-vector elements rearranged like the tensor they belong to (`ValueFacts.elements` of a
/// small int64 tensor of concrete `shape`): the element at each flat index of `indices`.
func rearranged(_ elements: [Dim]?, shape: [Dim]?, count: Int, _ indices: () throws -> [Int]) -> [Dim]? {
    guard let elements, let dims = shape?.concrete, dims.reduce(1, *) == elements.count, elements.count <= 64,
          let picks = try? indices(), picks.count == count, picks.allSatisfy({ $0 >= 0 && $0 < elements.count }) else { return nil }
    return picks.map { elements[$0] }
}

/// The batch behaviour of an op that broadcasts its inputs elementwise (numpy rules): per image
/// when every input that carries the batch has the output's rank, so its axis 0 is the
/// output's; an input of lower rank would align its batch with another axis.
func elementwiseBatchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
    let rank = inputs.compactMap { $0?.rank }.max()
    for (k, carries) in carryingBatch.enumerated() where carries {
        guard let r = inputs[k]?.rank, r == rank else { return .mixesImages }
    }
    return .perImage
}

/// The batch behaviour of an op that computes each image from its first input alone (the other
/// inputs are parameters): per image unless a parameter carries the batch.
func firstInputBatchBehaviour(_ carryingBatch: [Bool]) -> BatchBehaviour {
    carryingBatch.dropFirst().contains(true) ? .mixesImages : .perImage
}

/// The batch behaviour of an op that works along `axis` of its first input (a softmax, a split,
/// a gather, …) and takes its other inputs as parameters: per image unless that axis is axis 0.
func alongAxisBatchBehaviour(_ axis: Int, _ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
    guard let rank = inputs.first??.rank, let a = try? normalizeAxis(axis, rank: rank), a >= 1 else { return .mixesImages }
    return firstInputBatchBehaviour(carryingBatch)
}
