import LafamGraph
import LafamTensor

/// Flat source indices of a strided walk over `shape` (row-major output order): an index map,
/// 8 bytes per output element, held to the memory budget.
func stridedIndices(_ shape: [Int], strides: [Int], offset: Int) throws -> [Int] {
    let count = try Sizes.elementCount(shape)
    try MemoryBudget.current.check(count: count, width: 8, for: "an index map of shape \(shape)")
    var out = [Int](repeating: 0, count: count)
    guard count > 0 else { return out }
    var index = [Int](repeating: 0, count: shape.count)
    var pos = offset
    for i in 0..<count {
        out[i] = pos
        var axis = shape.count - 1
        while axis >= 0 {
            index[axis] += 1
            pos += strides[axis]
            if index[axis] < shape[axis] { break }
            pos -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
    return out
}
