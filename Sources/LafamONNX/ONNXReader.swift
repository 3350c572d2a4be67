import CONNXProto
import Foundation
import LafamTensor

/// Reads an ONNX file with libprotobuf-c (code generated from `tools/onnx.proto`) into an
/// `ONNXModel`. Only regular files are read (`MappedFile`); external data files are resolved to
/// their real path, which must lie inside the model's real folder (symbolic links included); every
/// tensor's size is checked and held to the memory budget in force.
public enum ONNXReader {
    /// Reads and parses the ONNX file at `path`, with any external data from its folder. Throws
    /// a `LafamError` when the file cannot be read, is not a valid model, or a tensor is over
    /// the memory budget.
    public static func read(path: String) throws -> ONNXModel {
        let message: UnsafeMutablePointer<Onnx__ModelProto>
        do {
            let file = try MappedFile(path: path, what: "model")
            message = try unpack(file.bytes, path: path)
        } catch let e as FileReadError {
            throw LafamError.modelFile(path: path, reason: e.explanation)
        }
        // The mapping is gone here (protobuf-c copied what it keeps), so a model's weights are
        // not held by the file, the protobuf and the tensors at once while loading.
        defer { onnx__model_proto__free_unpacked(message, nil) }
        return try convert(message, path: path, baseDirectory: (path as NSString).deletingLastPathComponent)
    }

    /// Parses serialized ModelProto bytes. `baseDirectory` is where external data is looked up
    /// (nil: the model may not refer to external data, as for a model held in memory).
    public static func parse(_ bytes: Data, path: String, baseDirectory: String?) throws -> ONNXModel {
        try bytes.withUnsafeBytes { try parse($0, path: path, baseDirectory: baseDirectory) }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, path: String, baseDirectory: String?) throws -> ONNXModel {
        let message = try unpack(bytes, path: path)
        defer { onnx__model_proto__free_unpacked(message, nil) }
        return try convert(message, path: path, baseDirectory: baseDirectory)
    }

    /// The ModelProto in `bytes`, unpacked by protobuf-c (free it with `free_unpacked`).
    private static func unpack(_ bytes: UnsafeRawBufferPointer, path: String) throws -> UnsafeMutablePointer<Onnx__ModelProto> {
        guard bytes.count > 0, let base = bytes.baseAddress else { throw LafamError.modelFile(path: path, reason: "the file is empty") }
        guard let message = onnx__model_proto__unpack(nil, bytes.count, base.assumingMemoryBound(to: UInt8.self)) else {
            throw LafamError.modelFile(path: path, reason: "not a valid ONNX protobuf (truncated or another format)")
        }
        return message
    }

    /// The unpacked `message` as an `ONNXModel`. Initializers' raw bytes are released as they are
    /// decoded (see `readGraph`).
    private static func convert(_ message: UnsafeMutablePointer<Onnx__ModelProto>, path: String, baseDirectory: String?) throws -> ONNXModel {
        let proto = message.pointee
        guard let graph = proto.graph else {
            throw LafamError.modelFile(path: path, reason: "the model has no graph")
        }
        var opsets: [String: Int] = [:]
        for set in buffer(proto.opset_import, proto.n_opset_import) {
            guard let set else { continue }
            var domain = string(set.pointee.domain)
            if domain == "ai.onnx" { domain = "" }
            let version = Int(set.pointee.version)
            guard version >= 1 else {
                throw LafamError.modelFile(path: path, reason: "it imports opset \(version) of domain \(domain.isEmpty ? "ai.onnx" : domain); opset versions start at 1")
            }
            opsets[domain] = version
        }
        let irVersion = proto.has_ir_version != 0 ? Int(proto.ir_version) : 0
        // IR 3 and later must declare opsets; earlier files implied opset 1.
        if opsets[""] == nil && irVersion < 3 { opsets[""] = 1 }

        var metadata: [(key: String, value: String)] = []
        for entry in buffer(proto.metadata_props, proto.n_metadata_props) {
            guard let entry else { continue }
            metadata.append((string(entry.pointee.key), string(entry.pointee.value)))
        }
        let external = ExternalData(baseDirectory: baseDirectory)
        var budget = WeightBudget()
        let model = ONNXModel(
            irVersion: irVersion,
            opsets: opsets,
            producerName: string(proto.producer_name),
            producerVersion: string(proto.producer_version),
            domain: string(proto.domain),
            modelVersion: proto.has_model_version != 0 ? Int(proto.model_version) : 0,
            docString: string(proto.doc_string),
            metadata: metadata,
            graph: try readGraph(graph.pointee, external: external, budget: &budget)
        )
        // Every domain a node uses must be imported, with its opset version.
        for node in model.graph.nodes where model.opsets[node.domain] == nil {
            let domain = node.domain.isEmpty ? "ai.onnx" : node.domain
            throw LafamError.modelFile(path: path, reason: "node '\(node.name)' uses domain \(domain), but the model imports no opset of it")
        }
        return model
    }

