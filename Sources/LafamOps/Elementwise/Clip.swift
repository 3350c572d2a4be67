import LafamGraph
import LafamTensor

/// Clip: bounds are attributes up to opset 10 and optional scalar inputs from opset 11, and
/// every numeric type from opset 11. On float32 with constant bounds it is the `Clamp` activation,
/// so it fuses into a Conv's output pass.
struct Clip: ActivationComputing {
    var inputArity: ClosedRange<Int> { boundsAreInputs ? 1...3 : 1...1 }

    let attrMin: Float, attrMax: Float
    let boundsAreInputs: Bool

    init(_ node: NodeContext) throws {
        boundsAreInputs = node.opset >= 11
        attrMin = try node.float("min", default: -.greatestFiniteMagnitude)
        attrMax = try node.float("max", default: .greatestFiniteMagnitude)
    }

    /// `.pointwise`: each output pixel reads the same pixel of its inputs.
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach { .pointwise }

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
    func clamp(_ boundInputs: [Tensor?]) -> Clamp {
        guard boundsAreInputs else { return Clamp(low: attrMin, high: attrMax) }
        return Clamp(low: optional(boundInputs, 0).map { Float($0.asDoubles[0]) } ?? -.greatestFiniteMagnitude,
                     high: optional(boundInputs, 1).map { Float($0.asDoubles[0]) } ?? .greatestFiniteMagnitude)
    }

    /// The clamp, when X is float32 and the bounds are attributes or constants.
    func activation(_ inputs: [ValueFacts?]) -> (any Activation)? {
        guard inputs.first??.dtype == .float32 else { return nil }
        let bounds = inputs.dropFirst().map { $0.map { $0.constant } }
        guard bounds.allSatisfy({ $0 == nil || $0! != nil }) else { return nil }
        return clamp(bounds.map { $0 ?? nil })
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0)
        let lo = optional(inputs, 1), hi = optional(inputs, 2)
        switch x.storage {
        case .float:
            return try ActivationOp(activation: clamp(Array(inputs.dropFirst()))).run([x])
        case .double(let v):
            let l = lo?.doubles[0] ?? -.greatestFiniteMagnitude, h = hi?.doubles[0] ?? .greatestFiniteMagnitude
            return [Tensor(uncheckedShape: x.shape, doubles: v.map { Swift.min(Swift.max($0, l), h) })]
        case .int64(let v) where x.dtype == .uint64:
            let l = lo.map { UInt64(bitPattern: $0.int64s[0]) } ?? .min, h = hi.map { UInt64(bitPattern: $0.int64s[0]) } ?? .max
            return [Tensor(uncheckedShape: x.shape, int64s: v.map { Int64(bitPattern: Swift.min(Swift.max(UInt64(bitPattern: $0), l), h)) })]
        case .int64(let v):
            let l = lo?.int64s[0] ?? .min, h = hi?.int64s[0] ?? .max
            return [Tensor(uncheckedShape: x.shape, int64s: v.map { Swift.min(Swift.max($0, l), h) })]
        default:
            throw OpError("Clip needs numbers, got \(x.dtype)")
        }
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }
}

extension Clip: Differentiable {
    /// The clamp's: the gradient passes where the input lies strictly inside the bounds.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard wanted[0], let g = gradients[0] else { return wanted.map { _ in nil } }
        return [clamp(Array(inputs.dropFirst())).pullback(required(inputs, 0), outputs[0], g)] + wanted.dropFirst().map { _ in nil }
    }
}
