import Foundation
import LafamGraph
import LafamTensor

// Every elementwise float32 function lafam implements, and the ONNX ops that compute them
// (`registerActivations` at the end). Adding an activation is one struct here and one line
// there: it then runs as an op, has a gradient rule and fuses into a Conv's output pass.

struct Relu: Activation {
    var name: String { "Relu" }
    func callAsFunction(_ x: Float) -> Float { max(x, 0) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { x > 0 ? dy : 0 }
    var clampBounds: (low: Float, high: Float)? { (0, .infinity) }
}

/// Clip as an activation: the bounds are attributes (opset < 11) or constant inputs (`Clip`).
struct Clamp: Activation {
    let low, high: Float
    var name: String { "Clip" }
    func callAsFunction(_ x: Float) -> Float { min(max(x, low), high) }
    /// Strictly inside the bounds only, as PyTorch's hardtanh.
    func gradient(x: Float, y: Float, dy: Float) -> Float { x > low && x < high ? dy : 0 }
    var clampBounds: (low: Float, high: Float)? { (low, high) }
}

struct LeakyRelu: Activation {
    let alpha: Float
    var name: String { "LeakyRelu" }
    func callAsFunction(_ x: Float) -> Float { x < 0 ? alpha * x : x }
    func gradient(x: Float, y: Float, dy: Float) -> Float { x < 0 ? alpha * dy : dy }
}

struct ThresholdedRelu: Activation {
    let alpha: Float
    var name: String { "ThresholdedRelu" }
    func callAsFunction(_ x: Float) -> Float { x > alpha ? x : 0 }
    func gradient(x: Float, y: Float, dy: Float) -> Float { x > alpha ? dy : 0 }
}

struct Elu: Activation {
    let alpha: Float
    var name: String { "Elu" }
    func callAsFunction(_ x: Float) -> Float { x < 0 ? alpha * (exp(x) - 1) : x }
    func gradient(x: Float, y: Float, dy: Float) -> Float { x < 0 ? dy * (y + alpha) : dy }
}

struct Celu: Activation {
    let alpha: Float
    var name: String { "Celu" }
    func callAsFunction(_ x: Float) -> Float { max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { x < 0 ? dy * exp(x / alpha) : dy }
}

struct Selu: Activation {
    let alpha, gamma: Float
    var name: String { "Selu" }
    func callAsFunction(_ x: Float) -> Float { x > 0 ? gamma * x : gamma * alpha * (exp(x) - 1) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { x > 0 ? dy * gamma : dy * gamma * alpha * exp(x) }
}

/// 1 / (1 + e^−x).
struct Sigmoid: Activation {
    var name: String { "Sigmoid" }
    func callAsFunction(_ x: Float) -> Float { sigmoid(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy * y * (1 - y) }
}

/// x · Sigmoid(x), as a Sigmoid node and a Mul node compute it (`fuse-silu` makes one node of them).
struct Silu: Activation {
    var name: String { "SiLU" }
    func callAsFunction(_ x: Float) -> Float { x * sigmoid(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float {
        let s = sigmoid(x)
        return dy * (s + x * s * (1 - s))
    }
}

struct HardSigmoid: Activation {
    let alpha, beta: Float
    var name: String { "HardSigmoid" }
    func callAsFunction(_ x: Float) -> Float { max(0, min(1, alpha * x + beta)) }
    func gradient(x: Float, y: Float, dy: Float) -> Float {
        let v = alpha * x + beta
        return v > 0 && v < 1 ? dy * alpha : 0
    }
}

/// x · max(0, min(1, x/6 + ½)).
struct HardSwish: Activation {
    var name: String { "HardSwish" }
    func callAsFunction(_ x: Float) -> Float { x * max(0, min(1, x / 6 + 0.5)) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { x < -3 ? 0 : (x > 3 ? dy : dy * (x / 3 + 0.5)) }
}

/// Gelu with the exact erf form (through `erfApproximation`) or the tanh approximation.
struct Gelu: Activation {
    let tanhApproximation: Bool
    var name: String { "Gelu" }

    func callAsFunction(_ x: Float) -> Float {
        if tanhApproximation { return 0.5 * x * (1 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x))) }
        return 0.5 * x * (1 + erfApproximation(x * 0.70710678118654752))
    }

    func gradient(x: Float, y: Float, dy: Float) -> Float {
        if tanhApproximation {
            let k: Float = 0.79788456080286536
            let t = tanh(k * (x + 0.044715 * x * x * x))
            return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
        }
        let cdf = 0.5 * (1 + erf(x * 0.70710678118654752))
        let pdf = exp(-0.5 * x * x) * 0.3989422804014327
        return dy * (cdf + x * pdf)
    }
}

struct Erf: Activation {
    var name: String { "Erf" }
    func callAsFunction(_ x: Float) -> Float { erfApproximation(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy * 1.1283791670955126 * exp(-x * x) }
}

struct Tanh: Activation {
    var name: String { "Tanh" }
    func callAsFunction(_ x: Float) -> Float { tanh(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy * (1 - y * y) }
}

struct Softplus: Activation {
    var name: String { "Softplus" }
    func callAsFunction(_ x: Float) -> Float { log1p(exp(x)) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy / (1 + exp(-x)) }
}

struct Softsign: Activation {
    var name: String { "Softsign" }
    func callAsFunction(_ x: Float) -> Float { x / (1 + abs(x)) }
    func gradient(x: Float, y: Float, dy: Float) -> Float {
        let d = 1 + abs(x)
        return dy / (d * d)
    }
}

struct SquareRoot: Activation {
    var name: String { "Sqrt" }
    func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy / (2 * y) }
}

struct Exponential: Activation {
    var name: String { "Exp" }
    func callAsFunction(_ x: Float) -> Float { exp(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy * y }
}

struct Logarithm: Activation {
    var name: String { "Log" }
    func callAsFunction(_ x: Float) -> Float { log(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy / x }
}

struct Negation: Activation {
    var name: String { "Neg" }
    func callAsFunction(_ x: Float) -> Float { -x }
    func gradient(x: Float, y: Float, dy: Float) -> Float { -dy }
}

struct AbsoluteValue: Activation {
    var name: String { "Abs" }
    func callAsFunction(_ x: Float) -> Float { abs(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { x > 0 ? dy : (x < 0 ? -dy : 0) }
}

struct Reciprocal: Activation {
    var name: String { "Reciprocal" }
    func callAsFunction(_ x: Float) -> Float { 1 / x }
    func gradient(x: Float, y: Float, dy: Float) -> Float { -dy * y * y }
}

/// Floor, Ceil and Round (half to even, as ONNX): piecewise constant, so their gradient is zero.
struct Rounding: Activation {
    let rule: FloatingPointRoundingRule
    var name: String { rule == .down ? "Floor" : rule == .up ? "Ceil" : "Round" }
    func callAsFunction(_ x: Float) -> Float { x.rounded(rule) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { 0 }
}

/// −1, 0 or 1 (NaN stays NaN); its gradient is zero.
struct Sign: Activation {
    var name: String { "Sign" }
    func callAsFunction(_ x: Float) -> Float { x > 0 ? 1 : x < 0 ? -1 : x.isNaN ? x : 0 }
    func gradient(x: Float, y: Float, dy: Float) -> Float { 0 }
}

struct Sine: Activation {
    var name: String { "Sin" }
    func callAsFunction(_ x: Float) -> Float { sin(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy * cos(x) }
}

struct Cosine: Activation {
    var name: String { "Cos" }
    func callAsFunction(_ x: Float) -> Float { cos(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { -dy * sin(x) }
}

struct Tangent: Activation {
    var name: String { "Tan" }
    func callAsFunction(_ x: Float) -> Float { tan(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy * (1 + y * y) }
}

struct ArcSine: Activation {
    var name: String { "Asin" }
    func callAsFunction(_ x: Float) -> Float { asin(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy / (1 - x * x).squareRoot() }
}

struct ArcCosine: Activation {
    var name: String { "Acos" }
    func callAsFunction(_ x: Float) -> Float { acos(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { -dy / (1 - x * x).squareRoot() }
}

struct ArcTangent: Activation {
    var name: String { "Atan" }
    func callAsFunction(_ x: Float) -> Float { atan(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy / (1 + x * x) }
}

struct HyperbolicSine: Activation {
    var name: String { "Sinh" }
    func callAsFunction(_ x: Float) -> Float { sinh(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy * cosh(x) }
}

struct HyperbolicCosine: Activation {
    var name: String { "Cosh" }
    func callAsFunction(_ x: Float) -> Float { cosh(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy * sinh(x) }
}

struct AreaHyperbolicSine: Activation {
    var name: String { "Asinh" }
    func callAsFunction(_ x: Float) -> Float { asinh(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy / (x * x + 1).squareRoot() }
}

struct AreaHyperbolicCosine: Activation {
    var name: String { "Acosh" }
    func callAsFunction(_ x: Float) -> Float { acosh(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy / (x * x - 1).squareRoot() }
}

struct AreaHyperbolicTangent: Activation {
    var name: String { "Atanh" }
    func callAsFunction(_ x: Float) -> Float { atanh(x) }
    func gradient(x: Float, y: Float, dy: Float) -> Float { dy / (1 - x * x) }
}

/// ONNX Sigmoid, 1 / (1 + e^−x), shared by Sigmoid and SiLU.
@inline(__always)
func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

extension OperatorRegistry {
    /// The ONNX ops of the activations above (Clip, whose bounds may be inputs, is `Clip`).
    mutating func registerActivations() {
        func activation(_ opType: String, _ make: @escaping @Sendable (NodeContext) throws -> any Activation) {
            register(opType) { ActivationOp(activation: try make($0)) }
        }
        activation("Relu") { _ in Relu() }
        activation("LeakyRelu") { LeakyRelu(alpha: try $0.float("alpha", default: 0.01)) }
        activation("ThresholdedRelu") { ThresholdedRelu(alpha: try $0.float("alpha", default: 1)) }
        activation("Elu") { Elu(alpha: try $0.float("alpha", default: 1)) }
        activation("Celu") { Celu(alpha: try $0.float("alpha", default: 1)) }
        activation("Selu") {
            Selu(alpha: try $0.float("alpha", default: 1.67326319217681884765625), gamma: try $0.float("gamma", default: 1.05070102214813232421875))
        }
        activation("Sigmoid") { _ in Sigmoid() }
        activation("HardSigmoid") { HardSigmoid(alpha: try $0.float("alpha", default: 0.2), beta: try $0.float("beta", default: 0.5)) }
        activation("HardSwish") { _ in HardSwish() }
        activation("Gelu") { Gelu(tanhApproximation: try $0.require("approximate", in: ["none", "tanh"], default: "none") == "tanh") }
        activation("Erf") { _ in Erf() }
        activation("Tanh") { _ in Tanh() }
        activation("Softplus") { _ in Softplus() }
        activation("Softsign") { _ in Softsign() }
        activation("Sqrt") { _ in SquareRoot() }
        activation("Exp") { _ in Exponential() }
        activation("Log") { _ in Logarithm() }
        activation("Neg") { _ in Negation() }
        activation("Abs") { _ in AbsoluteValue() }
        activation("Reciprocal") { _ in Reciprocal() }
        activation("Floor") { _ in Rounding(rule: .down) }
        activation("Ceil") { _ in Rounding(rule: .up) }
        activation("Round") { _ in Rounding(rule: .toNearestOrEven) }
        activation("Sign") { _ in Sign() }
        activation("Sin") { _ in Sine() }
        activation("Cos") { _ in Cosine() }
        activation("Tan") { _ in Tangent() }
        activation("Asin") { _ in ArcSine() }
        activation("Acos") { _ in ArcCosine() }
        activation("Atan") { _ in ArcTangent() }
        activation("Sinh") { _ in HyperbolicSine() }
        activation("Cosh") { _ in HyperbolicCosine() }
        activation("Asinh") { _ in AreaHyperbolicSine() }
        activation("Acosh") { _ in AreaHyperbolicCosine() }
        activation("Atanh") { _ in AreaHyperbolicTangent() }
    }
}