    /// Reads a file holding one serialized TensorProto (as ONNX's test data sets do). Returns
    /// the tensor in lafam's compute type and the element type code stored in the file.
    public static func readTensorFile(path: String) throws -> (tensor: Tensor, elemType: Int) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path, what: "tensor file")
        } catch let e as FileReadError {
            throw LafamError.invalidArgument(e.description)
        }
        let message = onnx__tensor_proto__unpack(nil, file.bytes.count, file.bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
        guard let message else { throw LafamError.invalidArgument("'\(path)' is not a serialized TensorProto") }
        defer { onnx__tensor_proto__free_unpacked(message, nil) }
        let code = message.pointee.has_data_type != 0 ? Int(message.pointee.data_type) : 0
        let external = ExternalData(baseDirectory: (path as NSString).deletingLastPathComponent)
        var budget = WeightBudget()
        return (try readTensor(message.pointee, external: external, budget: &budget), code)
    }

    private static func readGraph(_ g: Onnx__GraphProto, external: ExternalData, budget: inout WeightBudget) throws -> ONNXGraph {
        var initializers: [String: Tensor] = [:]
        var order: [String] = []
        for t in buffer(g.initializer, g.n_initializer) {
            guard let t else { continue }
            let name = string(t.pointee.name)
            guard !name.isEmpty else { throw LafamError.invalidGraph("an initializer has no name") }
            guard initializers[name] == nil else { throw LafamError.invalidGraph("initializer '\(name)' is defined twice") }
            initializers[name] = try readTensor(t.pointee, external: external, budget: &budget)
            order.append(name)
            // The tensor holds its own copy: give protobuf-c's back now (set to nil so that
            // free_unpacked skips it), so the weights are not held twice at the peak of loading.
            if t.pointee.has_raw_data != 0, let data = t.pointee.raw_data.data {
                free(data)
                t.pointee.raw_data.data = nil
                t.pointee.raw_data.len = 0
            }
        }
        var nodes: [ONNXNode] = []
        nodes.reserveCapacity(g.n_node)
        for n in buffer(g.node, g.n_node) {
            guard let n else { continue }
            nodes.append(try readNode(n.pointee, index: nodes.count, external: external, budget: &budget))
        }
        return ONNXGraph(
            name: string(g.name),
            nodes: nodes,
            initializers: initializers,
            initializerOrder: order,
            inputs: buffer(g.input, g.n_input).compactMap { $0.map { readValueInfo($0.pointee) } },
            outputs: buffer(g.output, g.n_output).compactMap { $0.map { readValueInfo($0.pointee) } },
            valueInfo: buffer(g.value_info, g.n_value_info).compactMap { $0.map { readValueInfo($0.pointee) } }
        )
    }

    private static func readNode(_ n: Onnx__NodeProto, index: Int, external: ExternalData, budget: inout WeightBudget) throws -> ONNXNode {
        let opType = string(n.op_type)
        let outputs = buffer(n.output, n.n_output).map { string($0) }
        var name = string(n.name)
        // Unnamed nodes are common in older exports; name them after their first output so that
        // messages and taps can still refer to them.
        if name.isEmpty { name = outputs.first.map { "\(opType)_\($0)" } ?? "\(opType)_\(index)" }
        var attributes: [String: ONNXAttribute] = [:]
        for a in buffer(n.attribute, n.n_attribute) {
            guard let a else { continue }
            let attrName = string(a.pointee.name)
            do {
                attributes[attrName] = try readAttribute(a.pointee, external: external, budget: &budget)
            } catch let LafamError.invalidTensor(_, reason) {
                throw LafamError.invalidNode(node: name, opType: opType, reason: "attribute '\(attrName)': \(reason)")
            }
        }
        return ONNXNode(
            name: name,
            opType: opType,
            domain: string(n.domain) == "ai.onnx" ? "" : string(n.domain),
            inputs: buffer(n.input, n.n_input).map { string($0) },
            outputs: outputs,
            attributes: attributes
        )
    }

    private static func readAttribute(_ a: Onnx__AttributeProto, external: ExternalData, budget: inout WeightBudget) throws -> ONNXAttribute {
        var type = Int(a.type.rawValue)
        // Writers before IR 2 left `type` unset; infer it from the field that is present.
        if a.has_type == 0 || type == 0 {
            if a.n_floats > 0 { type = 6 } else if a.n_ints > 0 { type = 7 } else if a.n_strings > 0 { type = 8 }
            else if a.t != nil { type = 4 } else if a.has_s != 0 { type = 3 } else if a.has_i != 0 { type = 2 }
            else if a.has_f != 0 { type = 1 }
        }
        switch type {
        case 1: return .float(a.f)
        case 2: return .int(Int(a.i))
        case 3: return .string(string(a.s))
        case 4:
            guard let t = a.t else { throw LafamError.invalidTensor(name: string(a.name), reason: "tensor attribute without a tensor") }
            return .tensor(try readTensor(t.pointee, external: external, budget: &budget))
        case 6: return .floats(Array(UnsafeBufferPointer(start: a.floats, count: a.n_floats)))
        case 7: return .ints(UnsafeBufferPointer(start: a.ints, count: a.n_ints).map { Int($0) })
        case 8: return .strings(UnsafeBufferPointer(start: a.strings, count: a.n_strings).map { string($0) })
        default: return .unsupported(typeCode: type)
        }
    }

    private static func readValueInfo(_ v: Onnx__ValueInfoProto) -> ONNXValueInfo {
        var elemType = 0
        var shape: [Dim]? = nil
        let isTensor = v.type == nil || v.type!.pointee.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
        if let type = v.type, type.pointee.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE,
           let tensorType = type.pointee.tensor_type {
            elemType = tensorType.pointee.has_elem_type != 0 ? Int(tensorType.pointee.elem_type) : 0
            if let s = tensorType.pointee.shape {
                shape = buffer(s.pointee.dim, s.pointee.n_dim).map { d -> Dim in
                    guard let d else { return .unknown }
                    switch d.pointee.value_case {
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                        return d.pointee.dim_value >= 0 ? .known(Int(d.pointee.dim_value)) : .unknown
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                        let p = string(d.pointee.dim_param)
                        return p.isEmpty ? .unknown : .symbol(p)
                    default:
                        return .unknown
                    }
                }
            }
        }
        return ONNXValueInfo(name: string(v.name), elemType: elemType, shape: shape, isTensor: isTensor)
    }

    // MARK: tensors

    static func readTensor(_ t: Onnx__TensorProto, external: ExternalData, budget: inout WeightBudget) throws -> Tensor {
        let name = string(t.name)
        let dims = UnsafeBufferPointer(start: t.dims, count: t.n_dims).map { Int($0) }
        let count: Int
        do {
            count = try Sizes.elementCount(dims)
        } catch let e as TensorError {
            throw LafamError.invalidTensor(name: name, reason: e.reason)
        }
        let code = t.has_data_type != 0 ? Int(t.data_type) : 0
        let decoder = try ElementDecoder(code: code, tensor: name)
        try budget.add(count: count, for: name, dims: dims)
        if t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            var entries: [String: String] = [:]
            for e in buffer(t.external_data, t.n_external_data) {
                guard let e else { continue }
                entries[string(e.pointee.key)] = string(e.pointee.value)
            }
            return try external.withBytes(for: entries, tensor: name) { try decoder.decode(raw: $0, shape: dims, count: count) }
        }
        if t.has_raw_data != 0 {
            let raw = UnsafeRawBufferPointer(start: t.raw_data.data, count: t.raw_data.len)
            return try decoder.decode(raw: raw, shape: dims, count: count)
        }
        return try decoder.decodeTyped(t, shape: dims, count: count)
    }

    /// The memory the model's tensors take as they are read: each tensor, and all of them
    /// together, within the budget in force.
    struct WeightBudget {
        private var total = 0

        mutating func add(count: Int, for name: String, dims: [Int]) throws {
            // Elements are stored 8 bytes wide at most (float64, int64; strings are counted alike).
            let budget = MemoryBudget.current
            try budget.check(count: count, width: 8, for: "tensor '\(name)' of shape \(dims)")
            total = try Sizes.sum(total, count * 8, "the model's tensors overflow")
            try budget.check(total, for: "the model's tensors (up to '\(name)')")
        }
    }

    // MARK: C helpers

    static func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p)
    }

    static func string(_ b: ProtobufCBinaryData) -> String {
        guard let data = b.data, b.len > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: b.len), as: UTF8.self)
    }

    static func buffer<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> UnsafeBufferPointer<T> {
        UnsafeBufferPointer(start: p, count: p == nil ? 0 : n)
    }
}
