// Ops that only rearrange elements, for any element type: Reshape, Flatten, Squeeze, Unsqueeze,
// Transpose, Concat, Split, Slice, Gather, Pad. Views (Reshape & co.) share storage.

extension Tensor.Storage {
    /// Elements at the given flat source indices; a negative index yields `fill`.
    func take(_ indices: [Int], fill: Double = 0) -> Tensor.Storage {
        @inline(__always) func pick<T>(_ a: [T], _ zero: T) -> [T] {
            indices.map { $0 >= 0 ? a[$0] : zero }
        }
        switch self {
        case .float(let a): return .float(pick(a, Float(fill)))
        case .double(let a): return .double(pick(a, fill))
        case .int64(let a): return .int64(pick(a, Int64(exactly: fill.rounded(.towardZero)) ?? 0))
        case .bool(let a): return .bool(pick(a, fill != 0))
        case .string(let a): return .string(pick(a, ""))
        }
    }

    /// Concatenation of `parts`, taking `blocks[k]` consecutive elements from part k in turn,
    /// `repeats` times (concatenation along an axis of row-major tensors).
    static func interleave(_ parts: [Tensor.Storage], blocks: [Int], repeats: Int) -> Tensor.Storage {
        func join<T>(_ arrays: [[T]]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(blocks.reduce(0, +) * repeats)
            for r in 0..<repeats {
                for (k, a) in arrays.enumerated() where blocks[k] > 0 {
                    out.append(contentsOf: a[(r * blocks[k])..<((r + 1) * blocks[k])])
                }
            }
            return out
        }
        switch parts[0] {
        case .float: return .float(join(parts.map { if case .float(let a) = $0 { return a }; return [] }))
        case .int64: return .int64(join(parts.map { if case .int64(let a) = $0 { return a }; return [] }))
        case .double: return .double(join(parts.map { if case .double(let a) = $0 { return a }; return [] }))
        case .bool: return .bool(join(parts.map { if case .bool(let a) = $0 { return a }; return [] }))
        case .string: return .string(join(parts.map { if case .string(let a) = $0 { return a }; return [] }))
        }
    }
}

/// Reshape: the target shape comes from the second input; 0 copies the input dimension unless
/// `allowzero` (opset 14) is set, and one −1 is inferred.
struct Reshape: Operator {
    let allowZero: Bool

    init(_ node: NodeContext) throws {
        let flag = try node.int("allowzero", default: 0)
        allowZero = node.opset >= 14 && flag != 0
        if node.opset < 5 { throw OpError(unsupported: "Reshape before opset 5 (shape as attribute) is not supported") }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data"), s = try required(inputs, 1, "shape")
        try expect(s, [.int64], "shape")
        try expectRank(s, 1, "shape")
        guard let target = s.elements else { return [facts(x.dtype, s.shape?[0].value.map { [Dim](repeating: .unknown, count: $0) })] }
        return [facts(x.dtype, try Reshape.resolve(target, input: x.shape, allowZero: allowZero))]
    }

    /// The output shape for a target with 0/−1 entries, over possibly symbolic input dims.
    static func resolve(_ target: [Dim], input: [Dim]?, allowZero: Bool) throws -> [Dim] {
        var out = target
        var inferred: Int? = nil
        for (i, d) in target.enumerated() {
            if d == .known(0) && !allowZero {
                guard let input, i < input.count else { throw OpError("shape entry \(i) is 0 but the input has no dimension \(i)") }
                out[i] = input[i]
            } else if d == .known(-1) {
                guard inferred == nil else { throw OpError("shape \(target.shapeString) has more than one -1") }
                inferred = i
            } else if let v = d.value, v < -1 {
                throw OpError("shape entry \(v) is invalid")
            }
        }
        guard let k = inferred else {
            if let input = input?.concrete, let o = out.concrete, input.reduce(1, *) != o.reduce(1, *) {
                throw OpError("cannot reshape \(input) (\(input.reduce(1, *)) elements) to \(o)")
            }
            return out
        }
        out[k] = .unknown
        guard let input else { return out }
        // Cancel dimensions common to both sides (symbolic batch included), then divide the rest.
        var numerator = input, others = out
        others.remove(at: k)
        for d in others where d.value == nil {
            if let j = numerator.firstIndex(of: d), d != .unknown { numerator.remove(at: j) } else { return out }
        }
        let known = others.compactMap(\.value)
        let symbolic = numerator.filter { $0.value == nil }
        let num = numerator.compactMap(\.value).reduce(1, *), den = known.reduce(1, *)
        guard den != 0, num % den == 0 else {
            if symbolic.isEmpty { throw OpError("cannot reshape \(input.shapeString) to \(target.shapeString)") }
            return out
        }
        if symbolic.isEmpty { out[k] = .known(num / den) } else if symbolic.count == 1 && num == den { out[k] = symbolic[0] }
        return out
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let target = required(inputs, 1).asInts.map { Dim.known($0) }
        guard let shape = try Reshape.resolve(target, input: x.shape.map { .known($0) }, allowZero: allowZero).concrete,
              shape.reduce(1, *) == x.count else {
            throw OpError("cannot reshape \(x.shape) to \(target.map(\.description))")
        }
        return [x.reshaped(shape)]
    }
}

