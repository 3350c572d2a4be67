import LafamTensor

/// What is known about a value before running: its element type, its shape (with symbolic or
/// unknown dimensions) and, for constants and small shape vectors, its contents.
public struct ValueFacts: Sendable {
    /// The element type.
    public var dtype: DType
    /// nil when even the rank is unknown.
    public var shape: [Dim]?
    /// The value itself, when it is a constant (initializer, Constant node, or folded).
    public var constant: Tensor?
    /// For small int64 shape tensors (vectors, and up to 64 elements through Reshape, Slice and
    /// Transpose, in row-major order): the elements, each possibly symbolic (`Shape` of an
    /// input with a dynamic batch yields `[batch, 3, 224, 224]`). Lets `Reshape` infer shapes
    /// through Shape/Gather/Concat chains that cannot be folded to constants. For the bool vector
    /// `Equal` makes of such vectors: 1 for true, 0 for false (what `Where` then selects by).
    public var elements: [Dim]?

    /// Facts from their parts; `elements` is filled in from `constant` when that is an int64
    /// scalar or vector and `elements` is not given.
    public init(dtype: DType, shape: [Dim]?, constant: Tensor? = nil, elements: [Dim]? = nil) {
        self.dtype = dtype
        self.shape = shape
        self.constant = constant
        self.elements = elements
        if let constant, elements == nil, constant.dtype == .int64, constant.rank <= 1 {
            self.elements = constant.int64s.map { .known(Int($0)) }
        }
    }

    /// The facts of a known tensor: its type, its concrete shape and the tensor as the constant.
    public init(_ tensor: Tensor) {
        self.init(dtype: tensor.dtype, shape: tensor.shape.map { .known($0) }, constant: tensor)
    }

    /// The number of axes, or nil when even the rank is unknown.
    public var rank: Int? { shape?.count }
}
