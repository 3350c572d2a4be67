import Foundation
import LafamGraph
import LafamTensor

/// Two-input arithmetic with numpy broadcasting (Add, Sub, Mul, Div, Pow, Mod on float32 or
/// int64; Pow's result has the base's type), and the n-ary Sum.
struct Binary: ChannelAffine {
    var inputArity: ClosedRange<Int> { variadic ? 1...Int.max : 2...2 }

    /// `mod` is Mod with fmod=0 (integers: the remainder takes the divisor's sign, as Python's
    /// `%`); `fmod` is Mod with fmod=1 (the dividend's sign, as C's `fmod` and `%`).
    enum Kind { case add, sub, mul, div, pow, max, min, prelu, mod, fmod }
    let kind: Kind
    let variadic: Bool

    /// `.pointwise`: each output pixel reads the same pixel of its inputs.
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let present = inputs.compactMap { $0 }
        guard present.count >= (variadic ? 1 : 2), present.count == inputs.count else {
            throw OpError("expects \(variadic ? "at least one input" : "two inputs"), got \(present.count)")
        }
        try expect(present[0], kind == .prelu ? [.float32] : DType.numeric, "A")
        if kind == .pow {
            try expect(present[1], DType.numeric, "exponent")
        } else {
            for f in present.dropFirst() where f.dtype != present[0].dtype {
                throw OpError("type mismatch: inputs are \(present[0].dtype) and \(f.dtype)")
            }
        }
        if kind == .mod, present[0].dtype.isFloatingPoint {
            throw OpError("Mod of \(present[0].dtype) inputs needs fmod=1 (the ONNX specification allows fmod=0 for integers only)")
        }
        var shape: [Dim]? = present[0].shape
        for f in present.dropFirst() {
            guard let s = shape, let t = f.shape else { shape = nil; break }
            shape = try broadcast(s, t)
        }
        var out = facts(present[0].dtype, shape)
        // Keep symbolic shape vectors flowing through arithmetic on them (e.g. `Div` in shape chains).
        if !variadic, present[0].dtype == .int64, let a = present[0].elements, let b = present[1].elements,
           a.count == b.count || b.count == 1 {
            out.elements = zip(a, b.count == 1 ? [Dim](repeating: b[0], count: a.count) : b).map { x, y in
                guard let p = x.value, let q = y.value else {
                    if kind == .mul, y == .known(1) { return x }
                    if kind == .div, y == .known(1) { return x }
                    return .unknown
                }
                return .known(Binary.intOp(kind, Int64(p), Int64(q)).map(Int.init) ?? 0)
            }
        }
        return [out]
    }

    /// Mean divides the n-ary sum by the input count.
    var isMean = false

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        elementwiseBatchBehaviour(inputs, carryingBatch: carryingBatch)
    }

    /// A Mul or Add of x by a float32 constant that broadcasts along the channel axis only (a
    /// scalar, [C, 1, 1], [1, C, 1, 1], …).
    func channelAffine(_ inputs: [ValueFacts?], input x: Int, channels: Int) -> (scale: [Float], shift: [Float])? {
        guard kind == .mul || kind == .add, !variadic, inputs.count == 2, let rank = inputs[x]?.rank,
              let k = inputs[1 - x]?.constant, k.dtype == .float32, k.rank <= rank, rank >= 2 else { return nil }
        let shape = [Int](repeating: 1, count: rank - k.rank) + k.shape
        guard shape[0] == 1, shape.dropFirst(2).allSatisfy({ $0 == 1 }), shape[1] == 1 || shape[1] == channels else { return nil }
        let values = k.floats
        let perChannel = (0..<channels).map { values[shape[1] == 1 ? 0 : $0] }
        let ones = [Float](repeating: 1, count: channels), zeros = [Float](repeating: 0, count: channels)
        return kind == .mul ? (perChannel, zeros) : (ones, perChannel)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let ts = inputs.map { $0! }
        var acc = ts[0]
        for t in ts.dropFirst() { acc = try combine(acc, t) }
        if isMean {
            switch acc.storage {
            case .float(let v): acc = Tensor(uncheckedShape: acc.shape, storage: .float(v.map { $0 / Float(ts.count) }), dtype: acc.dtype)
            case .double(let v): acc = Tensor(uncheckedShape: acc.shape, doubles: v.map { $0 / Double(ts.count) })
            default: throw OpError("Mean needs floating-point inputs, got \(acc.dtype)")
            }
        }
        return [acc]
    }

    /// One broadcast step; the result is in the first operand's storage class (the executor
    /// then conforms it to the output's element type).
    private func combine(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let shape = try broadcast(a.shape, b.shape)
        switch (a.storage, b.storage) {
        case let (.float(x), .float(y)):
            return Tensor(uncheckedShape: shape, floats: floating(x, a.shape, y, b.shape, shape, power: Binary.power))
        case let (.double(x), .double(y)):
            return Tensor(uncheckedShape: shape, doubles: floating(x, a.shape, y, b.shape, shape, power: Foundation.pow))
        case let (.float(x), _):
            return Tensor(uncheckedShape: shape, floats: broadcastMap(x, a.shape, b.asDoubles.map(Float.init), b.shape, shape, Binary.power))
        case let (.double(x), _):
            return Tensor(uncheckedShape: shape, doubles: broadcastMap(x, a.shape, b.asDoubles, b.shape, shape, Foundation.pow))
        case let (.int64(x), .int64(y)) where kind != .pow || !b.dtype.isFloatingPoint:
            let unsigned = a.dtype == .uint64
            if kind == .div || kind == .mod || kind == .fmod, y.contains(0) { throw OpError("integer division by zero") }
            return Tensor(uncheckedShape: shape, int64s: broadcastMap(x, a.shape, y, b.shape, shape) { Binary.intOp(kind, $0, $1, unsigned: unsigned) ?? 0 })
        case (.int64, _) where kind == .pow:
            // An integer base to a floating exponent: computed in float64, truncated to the base's type.
            let powers = broadcastMap(a.asDoubles, a.shape, b.asDoubles, b.shape, shape, Foundation.pow)
            return try Tensor(uncheckedShape: shape, doubles: powers).converted(to: .int64)
        default:
            throw OpError("type mismatch: \(a.dtype) and \(b.dtype)")
        }
    }

    private func floating<T: BinaryFloatingPoint>(_ x: [T], _ xs: [Int], _ y: [T], _ ys: [Int], _ shape: [Int],
                                                  power: (T, T) -> T) -> [T] {
        switch kind {
        case .add: return broadcastMap(x, xs, y, ys, shape, +)
        case .sub: return broadcastMap(x, xs, y, ys, shape, -)
        case .mul: return broadcastMap(x, xs, y, ys, shape, *)
        case .div: return broadcastMap(x, xs, y, ys, shape, /)
        case .pow: return broadcastMap(x, xs, y, ys, shape, power)
        case .max: return broadcastMap(x, xs, y, ys, shape) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
        case .min: return broadcastMap(x, xs, y, ys, shape) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
        case .prelu: return broadcastMap(x, xs, y, ys, shape) { $0 < 0 ? $0 * $1 : $0 }
        case .fmod: return broadcastMap(x, xs, y, ys, shape) { $0.truncatingRemainder(dividingBy: $1) }
        case .mod:
            return broadcastMap(x, xs, y, ys, shape) { a, b in
                let r = a.truncatingRemainder(dividingBy: b)
                return r != 0 && (r < 0) != (b < 0) ? r + b : r
            }
        }
    }

    @inline(__always)
    static func power(_ x: Float, _ y: Float) -> Float {
        if y == 2 { return x * x }
        if y == 0.5 { return x.squareRoot() }
        return Foundation.pow(x, y)
    }

    /// Integer arithmetic with wrap-around; `unsigned` reads uint64 bit patterns for the
    /// operations where sign matters (narrower unsigned types are non-negative in Int64 already).
    static func intOp(_ kind: Kind, _ x: Int64, _ y: Int64, unsigned: Bool = false) -> Int64? {
        if unsigned {
            let (p, q) = (UInt64(bitPattern: x), UInt64(bitPattern: y))
            switch kind {
            case .div: return q == 0 ? nil : Int64(bitPattern: p / q)
            case .mod, .fmod: return q == 0 ? nil : Int64(bitPattern: p % q)
            case .max: return Int64(bitPattern: Swift.max(p, q))
            case .min: return Int64(bitPattern: Swift.min(p, q))
            default: break
            }
        }
        switch kind {
        case .add: return x &+ y
        case .sub: return x &- y
        case .mul: return x &* y
        case .div: return y == 0 ? nil : (x == .min && y == -1 ? .min : x / y)
        case .max: return Swift.max(x, y)
        case .min: return Swift.min(x, y)
        case .prelu: return x < 0 ? x &* y : x
        case .fmod: return y == 0 ? nil : (y == -1 ? 0 : x % y)
        case .mod:
            guard y != 0 else { return nil }
            let r = y == -1 ? 0 : x % y
            return r != 0 && (r < 0) != (y < 0) ? r + y : r
        case .pow:
            guard y >= 0 else { return x == 1 ? 1 : (x == -1 ? (y % 2 == 0 ? 1 : -1) : 0) }
            var result: Int64 = 1, base = x, e = y
            while e > 0 {
                if e & 1 == 1 { result = result &* base }
                base = base &* base
                e >>= 1
            }
            return result
        }
    }
}

