import Foundation

/// Float activations and other one-input elementwise ops. The kind is switched on once per
/// call; each case runs its own tight loop.
struct Unary: Operator {
    enum Kind {
        case relu, sigmoid, erf, sqrt, tanh, exp, log, neg, abs, reciprocal, floor, ceil, softplus, softsign
        case hardSigmoid(alpha: Float, beta: Float)
        case hardSwish
        case gelu(tanh: Bool)
        case clip(min: Float, max: Float)
        case leakyRelu(alpha: Float)
        case thresholdedRelu(alpha: Float)
        case elu(alpha: Float)
        case celu(alpha: Float)
        case selu(alpha: Float, gamma: Float)
    }
    let kind: Kind

    var isRelu: Bool { if case .relu = kind { return true }; return false }
    var isHardSwish: Bool { if case .hardSwish = kind { return true }; return false }
    var isSigmoid: Bool { if case .sigmoid = kind { return true }; return false }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, [.float32], "X")
        return [facts(.float32, x.shape)]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        return [Tensor(shape: x.shape, floats: Unary.apply(kind, x.floats))]
    }

    static func apply(_ kind: Kind, _ x: [Float]) -> [Float] {
        switch kind {
        case .relu: return map(x) { max($0, 0) }
        case .sigmoid: return map(x, sigmoid)
        case .erf: return map(x) { erfApproximation($0) }
        case .sqrt: return map(x) { $0.squareRoot() }
        case let .hardSigmoid(alpha, beta): return map(x) { max(0, min(1, alpha * $0 + beta)) }
        case .hardSwish: return map(x, hardSwish)
        case .gelu(tanh: false): return map(x) { 0.5 * $0 * (1 + erfApproximation($0 * 0.70710678118654752)) }
        case .gelu(tanh: true):
            return map(x) { v in 0.5 * v * (1 + Foundation.tanh(0.79788456080286536 * (v + 0.044715 * v * v * v))) }
        case let .clip(lo, hi): return map(x) { min(max($0, lo), hi) }
        case .tanh: return map(x) { Foundation.tanh($0) }
        case .exp: return map(x) { Foundation.exp($0) }
        case .log: return map(x) { Foundation.log($0) }
        case .neg: return map(x) { -$0 }
        case .abs: return map(x) { Swift.abs($0) }
        case .reciprocal: return map(x) { 1 / $0 }
        case .floor: return map(x) { $0.rounded(.down) }
        case .ceil: return map(x) { $0.rounded(.up) }
        case .softplus: return map(x) { Foundation.log1p(Foundation.exp($0)) }
        case .softsign: return map(x) { $0 / (1 + Swift.abs($0)) }
        case let .leakyRelu(alpha): return map(x) { $0 < 0 ? alpha * $0 : $0 }
        case let .thresholdedRelu(alpha): return map(x) { $0 > alpha ? $0 : 0 }
        case let .elu(alpha): return map(x) { $0 < 0 ? alpha * (Foundation.exp($0) - 1) : $0 }
        case let .celu(alpha): return map(x) { max(0, $0) + min(0, alpha * (Foundation.exp($0 / alpha) - 1)) }
        case let .selu(alpha, gamma): return map(x) { $0 > 0 ? gamma * $0 : gamma * alpha * (Foundation.exp($0) - 1) }
        }
    }

    /// One thread on purpose: shared out through `KernelThreads`, `f` is no longer inlined into
    /// the loop, and ConvNeXt's Erf took 17.6 ms on two threads against 8.8 ms on one.
    @inline(__always)
    static func map(_ x: [Float], _ f: (Float) -> Float) -> [Float] {
        [Float](unsafeUninitializedCapacity: x.count) { buf, n in
            x.withUnsafeBufferPointer { src in
                for i in 0..<src.count { buf[i] = f(src[i]) }
            }
            n = x.count
        }
    }
}

/// Clip: bounds are attributes up to opset 10 and optional scalar inputs from opset 11.
struct Clip: Operator {
    let attrMin: Float, attrMax: Float
    let boundsAreInputs: Bool

