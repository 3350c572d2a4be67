import LafamTensor

/// Where the scale and zero point of a quantized tensor are in the graph (value indices), and
/// the axis a 1-D scale runs along: its integers q stand for (q − zero point) · scale.
public struct QuantizedValue: Sendable, Equatable {
    /// The scale (one value, or one per index of `axis`).
    public let scale: Int
    /// The zero point; nil for 0.
    public let zeroPoint: Int?
    /// The axis a 1-D scale runs along.
    public let axis: Int
}

extension Graph {
    /// The quantization of integer value `v`: from the op that writes it
    /// (`Operator.outputQuantization`, through ops that only move integers), else from a
    /// DequantizeLinear that reads it; nil for an integer tensor that stands for no real values
    /// (indices, shapes, int32 accumulators).
    public func quantization(of v: Int) -> QuantizedValue? {
        guard let type = values[v].facts?.dtype, [.int8, .uint8, .int16, .uint16].contains(type) else { return nil }
        var current = v
        for _ in 0..<64 {
            if let p = values[current].producer, let k = nodes[p].outputs.firstIndex(of: current),
               let source = nodes[p].op.outputQuantization(k) {
                let node = nodes[p]
                func input(_ i: Int) -> Int? { i < node.inputs.count ? node.inputs[i] : nil }
                switch source {
                case let .inputs(scale, zeroPoint, axis):
                    guard let s = input(scale) else { return nil }
                    return QuantizedValue(scale: s, zeroPoint: input(zeroPoint), axis: axis)
                case let .outputs(scale, zeroPoint):
                    return QuantizedValue(scale: node.outputs[scale], zeroPoint: node.outputs[zeroPoint], axis: 0)
                case .sameAs(let i):
                    guard let next = input(i) else { return nil }
                    current = next
                    continue
                }
            }
            break
        }
        for node in nodes where node.opType == "DequantizeLinear" && node.inputs.first == v && node.inputs.count >= 2 {
            guard let s = node.inputs[1] else { continue }
            var axis = 1
            if case .int(let a)? = node.attributes["axis"] { axis = a }
            return QuantizedValue(scale: s, zeroPoint: node.inputs.count > 2 ? node.inputs[2] : nil, axis: axis)
        }
        return nil
    }
}