/// Flatten to 2-D at `axis`: [d0·…·d(axis−1), d(axis)·…].
struct Flatten: Operator {
    let axis: Int
    init(_ node: NodeContext) throws { axis = try node.int("axis", default: 1) }

    static func product(_ dims: ArraySlice<Dim>) -> Dim {
        if dims.isEmpty { return .known(1) }
        if dims.count == 1 { return dims.first! }
        guard let v = Array(dims).concrete else { return .unknown }
        return .known(v.reduce(1, *))
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        guard let s = x.shape else { return [facts(x.dtype, [.unknown, .unknown])] }
        let a = axis < 0 ? axis + s.count : axis
        guard a >= 0 && a <= s.count else { throw OpError("axis \(axis) is out of range for rank \(s.count)") }
        return [facts(x.dtype, [Flatten.product(s[..<a]), Flatten.product(s[a...])])]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let a = axis < 0 ? axis + x.rank : axis
        let outer = x.shape[..<a].reduce(1, *)
        return [x.reshaped([outer, x.shape[a...].reduce(1, *)])]
    }
}

/// Squeeze and Unsqueeze: axes as attribute before opset 13, as an optional input from 13.
struct SqueezeUnsqueeze: Operator {
    let unsqueeze: Bool
    let attrAxes: [Int]?
    let axesAreInput: Bool

    init(_ node: NodeContext, unsqueeze: Bool) throws {
        self.unsqueeze = unsqueeze
        axesAreInput = node.opset >= 13
        attrAxes = try node.ints("axes")
        if unsqueeze && !axesAreInput && attrAxes == nil { throw OpError("attribute axes is required") }
    }

    private func axes(_ axesInput: Tensor?) -> [Int]? { axesAreInput ? axesInput?.asInts : attrAxes }

    func outputShape(_ s: [Dim], axes: [Int]?) throws -> [Dim] {
        if unsqueeze {
            guard let axes else { throw OpError("axes input is required") }
            let rank = s.count + axes.count
            let norm = Set(try axes.map { try normalizeAxis($0, rank: rank) })
            guard norm.count == axes.count else { throw OpError("axes \(axes) repeat an axis") }
            var out: [Dim] = []
            var it = s.makeIterator()
            for i in 0..<rank { out.append(norm.contains(i) ? .known(1) : it.next()!) }
            return out
        }
        guard let axes else { return s.filter { $0 != .known(1) } }
        let norm = Set(try axes.map { try normalizeAxis($0, rank: s.count) })
        for a in norm where s[a].value != nil && s[a] != .known(1) {
            throw OpError("cannot squeeze axis \(a) of size \(s[a])")
        }
        return s.enumerated().filter { !norm.contains($0.offset) }.map(\.element)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        let axesFacts = axesAreInput ? optional(inputs, 1) : nil
        if let a = axesFacts { try expect(a, [.int64], "axes") }
        guard let s = x.shape, !(axesAreInput && axesFacts != nil && axesFacts?.constant == nil) else {
            return [facts(x.dtype, nil)]
        }
        var out = facts(x.dtype, try outputShape(s, axes: axes(axesFacts?.constant)))
        // Scalars ↔ 1-element vectors in shape chains keep their symbolic element.
        if let e = x.elements, e.count == 1 { out.elements = e }
        return [out]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let shape = try outputShape(x.shape.map { .known($0) }, axes: axes(optional(inputs, 1)))
        return [x.reshaped(shape.concrete!)]
    }
}

