import LafamGraph
import LafamTensor

extension OperatorRegistry {
    /// Every op lafam implements, for the default ONNX domain.
    public static let standard: OperatorRegistry = {
        var r = OperatorRegistry()
        r.registerActivations()
        r.register("Conv") { try Conv($0) }
        r.register("ConvTranspose") { try ConvTranspose($0) }
        r.register("Resize") { try Resize($0, upsample: false) }
        r.register("Upsample") { try Resize($0, upsample: true) }
        r.register("Gemm") { try Gemm($0) }
        r.register("MatMul") { _ in MatMul() }
        r.register("Einsum") { try Einsum($0) }
        r.register("MaxPool") { try Pool($0, max: true) }
        r.register("AveragePool") { try Pool($0, max: false) }
        r.register("GlobalAveragePool") { _ in GlobalPool(isMax: false) }
        r.register("GlobalMaxPool") { _ in GlobalPool(isMax: true) }
        r.register("BatchNormalization") { try BatchNorm($0) }
        r.register("LayerNormalization") { try LayerNorm($0) }
        r.register("LRN") { try LRN($0) }
        r.register("Softmax") { try Softmax($0, kind: .softmax) }
        r.register("LogSoftmax") { try Softmax($0, kind: .logSoftmax) }
        r.register("Hardmax") { try Softmax($0, kind: .hardmax) }
        r.register("InstanceNormalization") { try InstanceNorm($0) }
        r.register("Clip") { try Clip($0) }
        r.register("Add") { _ in Binary(kind: .add, variadic: false) }
        r.register("Sub") { _ in Binary(kind: .sub, variadic: false) }
        r.register("Mul") { _ in Binary(kind: .mul, variadic: false) }
        r.register("Div") { _ in Binary(kind: .div, variadic: false) }
        r.register("Pow") { _ in Binary(kind: .pow, variadic: false) }
        r.register("Mod") { node in Binary(kind: try node.int("fmod", default: 0) != 0 ? .fmod : .mod, variadic: false) }
        r.register("Sum") { _ in Binary(kind: .add, variadic: true) }
        r.register("Mean") { _ in Binary(kind: .add, variadic: true, isMean: true) }
        r.register("Max") { _ in Binary(kind: .max, variadic: true) }
        r.register("Min") { _ in Binary(kind: .min, variadic: true) }
        r.register("PRelu") { PRelu($0) }
        let comparisons: [(String, Compare.Kind)] = [
            ("Equal", .equal), ("Less", .less), ("Greater", .greater), ("LessOrEqual", .lessOrEqual), ("GreaterOrEqual", .greaterOrEqual),
        ]
        for (name, kind) in comparisons { r.register(name) { _ in Compare(kind: kind) } }
        let logical: [(String, Logical.Kind)] = [("And", .and), ("Or", .or), ("Xor", .xor), ("Not", .not)]
        for (name, kind) in logical { r.register(name) { _ in Logical(kind: kind) } }
        r.register("Where") { _ in Where() }
        r.register("Expand") { _ in Expand() }
        r.register("Tile") { _ in Tile() }
        r.register("Range") { _ in RangeOp() }
        r.register("Identity") { try PassThrough($0, dropout: false) }
        r.register("Dropout") { try PassThrough($0, dropout: true) }
        r.register("Reshape") { try Reshape($0) }
        r.register("Flatten") { try Flatten($0) }
        r.register("Squeeze") { try SqueezeUnsqueeze($0, unsqueeze: false) }
        r.register("Unsqueeze") { try SqueezeUnsqueeze($0, unsqueeze: true) }
        r.register("Transpose") { try Transpose($0) }
        r.register("Concat") { try Concat($0) }
        r.register("Split") { try Split($0) }
        r.register("Slice") { try Slice($0) }
        r.register("Gather") { try Gather($0) }
        r.register("ScatterND") { try ScatterND($0) }
        r.register("Pad") { try Pad($0) }
        r.register("Shape") { try ShapeOp($0) }
        r.register("Constant") { try ConstantOp($0) }
        r.register("ConstantOfShape") { try ConstantOfShape($0) }
        r.register("Cast") { try Cast($0, like: false) }
        r.register("CastLike") { try Cast($0, like: true) }
        let reductions: [(String, Reduce.Kind)] = [
            ("ReduceMean", .mean), ("ReduceSum", .sum), ("ReduceMax", .max), ("ReduceMin", .min), ("ReduceProd", .prod),
            ("ReduceL1", .l1), ("ReduceL2", .l2), ("ReduceSumSquare", .sumSquare), ("ReduceLogSum", .logSum),
            ("ReduceLogSumExp", .logSumExp),
        ]
        for (name, kind) in reductions { r.register(name) { try Reduce($0, kind: kind) } }
        r.register("ArgMax") { try ArgExtreme($0, max: true) }
        r.register("ArgMin") { try ArgExtreme($0, max: false) }
        r.registerQuantization()
        return r
    }()
}

extension OperatorRegistry {
    /// The quantization ops of the default domain, and exactly the com.microsoft ops
    /// onnxruntime's quantizer writes into QOperator models that lafam implements (any other
    /// com.microsoft op is reported as unsupported by name).
    mutating func registerQuantization() {
        for domain in ["", "com.microsoft"] {
            register("QuantizeLinear", domain: domain) { try QuantizeLinear($0) }
            register("DequantizeLinear", domain: domain) { try DequantizeLinear($0) }
        }
        register("DynamicQuantizeLinear") { _ in DynamicQuantizeLinear() }
        register("QLinearConv") { try QLinearConv($0) }
        register("ConvInteger") { try ConvInteger($0) }
        register("QLinearMatMul") { _ in QLinearMatMul() }
        register("MatMulInteger") { _ in MatMulInteger() }
        register("QLinearAdd", domain: "com.microsoft") { _ in QLinearBinary(isMul: false) }
        register("QLinearMul", domain: "com.microsoft") { _ in QLinearBinary(isMul: true) }
        register("QLinearGlobalAveragePool", domain: "com.microsoft") { try QLinearGlobalAveragePool($0) }
        register("QLinearConcat", domain: "com.microsoft") { try QLinearConcat($0) }
        register("QGemm", domain: "com.microsoft") { try QGemm($0) }
        register("QLinearSigmoid", domain: "com.microsoft") { _ in QLinearUnary(activation: Sigmoid()) }
        register("QLinearLeakyRelu", domain: "com.microsoft") { QLinearUnary(activation: LeakyRelu(alpha: try $0.float("alpha", default: 0.01))) }
    }
}