    init(_ node: NodeContext) throws {
        boundsAreInputs = node.opset >= 11
        attrMin = try node.float("min", default: -.greatestFiniteMagnitude)
        attrMax = try node.float("max", default: .greatestFiniteMagnitude)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        try expect(x, boundsAreInputs ? DType.numeric : DType.floatingPoint, "input")
        for i in 1..<3 {
            if let b = optional(inputs, i) {
                try expect(b, [x.dtype], i == 1 ? "min" : "max")
                if let r = b.rank, r != 0, b.shape!.concrete != [1] { throw OpError("\(i == 1 ? "min" : "max") must be a scalar") }
            }
        }
        return [facts(x.dtype, x.shape)]
    }

    /// The float bounds in force (±greatest finite when absent), from the inputs after X.
    func bounds(_ boundInputs: [Tensor?]) -> (Float, Float) {
        guard boundsAreInputs else { return (attrMin, attrMax) }
        return (optional(boundInputs, 0).map { Float($0.asDoubles[0]) } ?? -.greatestFiniteMagnitude,
                optional(boundInputs, 1).map { Float($0.asDoubles[0]) } ?? .greatestFiniteMagnitude)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let lo = optional(inputs, 1), hi = optional(inputs, 2)
        switch x.storage {
        case .float(let v):
            let (lo, hi) = bounds(Array(inputs.dropFirst()))
            return [Tensor(shape: x.shape, floats: Unary.apply(.clip(min: lo, max: hi), v))]
        case .double(let v):
            let l = lo?.doubles[0] ?? -.greatestFiniteMagnitude, h = hi?.doubles[0] ?? .greatestFiniteMagnitude
            return [Tensor(shape: x.shape, doubles: v.map { Swift.min(Swift.max($0, l), h) })]
        case .int64(let v) where x.dtype == .uint64:
            let l = lo.map { UInt64(bitPattern: $0.int64s[0]) } ?? .min, h = hi.map { UInt64(bitPattern: $0.int64s[0]) } ?? .max
            return [Tensor(shape: x.shape, int64s: v.map { Int64(bitPattern: Swift.min(Swift.max(UInt64(bitPattern: $0), l), h)) })]
        case .int64(let v):
            let l = lo?.int64s[0] ?? .min, h = hi?.int64s[0] ?? .max
            return [Tensor(shape: x.shape, int64s: v.map { Swift.min(Swift.max($0, l), h) })]
        default:
            throw OpError("Clip needs numbers, got \(x.dtype)")
        }
    }
}

/// Identity, and Dropout in inference mode (the optional mask output is all true).
struct PassThrough: Operator {
    let isDropout: Bool
    let node: NodeContext

    init(_ node: NodeContext, dropout: Bool) throws {
        self.node = node
        isDropout = dropout
        if dropout && node.opset < 7, try node.int("is_test", default: 0) == 0, node.outputCount > 1 {
            throw OpError(unsupported: "training-mode Dropout is not supported")
        }
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "input")
        guard isDropout else { return [x] }
        if let training = optional(inputs, 2) {
            guard let t = training.constant, t.dtype == .bool, !t.bools.contains(true) else {
                throw OpError(unsupported: "training_mode must be a constant false; lafam runs inference only")
            }
        }
        return [facts(x.dtype, x.shape), facts(.bool, x.shape)]
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        guard isDropout else { return [x] }
        return [x, Tensor(shape: x.shape, bools: [Bool](repeating: true, count: x.count))]
    }
}