/// Transpose by `perm` (default: reverse the axes).
struct Transpose: Operator {
    let perm: [Int]?
    init(_ node: NodeContext) throws { perm = try node.ints("perm") }

    private func permutation(rank: Int) throws -> [Int] {
        let p = perm ?? Array((0..<rank).reversed())
        guard p.count == rank, Set(p) == Set(0..<rank) else { throw OpError("perm \(p) is not a permutation of \(rank) axes") }
        return p
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        guard let s = x.shape else { return [facts(x.dtype, nil)] }
        return [facts(x.dtype, try permutation(rank: s.count).map { s[$0] })]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let p = try permutation(rank: x.rank)
        let shape = p.map { x.shape[$0] }
        if x.dtype == .float32, let (batch, rows, columns, inner) = batchedSwap(shape: x.shape, perm: p) {
            return [Tensor(shape: shape, floats: transposed(x.floats, batch: batch, rows: rows, columns: columns, inner: inner))]
        }
        return [Tensor(shape: shape, storage: x.storage.take(try indexMaps(inputs)[0]))]
    }
}

/// The permutation as a swap of two axes in a [batch, rows, columns, inner] view of the input
/// (output [batch, columns, rows, inner]), when merging the axes that stay adjacent and in
/// order (size-1 axes ignored) leaves that pattern, as NCHW ↔ NHWC and ShuffleNet's channel
/// shuffle do; nil otherwise.
func batchedSwap(shape: [Int], perm: [Int]) -> (batch: Int, rows: Int, columns: Int, inner: Int)? {
    let kept = perm.filter { shape[$0] > 1 }
    // Runs of consecutive input axes in output order, as (first input axis, element count).
    var groups: [(first: Int, count: Int)] = []
    for (i, axis) in kept.enumerated() {
        // The next input axis of size > 1 after the previous one joins its group.
        if i > 0, axis > kept[i - 1], (kept[i - 1] + 1..<axis).allSatisfy({ shape[$0] == 1 }) {
            groups[groups.count - 1].count *= shape[axis]
        } else {
            groups.append((axis, shape[axis]))
        }
    }
    // Each group's place in input order, listed in output order, and the sizes in input order.
    let byInput = groups.indices.sorted { groups[$0].first < groups[$1].first }
    let order = groups.indices.map { g in byInput.firstIndex(of: g)! }
    let n = byInput.map { groups[$0].count }
    switch order {
    case [1, 0]: return (1, n[0], n[1], 1)
    case [0, 2, 1]: return (n[0], n[1], n[2], 1)
    case [1, 0, 2]: return (1, n[0], n[1], n[2])
    case [0, 2, 1, 3]: return (n[0], n[1], n[2], n[3])
    default: return nil
    }
}

/// Swaps the rows and columns of a [batch, rows, columns, inner] array, in blocks of 16×16
/// (rows × columns) so that both the reads and the writes stay within a few cache lines.
func transposed(_ x: [Float], batch: Int, rows: Int, columns: Int, inner: Int) -> [Float] {
    let block = 16
    return [Float](unsafeUninitializedCapacity: x.count) { out, initialized in
        x.withUnsafeBufferPointer { xp in
            for b in 0..<batch {
                let src = xp.baseAddress! + b * rows * columns * inner, dst = out.baseAddress! + b * rows * columns * inner
                for r0 in stride(from: 0, to: rows, by: block) {
                    let r1 = min(rows, r0 + block)
                    for c0 in stride(from: 0, to: columns, by: block) {
                        for c in c0..<min(columns, c0 + block) {
                            if inner == 1 {
                                let d = dst + c * rows
                                for r in r0..<r1 { d[r] = src[r * columns + c] }
                            } else {
                                for r in r0..<r1 { (dst + (c * rows + r) * inner).update(from: src + (r * columns + c) * inner, count: inner) }
                            }
                        }
                    }
                }
            }
        }
        initialized = x.count
    }
}

extension Transpose: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0)
        let p = try permutation(rank: x.rank)
        let inStrides = Tensor.strides(of: x.shape)
        return [stridedIndices(p.map { x.shape[$0] }, strides: p.map { inStrides[$0] }, offset: 0)]
    }
}

