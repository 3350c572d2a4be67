import LafamGraph
import LafamTensor

/// An elementwise float32 function y = f(x) with its derivative: an activation (Relu, Sigmoid,
/// Gelu, …) or a unary math op (Sqrt, Exp, …). One value describes it everywhere it is used: the
/// op that computes it (`ActivationOp`), its gradient rule, and a Conv's fused output pass
/// (`fuse-conv-output-pass`), so a new activation is one struct in `Activations.swift`.
///
/// The loops below have default implementations; each conforming type gets its own copy with
/// `callAsFunction` inlined, so calling one through `any Activation` costs one dynamic call per
/// tensor (or row), not per element.
public protocol Activation: Sendable {
    /// The op name for messages and profiles (`Relu`, `Clip`).
    var name: String { get }
    /// f(x), exactly as the ONNX op computes it.
    func callAsFunction(_ x: Float) -> Float
    /// dL/dx from x, y = f(x) and dL/dy.
    func gradient(x: Float, y: Float, dy: Float) -> Float
    /// f as a clamp of x to [low, high] (Relu: [0, ∞)), which lafam's C kernels apply as they store.
    var clampBounds: (low: Float, high: Float)? { get }

    /// y[i] = f(x[i]) for i < count, x and y distinct.
    func apply(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int)
    /// y[i] = f(y[i]): in place through one pointer, so the loop vectorises (through two equal
    /// pointers LLVM's alias check falls back to a scalar loop).
    func applyInPlace(_ y: UnsafeMutablePointer<Float>, count: Int)
    /// y[i] = f(y[i] + r[i]): a residual Add and this activation in one pass, with the same float
    /// operations as the two separate ops.
    func applyAdding(_ r: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int)
    /// dx[i] = gradient(x[i], y[i], dy[i]).
    func pullback(x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int)
}

extension Activation {
    /// Default: nil, the activation is not a clamp.
    public var clampBounds: (low: Float, high: Float)? { nil }

    /// Default: a plain loop calling `self` on each element.
    public func apply(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = self(x[i]) }
    }

    /// Default: a plain loop replacing each element with `self` of it.
    public func applyInPlace(_ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = self(y[i]) }
    }

    /// Default: a plain loop adding `r` and applying `self` element by element.
    public func applyAdding(_ r: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = self(y[i] + r[i]) }
    }

    /// Default: a plain loop calling `gradient(x:y:dy:)` on each element.
    public func pullback(x: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dx[i] = gradient(x: x[i], y: y[i], dy: dy[i]) }
    }
}

/// An op that computes an activation of its first input, when its other inputs (if any) have
/// these facts: what a pass needs to fuse it into the op before it.
public protocol ActivationComputing: Operator {
    /// The activation this node applies to input 0, or nil when it is not one for these inputs
    /// (a Clip whose bounds are not constants).
    func activation(_ inputs: [ValueFacts?]) -> (any Activation)?
}

/// The op of an activation without parameters beyond its attributes: Relu, Sigmoid, Erf, …
/// Register your own activation as `registry.register("Mish") { _ in ActivationOp(activation: Mish()) }`:
/// it then runs, differentiates and fuses into a Conv's output pass like lafam's own.
public struct ActivationOp: ActivationComputing {
    /// The function this op applies to its input.
    public let activation: any Activation

    /// The op applying `activation` elementwise to one float32 input.
    public init(activation: any Activation) { self.activation = activation }

    /// Exactly one input, X.
    public var inputArity: ClosedRange<Int> { 1...1 }

    /// Always `activation`, whatever the inputs.
    public func activation(_ inputs: [ValueFacts?]) -> (any Activation)? { activation }

    /// One float32 output of X's shape; throws `OpError` when X is missing or not float32.
    public func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X")
        try expect(x, [.float32], "X")
        return [facts(.float32, x.shape)]
    }

    /// One thread on purpose: shared out through `KernelThreads` the loop is a call per share,
    /// and ConvNeXt's Erf took 17.6 ms on two threads against 8.8 ms on one.
    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0).floats
        let y = [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
            if !x.isEmpty { x.withUnsafeBufferPointer { activation.apply($0.baseAddress!, to: buffer.baseAddress!, count: x.count) } }
            initialized = x.count
        }
        return [Tensor(uncheckedShape: required(inputs, 0).shape, floats: y)]
    }

    /// `.perImage`: each element depends on its input element alone.
    public func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour { .perImage }

    /// `.pointwise`: each output pixel reads the same input pixel.
    public func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }
}

extension ActivationOp: Differentiable {
    /// dL/dX elementwise from X, Y and dL/dY, through the activation's `gradient`.
    public func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return [nil] }
        return [activation.pullback(required(inputs, 0), outputs[0], g)]
    }
}

extension Activation {
    /// dL/dx for a whole tensor x with output y and output gradient g.
    func pullback(_ x: Tensor, _ y: Tensor, _ g: Tensor) -> Tensor {
        let xs = x.floats, ys = y.floats, gs = g.floats
        return Tensor(uncheckedShape: x.shape, floats: [Float](unsafeUninitializedCapacity: xs.count) { dx, initialized in
            guard !xs.isEmpty else { initialized = 0; return }
            xs.withUnsafeBufferPointer { xp in
                ys.withUnsafeBufferPointer { yp in
                    gs.withUnsafeBufferPointer { gp in
                        pullback(x: xp.baseAddress!, y: yp.baseAddress!, dy: gp.baseAddress!, dx: dx.baseAddress!, count: xs.count)
                    }
                }
            }
            initialized = xs.count
        })
    }
}