/// Two-input arithmetic with numpy broadcasting (Add, Sub, Mul, Div, Pow on float32 or int64;
/// Pow's result has the base's type), and the n-ary Sum.
struct Binary: Operator {
    enum Kind { case add, sub, mul, div, pow, max, min, prelu }
    let kind: Kind
    let variadic: Bool

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

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let ts = inputs.map { $0! }
        var acc = ts[0]
        for t in ts.dropFirst() { acc = try combine(acc, t) }
        if isMean {
            switch acc.storage {
            case .float(let v): acc = Tensor(shape: acc.shape, storage: .float(v.map { $0 / Float(ts.count) }), dtype: acc.dtype)
            case .double(let v): acc = Tensor(shape: acc.shape, doubles: v.map { $0 / Double(ts.count) })
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
            return Tensor(shape: shape, floats: floating(x, a.shape, y, b.shape, shape, power: Binary.power))
        case let (.double(x), .double(y)):
            return Tensor(shape: shape, doubles: floating(x, a.shape, y, b.shape, shape, power: Foundation.pow))
        case let (.float(x), _):
            return Tensor(shape: shape, floats: broadcastMap(x, a.shape, b.asDoubles.map(Float.init), b.shape, shape, Binary.power))
        case let (.double(x), _):
            return Tensor(shape: shape, doubles: broadcastMap(x, a.shape, b.asDoubles, b.shape, shape, Foundation.pow))
        case let (.int64(x), .int64(y)) where kind != .pow || !b.dtype.isFloatingPoint:
            let unsigned = a.dtype == .uint64
            if kind == .div, y.contains(0) { throw OpError("integer division by zero") }
            return Tensor(shape: shape, int64s: broadcastMap(x, a.shape, y, b.shape, shape) { Binary.intOp(kind, $0, $1, unsigned: unsigned) ?? 0 })
        case (.int64, _) where kind == .pow:
            // An integer base to a floating exponent: computed in float64, truncated to the base's type.
            let powers = broadcastMap(a.asDoubles, a.shape, b.asDoubles, b.shape, shape, Foundation.pow)
            return try Tensor(shape: shape, doubles: powers).converted(to: .int64)
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

/// ONNX Sigmoid, 1 / (1 + e^−x); a Conv's fused output pass uses it too (SiLU).
@inline(__always)
func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

/// ONNX HardSwish, x · max(0, min(1, x/6 + ½)); a Conv's fused output pass uses it too.
@inline(__always)
func hardSwish(_ x: Float) -> Float { x * max(0, min(1, x / 6 + 0.5)) }

/// PRelu: x < 0 ? slope·x : x, slope broadcast to x. Before opset 7 a 1-D slope of C values is
/// per channel (axis 1), which numpy broadcasting would align with the last axis instead.
struct PRelu: Operator {
    let legacy: Bool
    private let elementwise = Binary(kind: .prelu, variadic: false)

    init(_ node: NodeContext) { legacy = node.opset < 7 }

    private func channelwise(_ slope: [Dim], input: [Dim]) -> [Dim]? {
        guard legacy, input.count > 2, slope.count == 1, slope[0] != .known(1), slope[0] == input[1] else { return nil }
        return [slope[0]] + [Dim](repeating: .known(1), count: input.count - 2)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        var facts = inputs
        if let x = inputs[0]?.shape, let s = optional(inputs, 1)?.shape, let shape = channelwise(s, input: x) { facts[1]!.shape = shape }
        return try elementwise.infer(facts)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        var tensors = inputs
        let x = required(inputs, 0), slope = required(inputs, 1)
        if let shape = channelwise(slope.shape.map { .known($0) }, input: x.shape.map { .known($0) }) {
            tensors[1] = slope.reshaped(shape.concrete!)
        }
        return try elementwise.run(tensors)
    }
}

// MARK: gradients

extension Unary: Differentiable {
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return [nil] }
        let x = required(inputs, 0), y = outputs[0]
        switch kind {
        case .relu: return [pullback(x, y, g) { x, _, g in x > 0 ? g : 0 }]
        case .sigmoid: return [pullback(x, y, g) { _, y, g in g * y * (1 - y) }]
        case .erf: return [pullback(x, y, g) { x, _, g in g * 1.1283791670955126 * Foundation.exp(-x * x) }]
        case .sqrt: return [pullback(x, y, g) { _, y, g in g / (2 * y) }]
        case .tanh: return [pullback(x, y, g) { _, y, g in g * (1 - y * y) }]
        case .exp: return [pullback(x, y, g) { _, y, g in g * y }]
        case .log: return [pullback(x, y, g) { x, _, g in g / x }]
        case .neg: return [pullback(x, y, g) { _, _, g in -g }]
        case .abs: return [pullback(x, y, g) { x, _, g in x > 0 ? g : (x < 0 ? -g : 0) }]
        case .reciprocal: return [pullback(x, y, g) { _, y, g in -g * y * y }]
        case .floor, .ceil: return [pullback(x, y, g) { _, _, _ in 0 }]
        case .softplus: return [pullback(x, y, g) { x, _, g in g / (1 + Foundation.exp(-x)) }]
        case .softsign: return [pullback(x, y, g) { x, _, g in let d = 1 + Swift.abs(x); return g / (d * d) }]
        case let .hardSigmoid(alpha, beta):
            return [pullback(x, y, g) { x, _, g in let v = alpha * x + beta; return v > 0 && v < 1 ? g * alpha : 0 }]
        case .hardSwish:
            return [pullback(x, y, g) { x, _, g in x < -3 ? 0 : (x > 3 ? g : g * (x / 3 + 0.5)) }]
        case .gelu(tanh: false):
            return [pullback(x, y, g) { x, _, g in
                let cdf = 0.5 * (1 + Foundation.erf(x * 0.70710678118654752))
                let pdf = Foundation.exp(-0.5 * x * x) * 0.3989422804014327
                return g * (cdf + x * pdf)
            }]
        case .gelu(tanh: true):
            return [pullback(x, y, g) { x, _, g in
                let k: Float = 0.79788456080286536
                let t = Foundation.tanh(k * (x + 0.044715 * x * x * x))
                return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
            }]
        case let .clip(lo, hi): return [pullback(x, y, g) { x, _, g in x > lo && x < hi ? g : 0 }]
        case let .leakyRelu(alpha): return [pullback(x, y, g) { x, _, g in x < 0 ? alpha * g : g }]
        case let .thresholdedRelu(alpha): return [pullback(x, y, g) { x, _, g in x > alpha ? g : 0 }]
        case let .elu(alpha): return [pullback(x, y, g) { x, y, g in x < 0 ? g * (y + alpha) : g }]
        case let .celu(alpha): return [pullback(x, y, g) { x, _, g in x < 0 ? g * Foundation.exp(x / alpha) : g }]
        case let .selu(alpha, gamma):
            return [pullback(x, y, g) { x, _, g in x > 0 ? g * gamma : g * gamma * alpha * Foundation.exp(x) }]
        }
    }
}

extension Clip: Differentiable {
    /// Passes the gradient where the input lies strictly inside the bounds (PyTorch's hardtanh).
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        let (lo, hi) = bounds(Array(inputs.dropFirst()))
        return [pullback(required(inputs, 0), outputs[0], g) { x, _, g in x > lo && x < hi ? g : 0 }] + wanted.dropFirst().map { _ in nil }
    }
}

