import COpenBLAS
import LafamGraph
import LafamTensor

// Shared arithmetic of the quantization ops: the integer types' ranges, scales and zero points
// per tensor or per axis, and the requantization onnxruntime applies to integer accumulators.

/// The integer types a quantized tensor may have, with their ranges.
enum QuantizedType {
    /// The types QuantizeLinear writes and DequantizeLinear reads (int32 only for a bias).
    static let stored: Set<DType> = [.int8, .uint8, .int16, .uint16]
    /// The types of the integer-arithmetic ops' operands (QLinearConv, MatMulInteger, …).
    static let operands: Set<DType> = [.int8, .uint8]

    /// The smallest and largest value of `t`.
    static func range(_ t: DType) -> (lo: Float, hi: Float) {
        switch t {
        case .int8: return (-128, 127)
        case .uint8: return (0, 255)
        case .int16: return (-32768, 32767)
        case .uint16: return (0, 65535)
        // int32: the float32 values nearest its ends from inside (2³¹ − 1 is not a float32).
        default: return (-0x1p31, 0x1p31 - 128)
        }
    }
}

/// A scale and zero point per tensor, or per index of one axis: how a quantized tensor's
/// integers q stand for the real values (q − zero point) · scale (`Tensor.dequantized`).
struct QuantizationParameters {
    let scales: [Float]
    let zeroPoints: [Int64]
    /// For a tensor of `shape`: the parameters' count along their axis (1 per tensor) and the
    /// elements after that axis.
    private let count: Int, inner: Int

    /// The parameters for a tensor of `shape` from a scale input and an optional zero point
    /// (0 when absent): one element each per tensor, or 1-D ones of `shape[axis]` elements.
    init(scale: Tensor, zeroPoint: Tensor?, axis: Int, shape: [Int], what: String) throws {
        scales = scale.floats
        zeroPoints = zeroPoint?.int64s ?? [Int64](repeating: 0, count: scales.count)
        do {
            (_, count, inner) = try Tensor.quantizationAxis(shape: shape, scale: scale, zeroPoints: zeroPoints.count, axis: axis)
        } catch let e as TensorError {
            throw OpError("\(what): \(e.reason)")
        }
    }

    /// Visits each element of the tensor with its flat index and its parameters' index.
    func forEach(elements: Int, _ body: (_ flat: Int, _ parameter: Int) -> Void) {
        for i in 0..<elements { body(i, count == 1 ? 0 : (i / inner) % count) }
    }

    /// `x` quantized to `type`: round(x / scale) (half to even) + zero point, saturated.
    func quantize(_ x: [Float], shape: [Int], to type: DType) -> Tensor {
        let (lo, hi) = QuantizedType.range(type)
        var out = [Int64](repeating: 0, count: x.count)
        forEach(elements: x.count) { i, p in
            out[i] = saturated(roundedHalfEven(x[i] / scales[p]) + Float(zeroPoints[p]), (lo, hi))
        }
        return Tensor(uncheckedShape: shape, storage: .int64(out), dtype: type)
    }
}

/// The one value of input `i` (a scale), as float32; throws unless it holds exactly one.
func scalar(_ inputs: [Tensor?], _ i: Int) throws -> Float {
    let t = required(inputs, i)
    guard t.count == 1 else { throw OpError("input \(i) must hold one value (a scale), got shape \(t.shape)") }
    return t.floats[0]
}

/// The one integer of zero point input `i` (0 when absent); throws unless it holds exactly one.
func zeroPointScalar(_ inputs: [Tensor?], _ i: Int) throws -> Int64 {
    guard let t = optional(inputs, i) else { return 0 }
    guard t.count == 1 else { throw OpError("input \(i) must hold one value (a zero point), got shape \(t.shape)") }
    return t.int64s[0]
}

/// An integer accumulator scaled to `type` as onnxruntime requantizes: round(acc · scale) (half
/// to even, in float32) + zero point, saturated.
@inline(__always)
func requantize(_ acc: Double, scale: Float, zeroPoint: Int64, range: (lo: Float, hi: Float)) -> Int64 {
    saturated(roundedHalfEven(Float(acc) * scale) + Float(zeroPoint), range)
}

/// `v` clamped to `range` as an integer; NaN (a NaN input, a zero scale) becomes the range's
/// low end, as onnxruntime's x86 kernels saturate it.
@inline(__always)
func saturated(_ v: Float, _ range: (lo: Float, hi: Float)) -> Int64 {
    v.isNaN ? Int64(range.lo) : Int64(min(max(v, range.lo), range.hi))
}

/// `v` rounded half to even as `rounded(.toNearestOrEven)` does, without its call to rintf:
/// adding and taking away 1.5 · 2²³ rounds in the hardware's rounding mode. Magnitudes beyond
/// 2²² are clamped there first (every quantized type's range lies far inside).
@inline(__always)
func roundedHalfEven(_ v: Float) -> Float {
    let clamped = min(max(v, -0x1p22), 0x1p22)
    return (clamped + 0x1.8p23) - 0x1.8p23
}