extension Binary: Differentiable {
    /// Elementwise partial derivatives, then summed over each input's broadcast axes.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let y = outputs[0]
        if variadic {
            return try inputs.enumerated().map { k, x -> Tensor? in
                guard wanted[k], let x else { return nil }
                switch kind {
                case .max, .min:
                    // The gradient goes to the inputs equal to the result.
                    let mask = zip(try expand(x.floats, x.shape, to: y.shape), y.floats).map { $0 == $1 ? Float(1) : 0 }
                    return try reduceToShape(Tensor(uncheckedShape: y.shape, floats: zip(mask, g.floats).map(*)), x.shape)
                default:
                    let scale = isMean ? 1 / Float(inputs.count) : 1
                    return try reduceToShape(Tensor(uncheckedShape: g.shape, floats: g.floats.map { $0 * scale }), x.shape)
                }
            }
        }
        let a = required(inputs, 0), b = required(inputs, 1)
        guard a.dtype == .float32 else { return [nil, nil] }
        let av = try expand(a.floats, a.shape, to: y.shape)
        let bv = try expand(b.dtype == .float32 ? b.floats : b.asInts.map { Float($0) }, b.shape, to: y.shape)
        let gv = g.floats, yv = y.floats
        func partial(_ f: (Float, Float, Float, Float) -> Float) -> [Float] {
            (0..<gv.count).map { f(av[$0], bv[$0], yv[$0], gv[$0]) }
        }
        var da: [Float], db: [Float]
        switch kind {
        case .add: da = gv; db = gv
        case .sub: da = gv; db = gv.map { -$0 }
        case .mul: da = partial { _, b, _, g in g * b }; db = partial { a, _, _, g in g * a }
        case .div: da = partial { _, b, _, g in g / b }; db = partial { _, b, y, g in -g * y / b }
        case .pow:
            da = partial { a, b, _, g in b == 0 ? 0 : g * b * Foundation.pow(a, b - 1) }
            db = partial { a, _, y, g in a > 0 ? g * y * Foundation.log(a) : 0 }
        case .max: da = partial { a, b, _, g in a >= b ? g : 0 }; db = partial { a, b, _, g in a >= b ? 0 : g }
        case .min: da = partial { a, b, _, g in a <= b ? g : 0 }; db = partial { a, b, _, g in a <= b ? 0 : g }
        case .prelu: da = partial { a, b, _, g in a < 0 ? g * b : g }; db = partial { a, _, _, g in a < 0 ? g * a : 0 }
        // a mod b = a − b·q with q = ⌊a/b⌋ (mod) or trunc(a/b) (fmod), piecewise constant in a and b.
        case .mod: da = gv; db = partial { a, b, _, g in -g * (a / b).rounded(.down) }
        case .fmod: da = gv; db = partial { a, b, _, g in -g * (a / b).rounded(.towardZero) }
        }
        return [
            wanted[0] ? try reduceToShape(Tensor(uncheckedShape: y.shape, floats: da), a.shape) : nil,
            wanted[1] && b.dtype == .float32 ? try reduceToShape(Tensor(uncheckedShape: y.shape, floats: db), b.shape) : nil,
        ]
    }
}