extension PassThrough: Differentiable {
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        [wanted[0] ? gradients[0] : nil] + wanted.dropFirst().map { _ in nil }
    }
}

extension Binary: Differentiable {
    /// Elementwise partial derivatives, then summed over each input's broadcast axes.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let y = outputs[0]
        if variadic {
            return inputs.enumerated().map { k, x -> Tensor? in
                guard wanted[k], let x else { return nil }
                switch kind {
                case .max, .min:
                    // The gradient goes to the inputs equal to the result.
                    let mask = zip(expand(x.floats, x.shape, to: y.shape), y.floats).map { $0 == $1 ? Float(1) : 0 }
                    return reduceToShape(Tensor(shape: y.shape, floats: zip(mask, g.floats).map(*)), x.shape)
                default:
                    let scale = isMean ? 1 / Float(inputs.count) : 1
                    return reduceToShape(Tensor(shape: g.shape, floats: g.floats.map { $0 * scale }), x.shape)
                }
            }
        }
        let a = required(inputs, 0), b = required(inputs, 1)
        guard a.dtype == .float32 else { return [nil, nil] }
        let av = expand(a.floats, a.shape, to: y.shape)
        let bv = expand(b.dtype == .float32 ? b.floats : b.asInts.map { Float($0) }, b.shape, to: y.shape)
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
        }
        return [
            wanted[0] ? reduceToShape(Tensor(shape: y.shape, floats: da), a.shape) : nil,
            wanted[1] && b.dtype == .float32 ? reduceToShape(Tensor(shape: y.shape, floats: db), b.shape) : nil,
        ]
    }
}

extension PRelu: Differentiable {
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        var tensors = inputs
        let x = required(inputs, 0), slope = required(inputs, 1)
        if let shape = channelwise(slope.shape.map { .known($0) }, input: x.shape.map { .known($0) }) {
            tensors[1] = slope.reshaped(shape.concrete!)
        }
        var grads = try elementwise.backward(tensors, outputs: outputs, gradients: gradients, wanted: wanted)
        if let ds = grads[1] { grads[1] = ds.reshaped(slope.shape) }
        return grads
    }
}
