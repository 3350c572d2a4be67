import LafamTensor

// Between images and arrays on disk (this module) and the interpreter's tensors.

extension Tensor {
    /// The array's values as a tensor of the same element type (int32 and uint8 arrays become
    /// int32 and uint8 tensors).
    public init(_ array: NPYArray) {
        switch array.data {
        case .float32(let v): self.init(uncheckedShape: array.shape, floats: v)
        case .float64(let v): self.init(uncheckedShape: array.shape, doubles: v)
        case .int64(let v): self.init(uncheckedShape: array.shape, int64s: v)
        case .int32(let v): self.init(uncheckedShape: array.shape, storage: .int64(v.map { Int64($0) }), dtype: .int32)
        case .uint8(let v): self.init(uncheckedShape: array.shape, storage: .int64(v.map { Int64($0) }), dtype: .uint8)
        case .bool(let v): self.init(uncheckedShape: array.shape, bools: v)
        }
    }
}

extension NPYArray {
    /// The tensor as a numpy array of the nearest dtype `.npy` files here hold: float16 and
    /// bfloat16 widen to float32, integers other than int32 and uint8 to int64.
    public init(_ tensor: Tensor) throws {
        switch tensor.storage {
        case .float(let v): try self.init(shape: tensor.shape, data: .float32(v))
        case .double(let v): try self.init(shape: tensor.shape, data: .float64(v))
        case .int64(let v):
            switch tensor.dtype {
            case .int32: try self.init(shape: tensor.shape, data: .int32(v.map { Int32($0) }))
            case .uint8: try self.init(shape: tensor.shape, data: .uint8(v.map { UInt8($0) }))
            case .uint64 where v.contains(where: { $0 < 0 }):
                throw ImagingError.invalidArgument("uint64 values above 2^63 - 1 cannot be written as .npy (lafam writes int64)")
            default: try self.init(shape: tensor.shape, data: .int64(v))
            }
        case .bool(let v): try self.init(shape: tensor.shape, data: .bool(v))
        case .string: throw ImagingError.invalidArgument("string tensors cannot be written as .npy")
        }
    }
}

extension Preprocessing {
    /// `image` as a batch of one, of shape `shape(batch: 1)`, ready to feed to the model.
    public func tensor(_ image: RGBImage) throws -> Tensor {
        Tensor(uncheckedShape: shape(batch: 1), floats: try tensor(from: image))
    }
}
