import Foundation

extension Tensor {
    /// This tensor's elements converted to `target`, with ONNX Cast semantics: floats become
    /// integers by truncation toward zero (then wrap to the target's width; NaN and out-of-range
    /// values of int64 saturate), anything becomes bool by `≠ 0`, bool becomes 0/1, strings parse
    /// as numbers and numbers print in their shortest round-trip form. `truncatingBFloat16`
    /// rounds to bfloat16 toward zero, as Cast before opset 19 did.
    public func converted(to target: DType, truncatingBFloat16: Bool = false) throws -> Tensor {
        if target == dtype { return self }
        let storage: Storage
        switch target.storageClass {
        case .float:
            var values: [Float]
            switch self.storage {
            case .float(let a): values = a
            case .double(let a) where target == .float16: values = a.map { Float(Float16($0)) }
            case .string(let a): values = try a.map { Float(try Tensor.parse($0)) }
            default: values = asDoubles.map { Float($0) }
            }
            if target == .bfloat16 && truncatingBFloat16 {
                values = values.map { $0.isNaN ? $0 : Float(bitPattern: $0.bitPattern & 0xFFFF_0000) }
                return Tensor(uncheckedShape: shape, storage: .float(values), dtype: target)
            }
            storage = .float(values)
        case .double:
            if case .string(let a) = self.storage { storage = .double(try a.map(Tensor.parse)) } else { storage = .double(asDoubles) }
        case .int64:
            switch self.storage {
            case .int64(let a): storage = .int64(a)
            case .bool(let a): storage = .int64(a.map { $0 ? 1 : 0 })
            case .string(let a): storage = .int64(try a.map { Tensor.integer(try Tensor.parse($0), unsigned: target == .uint64) })
            default: storage = .int64(asDoubles.map { Tensor.integer($0, unsigned: target == .uint64) })
            }
        case .bool:
            if case .string(let a) = self.storage { storage = .bool(try a.map { try Tensor.parse($0) != 0 }) } else { storage = .bool(asDoubles.map { $0 != 0 }) }
        case .string:
            storage = .string(descriptions)
        }
        return Tensor(uncheckedShape: shape, storage: storage).conformed(to: target)
    }

    /// Each element printed as numpy's `str` does for its type.
    private var descriptions: [String] {
        switch storage {
        case .float(let a):
            switch dtype {
            case .float16: return a.map { Float16($0).description }
            default: return a.map(\.description)
            }
        case .double(let a): return a.map(\.description)
        case .int64(let a): return dtype == .uint64 ? a.map { UInt64(bitPattern: $0).description } : a.map(\.description)
        case .bool(let a): return a.map { $0 ? "True" : "False" }
        case .string(let a): return a
        }
    }

    /// A float truncated toward zero to an integer's bit pattern; NaN gives 0 and values beyond
    /// the 64-bit range saturate.
    private static func integer(_ v: Double, unsigned: Bool) -> Int64 {
        guard !v.isNaN else { return 0 }
        let t = v.rounded(.towardZero)
        if unsigned && t >= 0x1p63 { return Int64(bitPattern: t >= 0x1p64 ? .max : UInt64(t)) }
        return Int64(exactly: t) ?? (t < 0 ? .min : .max)
    }

    /// A string element as a number: decimal or scientific notation, "inf", "-INF", "NaN".
    private static func parse(_ s: String) throws -> Double {
        let trimmed = s.trimmingCharacters(in: .whitespaces)
        if let v = Double(trimmed) { return v }
        switch trimmed.lowercased() {
        case "inf", "+inf", "infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan", "-nan": return .nan
        default: throw TensorError("cannot read the string '\(s)' as a number")
        }
    }
}

extension Tensor {
    /// The real values a quantized tensor's integers stand for, (q − zero point) · scale in
    /// float32: one scale and zero point for the whole tensor, or 1-D ones with one element per
    /// index of `axis` (ONNX's DequantizeLinear). Throws when the parameters fit neither.
    public func dequantized(scale: Tensor, zeroPoint: Tensor?, axis: Int) throws -> Tensor {
        let q = try integerValues(), scales = try scale.floatValues()
        let zeros = try zeroPoint?.integerValues() ?? [Int64](repeating: 0, count: scales.count)
        let (_, n, inner) = try Tensor.quantizationAxis(shape: shape, scale: scale, zeroPoints: zeros.count, axis: axis)
        var out = [Float](repeating: 0, count: q.count)
        for i in q.indices {
            let p = n == 1 ? 0 : (i / inner) % n
            out[i] = Float(q[i] - zeros[p]) * scales[p]
        }
        return Tensor(uncheckedShape: shape, floats: out)
    }

    /// This float tensor divided elementwise by the scale of a quantized tensor of its shape (one
    /// value, or one per index of `axis`): a gradient with respect to the integers turned into one
    /// with respect to the real values they stand for.
    package func dividedByQuantizationScale(_ scale: Tensor, axis: Int) throws -> Tensor {
        let g = try floatValues(), scales = try scale.floatValues()
        let (_, n, inner) = try Tensor.quantizationAxis(shape: shape, scale: scale, zeroPoints: scales.count, axis: axis)
        return Tensor(uncheckedShape: shape, floats: g.indices.map { g[$0] / scales[n == 1 ? 0 : ($0 / inner) % n] })
    }

    /// For parameters of `scale`'s shape on a tensor of `shape`: the axis they vary along (nil
    /// per tensor), their count and the elements after that axis, each index's parameter being
    /// (flat index / inner) mod count.
    package static func quantizationAxis(shape: [Int], scale: Tensor, zeroPoints: Int, axis: Int) throws -> (axis: Int?, count: Int, inner: Int) {
        guard zeroPoints == scale.count else {
            throw TensorError("a scale of \(scale.count) elements and a zero point of \(zeroPoints) do not match")
        }
        if scale.count == 1 && scale.rank <= 1 { return (nil, 1, 1) }
        let a = axis < 0 ? axis + shape.count : axis
        guard scale.rank == 1, a >= 0, a < shape.count, shape[a] == scale.count else {
            throw TensorError("a scale of shape \(scale.shape) is neither one value nor one per index of axis \(axis) of \(shape)")
        }
        return (a, scale.count, shape[(a + 1)...].reduce(1, *))
    }
}
