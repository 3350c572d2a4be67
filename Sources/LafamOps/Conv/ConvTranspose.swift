import LafamGraph
import LafamTensor

/// ONNX ConvTranspose (1-D to 3-D): the adjoint of Conv. Per image and group,
/// col = Wᵀ · X (GEMM), then col2im scatters the columns into the output (the adjoint of im2col).
struct ConvTranspose: Operator {
    var inputArity: ClosedRange<Int> { 2...3 }

    let node: NodeContext
    let group: Int
    let outputPadding: [Int]?
    let outputShape: [Int]?

    init(_ node: NodeContext) throws {
        self.node = node
        group = try node.int("group", default: 1)
        guard group >= 1 else { throw OpError("group must be ≥ 1, got \(group)") }
        outputPadding = try node.ints("output_padding")
        outputShape = try node.ints("output_shape")
        _ = try node.ints("kernel_shape").map { try Window(node, kernel: $0) }
    }

    /// The forward-conv window whose input is this op's output: same kernel, strides, dilations,
    /// with pads resolved from pads / auto_pad / output_shape as the ONNX specification says.
    private func geometry(input spatial: [Int], kernel: [Int]) throws -> (window: WindowVolume, out: [Int]) {
        let w = try Window(node, kernel: try node.ints("kernel_shape") ?? kernel)
        let r = spatial.count
        let extra = outputPadding ?? [Int](repeating: 0, count: r)
        guard extra.count == r, extra.allSatisfy({ (0...Window.largest).contains($0) }) else {
            throw OpError("output_padding \(extra) must hold \(r) values from 0 to \(Window.largest)")
        }
        if let shape = outputShape, shape.contains(where: { !(1...Window.largest).contains($0) }) {
            throw OpError("output_shape \(shape) must hold sizes from 1 to \(Window.largest)")
        }
        var begin = [Int](repeating: 0, count: r), end = begin, out = begin
        for i in 0..<r {
            let extent = (w.kernel[i] - 1) * w.dilations[i] + 1
            let overflow = "the output size along spatial axis \(i) overflows"
            let full = try Sizes.sum(Sizes.sum(Sizes.product(w.strides[i], spatial[i] - 1, overflow), extra[i], overflow), extent, overflow)
            let same = w.autoPad.hasPrefix("SAME") ? try spatial.map { try Sizes.product($0, w.strides[i], overflow) } : nil
            if let shape = outputShape ?? same {
                let target = shape.count == r ? shape[i] : shape[shape.count - r + i]
                // Floor division, as the specification's reference: a negative total pads the end.
                let total = full - target, half = Int((Double(total) / 2).rounded(.down))
                begin[i] = w.autoPad == "SAME_UPPER" ? half : total - half
                end[i] = total - begin[i]
                out[i] = target
            } else if w.autoPad == "VALID" {
                out[i] = full
            } else {
                begin[i] = w.pads[i]; end[i] = w.pads[i + r]
                out[i] = full - begin[i] - end[i]
            }
            guard out[i] > 0 else { throw OpError("output size \(out[i]) along spatial axis \(i) is not positive") }
        }
        _ = try Sizes.product(of: out, "the output's spatial size \(out) overflows")
        let lead = 3 - r
        var v = WindowVolume()
        for i in 0..<r {
            let j = i + lead
            v.size[j] = out[i]; v.kernel[j] = w.kernel[i]; v.stride[j] = w.strides[i]; v.dilation[j] = w.dilations[i]
            v.padBegin[j] = begin[i]; v.padEnd[j] = end[i]; v.out[j] = spatial[i]
        }
        return (v, out)
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X"), w = try required(inputs, 1, "W")
        try expect(x, [.float32], "X"); try expect(w, [.float32], "W")
        if let r = x.rank, !(3...5).contains(r) { throw OpError(unsupported: "X has rank \(r); 1-D to 3-D transposed convolutions are supported") }
        if let r = w.rank, let xr = x.rank, r != xr { throw OpError("W must have rank \(xr) like X, got \(r)") }
        if let b = optional(inputs, 2) { try expect(b, [.float32], "B"); try expectRank(b, 1, "B") }
        guard let xs = x.shape, let ws = w.shape else { return [facts(.float32, x.shape.map { $0.map { _ in .unknown } })] }
        if let c = xs[1].value, let wc = ws[0].value, c != wc { throw OpError("X has \(c) channels, W expects \(wc)") }
        let channels: Dim = try ws[1].value.map { .known(try Sizes.product($0, group, "W's output channels × group overflow")) } ?? .unknown
        if let m = channels.value, let length = optional(inputs, 2)?.shape?.first?.value, length != m {
            throw OpError("B has \(length) elements, but the output has \(m) channels")
        }
        guard let spatial = Array(xs[2...]).concrete, let kernel = Array(ws[2...]).concrete else {
            return [facts(.float32, [xs[0], channels] + xs.dropFirst(2).map { _ in .unknown })]
        }
        return [facts(.float32, [xs[0], channels] + (try geometry(input: spatial, kernel: kernel).out.map { .known($0) }))]
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), w = required(inputs, 1)
        let bias = optional(inputs, 2)
        let (n, c) = (x.shape[0], x.shape[1])
        let mg = w.shape[1], m = mg * group, cg = c / group
        let (v, spatialOut) = try geometry(input: Array(x.shape[2...]), kernel: Array(w.shape[2...]))
        let (inPlane, outPlane, k) = (v.outputCount, v.inputCount, mg * v.kernelCount)
        var out = [Float](repeating: 0, count: n * m * outPlane)
        let col = UnsafeMutablePointer<Float>.allocate(capacity: k * inPlane)
        defer { col.deallocate() }
        let xs = x.floats, ws = w.floats
        xs.withUnsafeBufferPointer { xp in
            ws.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    for b in 0..<n {
                        // ConvTranspose is the input gradient of the Conv with the same weights,
                        // whose outputs (per group) are this op's cg input channels.
                        gemmConvAdjoint(v, groups: group, outputs: cg, inputs: mg, w: wp.baseAddress!,
                                        dy: xp.baseAddress! + b * c * inPlane, dx: op.baseAddress! + b * m * outPlane, col: col)
                        finishOutput(bias: bias?.floats, residual: nil, activation: nil, channels: 0..<m, plane: outPlane, columns: 0..<outPlane, out: op.baseAddress! + b * m * outPlane)
                    }
                }
            }
        }
        return [Tensor(uncheckedShape: [n, m] + spatialOut, floats: out)]
    }
}

