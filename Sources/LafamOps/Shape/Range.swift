import LafamGraph
import LafamTensor

/// Range(start, limit, delta) of numeric scalars, all of one type.
struct RangeOp: Operator {
    var inputArity: ClosedRange<Int> { 3...3 }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let start = try required(inputs, 0, "start")
        for i in 1...2 { guard try required(inputs, i, "limit/delta").dtype == start.dtype else { throw OpError("start, limit and delta must share a type") } }
        try expect(start, DType.numeric, "start")
        for i in 0...2 where (inputs[i]?.shape?.concrete).map({ (try? Sizes.elementCount($0)) != 1 }) ?? false {
            throw OpError("\(["start", "limit", "delta"][i]) must be a scalar")
        }
        return [facts(start.dtype, [.unknown])]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let (s, l, d) = (required(inputs, 0), required(inputs, 1), required(inputs, 2))
        guard s.count == 1, l.count == 1, d.count == 1 else { throw OpError("start, limit and delta must be scalars") }
        /// ⌈(limit − start) / delta⌉ elements (none when negative), held to the memory budget.
        func count<T: BinaryFloatingPoint>(_ a: T, _ b: T, _ c: T) throws -> Int {
            guard c != 0 else { throw OpError("delta must not be 0") }
            let n = Double((b - a) / c).rounded(.up)
            guard !n.isNaN else { throw OpError("start \(a), limit \(b) and delta \(c) do not make a range (NaN)") }
            let elements = n <= 0 ? 0 : try Sizes.integer(n, "a range of \(n) elements is too long")
            try MemoryBudget.current.check(count: elements, width: s.dtype.storageWidth, for: "Range's output of \(elements) elements")
            return elements
        }
        switch s.storage {
        case .int64(let a):
            let (a, b, c) = (a[0], l.int64s[0], d.int64s[0])
            let n = try count(Double(a), Double(b), Double(c))
            return [Tensor(uncheckedShape: [n], int64s: (0..<n).map { a &+ Int64($0) &* c })]
        case .double(let a):
            let (a, c) = (a[0], d.doubles[0])
            let n = try count(a, l.doubles[0], c)
            return [Tensor(uncheckedShape: [n], doubles: (0..<n).map { a + Double($0) * c })]
        default:
            let (a, c) = (s.floats[0], d.floats[0])
            let n = try count(a, l.floats[0], c)
            return [Tensor(uncheckedShape: [n], floats: (0..<n).map { a + Float($0) * c })]
        }
    }
}