/// The integers of `q` minus their zero point (one per tensor, or one per index of `axis`), as
/// float64: products and sums of such values stay exact below 2⁵³, so GEMMs of them are the
/// integer arithmetic the ops define.
func centred(_ q: Tensor, zeroPoint: Tensor?, axis: Int, what: String) throws -> [Double] {
    let v = q.int64s
    guard let zeroPoint else { return v.map(Double.init) }
    let zp = zeroPoint.int64s
    if zp.count == 1 { return v.map { Double($0 - zp[0]) } }
    let a = try normalizeAxis(axis, rank: q.rank)
    guard zeroPoint.rank == 1, q.shape[a] == zp.count else {
        throw OpError("\(what)'s zero point \(zeroPoint.shape) is neither one value nor one per index of axis \(a) of \(q.shape)")
    }
    let inner = q.shape[(a + 1)...].reduce(1, *), n = q.shape[a]
    return v.indices.map { Double(v[$0] - zp[($0 / inner) % n]) }
}

/// Row-major double-precision GEMM, C = op(A)·op(B) (A m×k, B k×n after `op`).
func dgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int, c: UnsafeMutablePointer<Double>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
        return
    }
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), 1, a, blasint(lda), b, blasint(ldb), 0, c, blasint(ldc))
}

/// Checks the inputs of an op laid out as QLinearConv's and QLinearMatMul's — a, a_scale,
/// a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point — with b's parameters per tensor
/// or (when `perAxisB`) per axis; returns the facts of a, b and y_zero_point.
func expectQLinearOperands(_ inputs: [ValueFacts?], names: (a: String, b: String, y: String), perAxisB: Bool) throws
    -> (a: ValueFacts, b: ValueFacts, y: ValueFacts) {
    let a = try required(inputs, 0, names.a), b = try required(inputs, 3, names.b)
    try expect(a, QuantizedType.operands, names.a); try expect(b, QuantizedType.operands, names.b)
    try expectScale(optional(inputs, 1), names.a + "_scale"); try expectZeroPoint(optional(inputs, 2), matching: a.dtype, names.a + "_zero_point")
    try expectScale(optional(inputs, 4), names.b + "_scale", perAxis: perAxisB)
    try expectZeroPoint(optional(inputs, 5), matching: b.dtype, names.b + "_zero_point")
    try expectScale(optional(inputs, 6), names.y + "_scale")
    let y = try required(inputs, 7, names.y + "_zero_point")
    try expect(y, QuantizedType.operands, names.y + "_zero_point")
    return (a, b, y)
}

/// Integer accumulators of `shape` requantized to `type` (`requantize`): runs of `run` elements
/// share a scale, run j taking `scales[j mod scales.count]` (a conv's output channels: runs of
/// a plane; a matrix product's columns: runs of 1).
func requantized(_ acc: [Double], shape: [Int], to type: DType, zeroPoint: Int64, scales: [Float], run: Int) -> Tensor {
    let range = QuantizedType.range(type)
    let out = [Int64](unsafeUninitializedCapacity: acc.count) { buffer, count in
        acc.withUnsafeBufferPointer { a in
            var i = 0, j = 0
            while i < a.count {
                let scale = scales[j % scales.count], end = min(i + max(run, 1), a.count)
                while i < end { buffer[i] = requantize(a[i], scale: scale, zeroPoint: zeroPoint, range: range); i += 1 }
                j += 1
            }
        }
        count = acc.count
    }
    return Tensor(uncheckedShape: shape, storage: .int64(out), dtype: type)
}

/// Checks a scale input: float32 with one element, or (when `perAxis`) a 1-D vector.
func expectScale(_ f: ValueFacts?, _ what: String, perAxis: Bool = false) throws {
    guard let f else { throw OpError("missing required input \(what)") }
    try expect(f, [.float32], what)
    if let r = f.rank, r > 1 || (!perAxis && f.shape?.first.flatMap(\.value).map { $0 != 1 } ?? false) {
        throw OpError("\(what) must be \(perAxis ? "a scalar or a 1-D vector" : "a scalar"), got shape \(f.shape!.shapeString)")
    }
}

/// Checks a zero point input against the type of the tensor it belongs to (absent is 0).
func expectZeroPoint(_ f: ValueFacts?, matching type: DType, _ what: String) throws {
    guard let f else { return }
    guard f.dtype == type else { throw OpError("\(what) is \(f.dtype), but the tensor it belongs to is \(type)") }
    if let r = f.rank, r > 1 { throw OpError("\(what) must be a scalar or a 1-D vector, got rank \(r)") }
}