/// Flat source indices of a strided walk over `shape` (row-major output order).
func stridedIndices(_ shape: [Int], strides: [Int], offset: Int) -> [Int] {
    let count = shape.reduce(1, *)
    var out = [Int](repeating: 0, count: count)
    guard count > 0 else { return out }
    var index = [Int](repeating: 0, count: shape.count)
    var pos = offset
    for i in 0..<count {
        out[i] = pos
        var axis = shape.count - 1
        while axis >= 0 {
            index[axis] += 1
            pos += strides[axis]
            if index[axis] < shape[axis] { break }
            pos -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
    return out
}

/// Concat along `axis`.
struct Concat: Operator {
    let axis: Int
    init(_ node: NodeContext) throws {
        guard let a = try node.ints("axis")?.first else { throw OpError("attribute axis is required") }
        axis = a
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let parts = inputs.compactMap { $0 }
        guard let first = parts.first else { throw OpError("needs at least one input") }
        for p in parts where p.dtype != first.dtype { throw OpError("type mismatch: \(first.dtype) and \(p.dtype)") }
        guard parts.allSatisfy({ $0.shape != nil }) else { return [facts(first.dtype, nil)] }
        let rank = first.rank!
        let a = try normalizeAxis(axis, rank: rank)
        var out = first.shape!
        var total: Int? = 0
        for p in parts {
            guard p.rank == rank else { throw OpError("inputs have ranks \(rank) and \(p.rank!)") }
            for i in 0..<rank where i != a {
                if let x = out[i].value, let y = p.shape![i].value, x != y {
                    throw OpError("shapes \(first.shape!.shapeString) and \(p.shape!.shapeString) differ off the concat axis")
                }
                if out[i].value == nil, p.shape![i].value != nil { out[i] = p.shape![i] }
            }
            total = p.shape![a].value.flatMap { v in total.map { $0 + v } }
        }
        out[a] = total.map { .known($0) } ?? .unknown
        var result = facts(first.dtype, out)
        if rank == 1, first.dtype == .int64 {
            let elems = parts.map(\.elements)
            if elems.allSatisfy({ $0 != nil }) { result.elements = elems.flatMap { $0! } }
        }
        return [result]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let parts = inputs.compactMap { $0 }
        let first = parts[0]
        let a = try normalizeAxis(axis, rank: first.rank)
        let outer = first.shape[..<a].reduce(1, *)
        let blocks = parts.map { $0.shape[a...].reduce(1, *) }
        var shape = first.shape
        shape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        return [Tensor(shape: shape, storage: .interleave(parts.map(\.storage), blocks: blocks, repeats: outer))]
    }
}

extension Concat: Differentiable {
    /// Each input's gradient is its block of every row of the output gradient.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let a = try normalizeAxis(axis, rank: g.rank)
        let outer = g.shape[..<a].reduce(1, *), row = g.shape[a...].reduce(1, *)
        let gs = g.floats
        var offset = 0
        return inputs.enumerated().map { k, x in
            guard let x else { return nil }
            let block = x.shape[a...].reduce(1, *)
            defer { offset += block }
            guard wanted[k] else { return nil }
            var out = [Float](repeating: 0, count: x.count)
            for o in 0..<outer { for i in 0..<block { out[o * block + i] = gs[o * row + offset + i] } }
            return Tensor(shape: x.shape, floats: out)
        }
    }
}

/// Split along `axis`: sizes from the `split` attribute (< 13) or input (≥ 13), `num_outputs`
/// (≥ 18, last part smaller), or equal parts.
struct Split: Operator {
    let axis: Int
    let attrSplit: [Int]?
    let splitIsInput: Bool
    let outputs: Int

    init(_ node: NodeContext) throws {
        axis = try node.int("axis", default: 0)
        splitIsInput = node.opset >= 13
        attrSplit = splitIsInput ? nil : try node.ints("split")
        outputs = node.opset >= 18 ? try node.int("num_outputs", default: node.outputCount) : node.outputCount
    }

    private func sizes(_ n: Int, given: [Int]?) throws -> [Int] {
        if let given {
            guard given.count == outputs, given.reduce(0, +) == n, given.allSatisfy({ $0 >= 0 }) else {
                throw OpError("split \(given) does not divide an axis of \(n) into \(outputs) parts")
            }
            return given
        }
        let part = (n + outputs - 1) / outputs
        return (0..<outputs).map { max(0, min(part, n - $0 * part)) }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        let splitFacts = splitIsInput ? optional(inputs, 1) : nil
        guard let s = x.shape, splitFacts == nil || splitFacts?.constant != nil else {
            return [ValueFacts](repeating: facts(x.dtype, x.shape.map { _ in [Dim](repeating: .unknown, count: x.rank!) }), count: outputs)
        }
        let a = try normalizeAxis(axis, rank: s.count)
        guard let n = s[a].value else {
            return [ValueFacts](repeating: facts(x.dtype, s.enumerated().map { $0.offset == a ? .unknown : $0.element }), count: outputs)
        }
        return try sizes(n, given: splitFacts?.constant?.asInts ?? attrSplit).map { size in
            var o = s
            o[a] = .known(size)
            return facts(x.dtype, o)
        }
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let parts = try sizes(x.shape[a], given: splitIsInput ? optional(inputs, 1)?.asInts : attrSplit)
        return try zip(parts, indexMaps(inputs)).map { size, map in
            var shape = x.shape
            shape[a] = size
            return Tensor(shape: shape, storage: x.storage.take(map))
        }
    }
}

extension Split: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0)
        let a = try normalizeAxis(axis, rank: x.rank)
        let strides = Tensor.strides(of: x.shape)
        var start = 0
        return try sizes(x.shape[a], given: splitIsInput ? optional(inputs, 1)?.asInts : attrSplit).map { size in
            var shape = x.shape
            shape[a] = size
            defer { start += size }
            return stridedIndices(shape, strides: strides, offset: start * strides[a])
        }
    }
}

