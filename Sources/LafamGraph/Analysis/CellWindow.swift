/// The input pixels one pixel of a feature map sees: its receptive field as a window on the
/// graph input, per spatial axis (height, width). Pixel i of the map reads input pixels
/// `i·stride + offset ..< i·stride + offset + size` (a negative offset reaches into padding).
public struct CellWindow: Sendable, Equatable {
    /// The map's step in input pixels, per axis.
    public var stride: [Int]
    /// The window's extent in input pixels, per axis.
    public var size: [Int]
    /// Where pixel 0's window starts, per axis.
    public var offset: [Int]

    /// A window of `size` input pixels, stepping by `stride`, the first starting at `offset`.
    public init(stride: [Int], size: [Int], offset: [Int]) {
        self.stride = stride
        self.size = size
        self.offset = offset
    }

    /// A graph input's own pixels.
    static let identity = CellWindow(stride: [1, 1], size: [1, 1], offset: [0, 0])

    /// This map seen through a sliding window of `kernel`, `strides`, `dilations` and begin pads.
    func through(kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int]) -> CellWindow? {
        guard [kernel.count, strides.count, dilations.count, padsBegin.count].allSatisfy({ $0 == 2 }) else { return nil }
        var out = self
        for axis in 0..<2 {
            // Checked: the attributes are bounded, but a long chain of them need not be.
            let (s, o1) = stride[axis].multipliedReportingOverflow(by: strides[axis])
            let (reach, o2) = ((kernel[axis] - 1) * dilations[axis]).multipliedReportingOverflow(by: stride[axis])
            let (shift, o3) = padsBegin[axis].multipliedReportingOverflow(by: stride[axis])
            guard !o1, !o2, !o3, size[axis] <= Int.max - reach, offset[axis] >= Int.min + shift else { return nil }
            (out.stride[axis], out.size[axis], out.offset[axis]) = (s, size[axis] + reach, offset[axis] - shift)
        }
        return out
    }

    /// The window covering both maps' windows, when they step alike.
    func union(_ other: CellWindow) -> CellWindow? {
        guard stride == other.stride else { return nil }
        let start = zip(offset, other.offset).map { min($0, $1) }
        let end = (0..<2).map { max(offset[$0] + size[$0], other.offset[$0] + other.size[$0]) }
        return CellWindow(stride: stride, size: zip(end, start).map { $0 - $1 }, offset: start)
    }
}

extension Graph {
    /// The window on the graph's first input that each pixel of the 4-D map `v` sees, following
    /// the ops' `spatialReach` back to that input; nil when an op on the way does not declare a
    /// fixed window (global pooling, resizing, reshaping, an op that does not say).
    public func cellWindow(of v: Int) -> CellWindow? {
        guard let input = inputs.first, values[input].facts?.shape?.count == 4 else { return nil }
        var windows: [Int: CellWindow] = [input: .identity]
        let needed = ancestors(of: v)
        for node in nodes where node.outputs.contains(where: needed.contains) {
            let facts = node.inputs.map { $0.flatMap { values[$0].facts } }
            let window: CellWindow?
            switch node.op.spatialReach(facts) {
            case .unknown:
                window = nil
            case .pointwise:
                // Constants (weights, biases, slopes) have no pixels; every other input must.
                let maps = node.inputs.compactMap { $0 }.filter { values[$0].facts?.constant == nil }
                window = maps.isEmpty ? nil : maps.dropFirst().reduce(windows[maps[0]]) { w, m in windows[m].flatMap { w?.union($0) } }
            case let .window(kernel, strides, dilations, padsBegin):
                window = node.inputs.first.flatMap { $0 }.flatMap { windows[$0] }?
                    .through(kernel: kernel, strides: strides, dilations: dilations, padsBegin: padsBegin)
            }
            if let window { for o in node.outputs { windows[o] = window } }
        }
        return windows[v]
    }

    /// `v` and every value it is computed from.
    private func ancestors(of v: Int) -> Set<Int> {
        var seen: Set<Int> = [v], stack = [v]
        while let current = stack.popLast() {
            guard let p = values[current].producer else { continue }
            for case let i? in nodes[p].inputs where seen.insert(i).inserted { stack.append(i) }
        }
        return seen
    }
}