extension ConvTranspose: Differentiable {
    /// ConvTranspose is the adjoint of the Conv with the same weights (`geometry`'s window), so
    /// dX is that Conv of dY: per group, dX_g = W_g · im2col(dY_g); dW_g = X_g · im2col(dY_g)ᵀ
    /// summed over the batch; dB is dY summed over batch and space.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0), w = required(inputs, 1)
        let (n, c) = (x.shape[0], x.shape[1])
        let mg = w.shape[1], m = mg * group, cg = c / group
        let v = try geometry(input: Array(x.shape[2...]), kernel: Array(w.shape[2...])).window
        let (inPlane, outPlane, k) = (v.outputCount, v.inputCount, mg * v.kernelCount)
        var dx: [Float]? = wanted[0] ? [Float](repeating: 0, count: x.count) : nil
        var dw: [Float]? = wanted.count > 1 && wanted[1] ? [Float](repeating: 0, count: w.count) : nil
        try MemoryBudget.current.check(count: k * inPlane, width: 4, for: "ConvTranspose's gradient columns")
        let col = UnsafeMutablePointer<Float>.allocate(capacity: k * inPlane)
        defer { col.deallocate() }
        let gs = g.floats, xs = x.floats, ws = w.floats
        gs.withUnsafeBufferPointer { gp in
            xs.withUnsafeBufferPointer { xp in
                ws.withUnsafeBufferPointer { wp in
                    for b in 0..<n {
                        for grp in 0..<group {
                            im2col(v, channels: mg, x: gp.baseAddress! + (b * m + grp * mg) * outPlane, col: col)
                            if dx != nil {
                                dx!.withUnsafeMutableBufferPointer { dp in
                                    sgemm(m: cg, n: inPlane, k: k, a: wp.baseAddress! + grp * cg * k, lda: k, b: col, ldb: inPlane,
                                          c: dp.baseAddress! + (b * c + grp * cg) * inPlane, ldc: inPlane)
                                }
                            }
                            if dw != nil {
                                dw!.withUnsafeMutableBufferPointer { dp in
                                    sgemm(transB: true, m: cg, n: k, k: inPlane, a: xp.baseAddress! + (b * c + grp * cg) * inPlane, lda: inPlane,
                                          b: col, ldb: inPlane, beta: 1, c: dp.baseAddress! + grp * cg * k, ldc: k)
                                }
                            }
                        }
                    }
                }
            }
        }
        var result: [Tensor?] = [dx.map { Tensor(uncheckedShape: x.shape, floats: $0) }, dw.map { Tensor(uncheckedShape: w.shape, floats: $0) }]
        if inputs.count > 2, let bias = inputs[2] {
            result.append(wanted[2] ? Tensor(uncheckedShape: bias.shape, floats: channelSums(gs, batch: n, channels: m, plane: outPlane)) : nil)
        }
        return result
    }
}