/// Slice: starts/ends/axes/steps as attributes (< 10) or inputs (≥ 10), numpy clamping rules.
struct Slice: Operator {
    let attributes: (starts: [Int], ends: [Int], axes: [Int]?)?

    init(_ node: NodeContext) throws {
        if node.opset < 10 {
            guard let s = try node.ints("starts"), let e = try node.ints("ends") else { throw OpError("attributes starts and ends are required") }
            attributes = (s, e, try node.ints("axes"))
        } else {
            attributes = nil
        }
    }

    struct Plan { var shape: [Int]; var strides: [Int]; var offset: Int }

    /// Per-axis start, step and length after clamping.
    static func plan(shape: [Int], starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?) throws -> Plan {
        let axes = try (axes ?? Array(0..<starts.count)).map { try normalizeAxis($0, rank: shape.count) }
        let steps = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw OpError("starts, ends, axes and steps must have the same length")
        }
        let base = Tensor.strides(of: shape)
        var out = shape, strides = base, offset = 0
        for (k, axis) in axes.enumerated() {
            let n = shape[axis], step = steps[k]
            guard step != 0 else { throw OpError("slice step must not be 0") }
            func clamp(_ v: Int, _ lo: Int, _ hi: Int) -> Int { min(max(v, lo), hi) }
            var s = starts[k] < 0 ? starts[k] + n : starts[k]
            var e = ends[k] < 0 ? ends[k] + n : ends[k]
            if step > 0 { s = clamp(s, 0, n); e = clamp(e, 0, n) } else { s = clamp(s, -1, n - 1); e = clamp(e, -1, n - 1) }
            let len = step > 0 ? max(0, (e - s + step - 1) / step) : max(0, (s - e + (-step) - 1) / (-step))
            out[axis] = len
            strides[axis] = base[axis] * step
            if len > 0 { offset += s * base[axis] }
        }
        return Plan(shape: out, strides: strides, offset: offset)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        var params: (starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?)
        if let attributes {
            params = (attributes.starts, attributes.ends, attributes.axes, nil)
        } else {
            let parts = (1...4).map { optional(inputs, $0) }
            guard parts[0] != nil, parts[1] != nil else { throw OpError("inputs starts and ends are required") }
            for p in parts.compactMap({ $0 }) { try expect(p, DType.indices, "slice parameter") }
            guard parts.allSatisfy({ $0 == nil || $0?.constant != nil }) else {
                return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })]
            }
            params = (parts[0]!.constant!.asInts, parts[1]!.constant!.asInts, parts[2]?.constant?.asInts, parts[3]?.constant?.asInts)
        }
        guard let s = x.shape else { return [facts(x.dtype, nil)] }
        // Unknown dimensions stay unknown unless they are not sliced.
        let axes = try (params.axes ?? Array(0..<params.starts.count)).map { try normalizeAxis($0, rank: s.count) }
        var out = s
        if let concrete = s.concrete {
            out = try Slice.plan(shape: concrete, starts: params.starts, ends: params.ends, axes: axes, steps: params.steps).shape.map { .known($0) }
        } else {
            for a in axes { out[a] = .unknown }
        }
        var result = facts(x.dtype, out)
        if let e = x.elements, s.count == 1, let plan = try? Slice.plan(shape: [e.count], starts: params.starts, ends: params.ends, axes: axes, steps: params.steps) {
            result.elements = (0..<plan.shape[0]).map { e[plan.offset + $0 * plan.strides[0]] }
        }
        return [result]
    }

    private func plan(_ inputs: [Tensor?]) throws -> Plan {
        let x = required(inputs, 0)
        if let attributes {
            return try Slice.plan(shape: x.shape, starts: attributes.starts, ends: attributes.ends, axes: attributes.axes, steps: nil)
        }
        return try Slice.plan(shape: x.shape, starts: required(inputs, 1).asInts, ends: required(inputs, 2).asInts,
                              axes: optional(inputs, 3)?.asInts, steps: optional(inputs, 4)?.asInts)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let p = try plan(inputs)
        return [Tensor(shape: p.shape, storage: required(inputs, 0).storage.take(try indexMaps(inputs)[0]))]
    }
}

