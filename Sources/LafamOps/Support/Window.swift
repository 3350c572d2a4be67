import LafamGraph
import LafamTensor

/// Parses the spatial window attributes common to Conv and the pools (1, 2 or 3 spatial axes).
struct Window: Sendable {
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    /// Begin pads per spatial axis, then end pads (ONNX order).
    var pads: [Int]
    var autoPad: String
    var ceilMode: Bool

    init(_ node: NodeContext, kernel: [Int]?) throws {
        let k = try kernel ?? node.ints("kernel_shape") ?? { throw OpError("attribute kernel_shape is required") }()
        guard k.allSatisfy({ $0 > 0 }) else { throw OpError("kernel_shape \(k) must hold positive sizes") }
        guard (1...3).contains(k.count) else { throw OpError(unsupported: "\(k.count)-D windows are not supported (1-D to 3-D are)") }
        let rank = k.count
        self.kernel = k
        strides = try node.ints("strides") ?? [Int](repeating: 1, count: rank)
        dilations = try node.ints("dilations") ?? [Int](repeating: 1, count: rank)
        pads = try node.ints("pads") ?? [Int](repeating: 0, count: 2 * rank)
        autoPad = try node.require("auto_pad", in: ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"], default: "NOTSET")
        ceilMode = try node.int("ceil_mode", default: 0) != 0
        guard strides.count == rank, strides.allSatisfy({ $0 > 0 }) else { throw OpError("strides \(strides) must hold \(rank) positive values") }
        guard dilations.count == rank, dilations.allSatisfy({ $0 > 0 }) else { throw OpError("dilations \(dilations) must hold \(rank) positive values") }
        guard pads.count == 2 * rank, pads.allSatisfy({ $0 >= 0 }) else { throw OpError("pads \(pads) must hold \(2 * rank) non-negative values") }
        // Window sizes beyond 2³¹ exist in no real model; bounding them keeps the window
        // arithmetic below from overflowing whatever the input sizes.
        for (name, values) in [("kernel_shape", self.kernel), ("strides", strides), ("dilations", dilations), ("pads", pads)]
        where values.contains(where: { $0 > Self.largest }) {
            throw OpError("\(name) \(values) holds a value over \(Self.largest)")
        }
    }

    /// The largest kernel size, stride, dilation or pad accepted.
    static let largest = Int(Int32.max)

    var spatialRank: Int { kernel.count }

    /// Effective begin/end pads and output size for one spatial axis of input size `n`.
    func resolve(axis i: Int, size n: Int) throws -> (begin: Int, end: Int, out: Int) {
        // Input sizes come from declared shapes and may be as large as Int allows.
        guard n <= Int.max - 4 * Self.largest else { throw OpError("spatial size \(n) is too large for a window") }
        let extent = dilations[i] * (kernel[i] - 1) + 1
        switch autoPad {
        case "VALID":
            guard n >= extent else { throw OpError("input size \(n) is smaller than the window \(extent)") }
            return (0, 0, (n - extent) / strides[i] + 1)
        case "SAME_UPPER", "SAME_LOWER":
            let out = (n + strides[i] - 1) / strides[i]
            let total = max(0, (out - 1) * strides[i] + extent - n)
            let small = total / 2
            return autoPad == "SAME_UPPER" ? (small, total - small, out) : (total - small, small, out)
        default:
            let begin = pads[i], end = pads[i + kernel.count]
            let span = n + begin + end - extent
            guard span >= 0 else { throw OpError("padded input size \(n + begin + end) is smaller than the window \(extent)") }
            var out = (ceilMode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1
            // A ceil-mode window must start inside the input or its begin padding.
            if ceilMode && (out - 1) * strides[i] >= n + begin { out -= 1 }
            return (begin, end, out)
        }
    }

    /// Which input pixels an output pixel reads, on input spatial axes `spatial` (the begin pads
    /// of auto_pad SAME depend on the input's size: `.unknown` when that is not known).
    func reach(spatial: [Dim]) -> SpatialReach {
        guard spatial.count == spatialRank else { return .unknown }
        var begins: [Int] = []
        for i in 0..<spatialRank {
            if autoPad == "NOTSET" || autoPad == "VALID" { begins.append(autoPad == "VALID" ? 0 : pads[i]); continue }
            guard let n = spatial[i].value, let r = try? resolve(axis: i, size: n) else { return .unknown }
            begins.append(r.begin)
        }
        return .window(kernel: kernel, strides: strides, dilations: dilations, padsBegin: begins)
    }

    /// Static output spatial dims: symbolic/unknown inputs give unknown outputs.
    func outputDims(_ spatial: [Dim]) throws -> [Dim] {
        guard spatial.count == spatialRank else {
            throw OpError("the input has \(spatial.count) spatial axes, the window \(spatialRank)")
        }
        return try spatial.enumerated().map { i, d in
            guard let n = d.value else { return .unknown }
            return .known(try resolve(axis: i, size: n).out)
        }
    }

    /// The window over concrete spatial sizes, as three axes (depth, height, width): missing
    /// leading axes have size 1, kernel 1, stride 1 and no padding, so one 3-D kernel serves
    /// 1-D, 2-D and 3-D ops.
    func volume(_ spatial: [Int]) throws -> WindowVolume {
        let lead = 3 - spatial.count
        var v = WindowVolume()
        for axis in 0..<spatial.count {
            let r = try resolve(axis: axis, size: spatial[axis])
            let j = axis + lead
            v.size[j] = spatial[axis]; v.kernel[j] = kernel[axis]; v.stride[j] = strides[axis]
            v.dilation[j] = dilations[axis]; v.padBegin[j] = r.begin; v.padEnd[j] = r.end; v.out[j] = r.out
        }
        _ = try Sizes.product(of: v.size, "the input's spatial size \(spatial) overflows")
        _ = try Sizes.product(of: v.out, "the output's spatial size \(v.out) overflows")
        _ = try Sizes.product(of: v.kernel, "the window \(v.kernel) overflows")
        return v
    }
}

/// A resolved window over three spatial axes (depth, height, width).
struct WindowVolume: Sendable, Equatable {
    var size = [1, 1, 1], kernel = [1, 1, 1], stride = [1, 1, 1], dilation = [1, 1, 1]
    var padBegin = [0, 0, 0], padEnd = [0, 0, 0], out = [1, 1, 1]

    var inputCount: Int { size[0] * size[1] * size[2] }
    var outputCount: Int { out[0] * out[1] * out[2] }
    var kernelCount: Int { kernel[0] * kernel[1] * kernel[2] }
}