/// Applies `f` elementwise over the broadcast of `x` (shape `xs`) and `y` (shape `ys`) to `out`.
/// Same-shape and scalar operands take a flat loop; otherwise the innermost axis is a strided loop.
@inline(__always)
func broadcastMap<T>(_ x: [T], _ xs: [Int], _ y: [T], _ ys: [Int], _ out: [Int], _ f: (T, T) -> T) -> [T] {
    let count = Tensor.count(of: out)
    return [T](unsafeUninitializedCapacity: count) { buf, n in
        n = count
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                if xs == ys {
                    for i in 0..<count { buf[i] = f(xp[i], yp[i]) }
                } else if yp.count == 1 && xp.count == count {
                    let v = yp[0]
                    for i in 0..<count { buf[i] = f(xp[i], v) }
                } else if xp.count == 1 && yp.count == count {
                    let v = xp[0]
                    for i in 0..<count { buf[i] = f(v, yp[i]) }
                } else if count > 0 {
                    let sx = broadcastStrides(xs, to: out), sy = broadcastStrides(ys, to: out)
                    let rank = out.count
                    let inner = out[rank - 1], ix = sx[rank - 1], iy = sy[rank - 1]
                    var index = [Int](repeating: 0, count: rank)
                    var ox = 0, oy = 0, o = 0
                    while o < count {
                        for j in 0..<inner { buf[o + j] = f(xp[ox + j * ix], yp[oy + j * iy]) }
                        o += inner
                        // Advance the outer index (axes rank-2 … 0) like an odometer.
                        var axis = rank - 2
                        while axis >= 0 {
                            index[axis] += 1
                            ox += sx[axis]; oy += sy[axis]
                            if index[axis] < out[axis] { break }
                            ox -= sx[axis] * out[axis]; oy -= sy[axis] * out[axis]
                            index[axis] = 0
                            axis -= 1
                        }
                    }
                }
            }
        }
    }
}