extension Slice: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let p = try plan(inputs)
        return [stridedIndices(p.shape, strides: p.strides, offset: p.offset)]
    }
}

/// Gather along `axis` with int64 indices (negative indices count from the end).
struct Gather: Operator {
    let axis: Int
    init(_ node: NodeContext) throws { axis = try node.int("axis", default: 0) }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data"), idx = try required(inputs, 1, "indices")
        try expect(idx, DType.indices, "indices")
        guard let s = x.shape, let i = idx.shape else { return [facts(x.dtype, nil)] }
        let a = try normalizeAxis(axis, rank: s.count)
        var result = facts(x.dtype, Array(s[..<a]) + i + Array(s[(a + 1)...]))
        if s.count == 1, let e = x.elements, let picks = idx.constant?.asInts {
            let picked = picks.map { $0 < 0 ? $0 + e.count : $0 }
            if picked.allSatisfy({ $0 >= 0 && $0 < e.count }) { result.elements = picked.map { e[$0] } }
        }
        return [result]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), idx = required(inputs, 1)
        let a = try normalizeAxis(axis, rank: x.rank)
        return [Tensor(shape: Array(x.shape[..<a]) + idx.shape + Array(x.shape[(a + 1)...]), storage: x.storage.take(try indexMaps(inputs)[0]))]
    }
}

extension Gather: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] {
        let x = required(inputs, 0), idx = required(inputs, 1)
        let a = try normalizeAxis(axis, rank: x.rank)
        let n = x.shape[a]
        let picks = try idx.asInts.map { i -> Int in
            let j = i < 0 ? i + n : i
            guard j >= 0 && j < n else { throw OpError("index \(i) is out of range for axis of size \(n)") }
            return j
        }
        let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *)
        var flat: [Int] = []
        flat.reserveCapacity(outer * picks.count * inner)
        for o in 0..<outer { for j in picks { let base = (o * n + j) * inner; for k in 0..<inner { flat.append(base + k) } } }
        return [flat]
    }
}

/// Pad: pads (and the constant value) as attributes before opset 11, as inputs from 11, with
/// optional axes from 18. Modes constant (negative pads crop), reflect and edge.
struct Pad: Operator {
    let mode: String
    let attrPads: [Int]?
    let attrValue: Double

    init(_ node: NodeContext) throws {
        mode = try node.require("mode", in: ["constant", "reflect", "edge"], default: "constant")
        if node.opset < 11 {
            guard let p = try node.ints(node.opset < 2 ? "paddings" : "pads") else { throw OpError("attribute pads is required") }
            attrPads = p
        } else {
            attrPads = nil
        }
        attrValue = Double(try node.float("value", default: 0))
    }

    private func fullPads(rank: Int, pads: [Int], axes: [Int]?) throws -> [Int] {
        let axes = try (axes ?? Array(0..<rank)).map { try normalizeAxis($0, rank: rank) }
        guard pads.count == 2 * axes.count else { throw OpError("pads has \(pads.count) values, expected \(2 * axes.count)") }
        var full = [Int](repeating: 0, count: 2 * rank)
        for (k, a) in axes.enumerated() { full[a] = pads[k]; full[a + rank] = pads[k + axes.count] }
        return full
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "data")
        var pads = attrPads, axes: [Int]? = nil
        if attrPads == nil {
            let p = try required(inputs, 1, "pads")
            try expect(p, [.int64], "pads")
            guard let c = p.constant else { return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })] }
            pads = c.asInts
            if let ax = optional(inputs, 3) {
                guard let c = ax.constant else { return [facts(x.dtype, x.shape.map { $0.map { _ in .unknown } })] }
                axes = c.asInts
            }
        }
        guard let s = x.shape else { return [facts(x.dtype, nil)] }
        let full = try fullPads(rank: s.count, pads: pads!, axes: axes)
        // An unpadded axis keeps its dimension, symbolic ones (the batch) included.
        return [facts(x.dtype, s.enumerated().map { i, d in
            full[i] == 0 && full[i + s.count] == 0 ? d : d.value.map { .known($0 + full[i] + full[i + s.count]) } ?? .unknown
        })]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        var value = attrValue
        if attrPads == nil, let v = optional(inputs, 2) {
            value = v.asDoubles.first ?? 0
        }
        // PyTorch exports AvgPool with a Pad of zeros before it (DenseNet's transitions).
        if try pads(inputs).allSatisfy({ $0 == 0 }) { return [x] }
        let (shape, map) = try indexMap(inputs)
        return [Tensor(shape: shape, storage: x.storage.take(map, fill: value))]
    }

    /// Padding before and after every axis (2 × rank values).
    private func pads(_ inputs: [Tensor?]) throws -> [Int] {
        try fullPads(rank: required(inputs, 0).rank, pads: attrPads ?? required(inputs, 1).asInts, axes: optional(inputs, 3)?.asInts)
    }

    /// The output shape and, per output element, its source index (−1 in constant padding).
    private func indexMap(_ inputs: [Tensor?]) throws -> ([Int], [Int]) {
        let x = required(inputs, 0)
        let rank = x.rank
        let pads = try pads(inputs)
        let outShape = (0..<rank).map { x.shape[$0] + pads[$0] + pads[$0 + rank] }
        guard outShape.allSatisfy({ $0 >= 0 }) else { throw OpError("pads \(pads) crop more than the input \(x.shape)") }
        if mode != "constant" {
            for i in 0..<rank where (pads[i] > 0 || pads[i + rank] > 0) && x.shape[i] == 0 {
                throw OpError("\(mode) padding of an empty axis")
            }
            if mode == "reflect" {
                for i in 0..<rank where max(pads[i], pads[i + rank]) >= x.shape[i] && x.shape[i] > 0 && (pads[i] > 0 || pads[i + rank] > 0) {
                    throw OpError("reflect pads \(pads) need each pad smaller than the axis (\(x.shape[i]))")
                }
            }
        }
        let strides = Tensor.strides(of: x.shape)
        let count = outShape.reduce(1, *)
        var flat = [Int](repeating: 0, count: count)
        /// The source index along `axis` of output index `o`, nil in constant padding.
        func source(_ o: Int, _ axis: Int) -> Int? {
            var i = o - pads[axis]
            let n = x.shape[axis]
            if i >= 0 && i < n { return i }
            switch mode {
            case "edge": i = min(max(i, 0), n - 1)
            case "reflect":
                let period = 2 * (n - 1)
                i = period == 0 ? 0 : abs(i) % period
                if i >= n { i = period - i }
            default: return nil
            }
            return i
        }
        guard count > 0, rank > 0 else { return (outShape, count == 0 ? [] : [0]) }
        // Output rows along the last axis: the leading axes' source offset once per row.
        let width = outShape[rank - 1]
        let lastAxis = (0..<width).map { source($0, rank - 1) }
        for row in 0..<(count / width) {
            var rest = row, base: Int? = 0
            for axis in stride(from: rank - 2, through: 0, by: -1) {
                let o = rest % outShape[axis]
                rest /= outShape[axis]
                if let b = base, let i = source(o, axis) { base = b + i * strides[axis] } else { base = nil }
            }
            for (j, i) in lastAxis.enumerated() {
                flat[row * width + j] = base.flatMap { b in i.map { b + $0 } } ?? -1
            }
        }
        return (outShape, flat)
    }
}

extension Pad: IndexMapping {
    func indexMaps(_ inputs: [Tensor?]) throws -> [[Int]] { [try indexMap(inputs).1] }
}

extension Reshape: ShapeView {}
extension Flatten: ShapeView {}
extension SqueezeUnsqueeze: ShapeView {}
