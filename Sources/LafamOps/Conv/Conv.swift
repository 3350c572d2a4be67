import LafamGraph
import LafamTensor

/// ONNX Conv (1-D to 3-D, channels first). The algorithm (`ConvAlgorithm`: im2col + SGEMM,
/// pointwise SGEMM, direct depthwise kernels, the AVX2 stem kernel, Winograd) is chosen once per
/// specialised graph; passes may fuse a residual Add and an activation into its output pass
/// (`epilogue`) and pick Winograd for it.
struct Conv: Operator {
    var inputArity: ClosedRange<Int> { 2...3 }

    let window: Window?
    let kernelAttr: [Int]?
    let group: Int
    let node: NodeContext
    /// What the output pass applies after the bias (nothing unless a pass fused nodes in).
    let epilogue: ConvEpilogue
    /// Geometry and algorithm for the shapes this op was specialised to.
    let plan: ConvPlan?

    init(_ node: NodeContext) throws {
        self.node = node
        kernelAttr = try node.ints("kernel_shape")
        group = try node.int("group", default: 1)
        guard group >= 1 else { throw OpError("group must be ≥ 1, got \(group)") }
        // The window needs the kernel size, which may come from the weight's shape.
        window = try kernelAttr.map { try Window(node, kernel: $0) }
        epilogue = ConvEpilogue()
        plan = nil
    }

    private init(_ base: Conv, epilogue: ConvEpilogue, plan: ConvPlan?) {
        (window, kernelAttr, group, node) = (base.window, base.kernelAttr, base.group, base.node)
        self.epilogue = epilogue
        self.plan = plan
    }

    private func window(for weightShape: [Int]) throws -> Window {
        if let window { return window }
        return try Window(node, kernel: Array(weightShape[2...]))
    }

    func infer(_ inputs: [ValueFacts?]) throws -> [ValueFacts] {
        let x = try required(inputs, 0, "X"), w = try required(inputs, 1, "W")
        try expect(x, [.float32], "X"); try expect(w, [.float32], "W")
        if let r = x.rank, !(3...5).contains(r) { throw OpError(unsupported: "X has rank \(r); 1-D to 3-D convolutions (rank 3 to 5) are supported") }
        if let r = w.rank, let xr = x.rank, r != xr { throw OpError("W must have rank \(xr) like X, got rank \(r) \(w.shape!.shapeString)") }
        if let b = optional(inputs, 2) { try expect(b, [.float32], "B"); try expectRank(b, 1, "B") }
        guard let xs = x.shape, let ws = w.shape else { return [facts(.float32, x.shape.map { $0.map { _ in .unknown } })] }
        if let c = xs[1].value, let wc = ws[1].value, c != wc * group {
            throw OpError("X has \(c) channels, but W expects \(wc) per group × group \(group) = \(wc * group)")
        }
        if let m = ws[0].value, m % group != 0 { throw OpError("W has \(m) output channels, not divisible by group \(group)") }
        if let m = ws[0].value, let length = optional(inputs, 2)?.shape?.first?.value, length != m {
            throw OpError("B has \(length) elements, but W has \(m) output channels")
        }
        var kernel = kernelAttr
        if kernel == nil, let k = Array(ws[2...]).concrete { kernel = k }
        guard let kernel else { return [facts(.float32, [xs[0], ws[0]] + xs.dropFirst(2).map { _ in .unknown })] }
        if let k = Array(ws[2...]).concrete, k != kernel { throw OpError("kernel_shape \(kernel) does not match W's spatial shape \(k)") }
        let spatial = try Window(node, kernel: kernel).outputDims(Array(xs[2...]))
        return [facts(.float32, [xs[0], ws[0]] + spatial)]
    }

    /// Its window over X, once the kernel size is known (from kernel_shape or W's shape).
    func spatialReach(_ inputs: [ValueFacts?]) -> SpatialReach {
        guard let xs = inputs.first??.shape, xs.count >= 3, let ws = inputs.count > 1 ? inputs[1]?.shape : nil, ws.count == xs.count,
              let w = (window ?? Array(ws[2...]).concrete.flatMap { try? Window(node, kernel: $0) }) else { return .unknown }
        return w.reach(spatial: Array(xs[2...]))
    }

    /// Per-image sizes of this conv on an input and weight of these shapes.
    func geometry(input x: [Int], weight w: [Int]) throws -> ConvGeometry {
        ConvGeometry(c: x[1], m: w[0], cg: w[1], group: group, v: try window(for: w).volume(Array(x[2...])))
    }

    /// The plan for these shapes: the specialised one, or (for an op run unspecialised, as in
    /// constant folding) the same choice made now.
    private func plan(input x: [Int], weight w: [Int]) throws -> ConvPlan {
        if let plan, plan.input == x, plan.weight == w { return plan }
        let g = try geometry(input: x, weight: w)
        return ConvPlan(input: x, weight: w, geometry: g, algorithm: .choose(for: g))
    }

    func specialized(for inputs: [ValueFacts?]) throws -> any Operator {
        guard let x = inputs[0]?.shape?.concrete, let w = inputs[1]?.shape?.concrete else { return self }
        return Conv(self, epilogue: epilogue, plan: try plan(input: x, weight: w))
    }

    /// This conv with `epilogue` applied in its output pass (its node then reads the residual as
    /// a fourth input).
    func fused(_ epilogue: ConvEpilogue) -> Conv { Conv(self, epilogue: epilogue, plan: plan) }

    /// This conv computed by `algorithm` (its specialised plan's geometry kept).
    func computed(by algorithm: ConvAlgorithm) -> Conv? {
        plan.map { Conv(self, epilogue: epilogue, plan: ConvPlan(input: $0.input, weight: $0.weight, geometry: $0.geometry, algorithm: algorithm)) }
    }

    func batchBehaviour(_ inputs: [ValueFacts?], carryingBatch: [Bool]) -> BatchBehaviour {
        epilogue.hasResidual ? elementwiseBatchBehaviour(inputs, carryingBatch: carryingBatch) : firstInputBatchBehaviour(carryingBatch)
    }

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = required(inputs, 0), w = required(inputs, 1)
        let bs = optional(inputs, 2)?.floats
        let residual = epilogue.hasResidual ? required(inputs, 3).floats : nil
        let plan = try self.plan(input: x.shape, weight: w.shape)
        let geometry = plan.geometry, v = geometry.v
        let (n, c, m) = (x.shape[0], x.shape[1], w.shape[0])
        let (inCount, outCount) = (v.inputCount, v.outputCount)
        let activation = epilogue.activation
        let xs = x.floats, ws = w.floats
        let workers = geometry.multiplyAdds >= ConvGeometry.parallelWorkThreshold ? KernelThreads.count : 1
        let pieces = geometry.pieces(workers: workers)
        let ow = v.out[2], k = geometry.cg * v.kernelCount
        let colSize: Int
        if case .im2col = plan.algorithm { colSize = k * pieces.map { $0.columns.count }.max()! } else { colSize = 0 }
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: colSize * workers)
        defer { cols.deallocate() }
        // Every element is written below (GEMM with beta 0, or the kernels' own stores), so the
        // buffer is not cleared first.
        let out = [Float](unsafeUninitializedCapacity: n * m * outCount) { op, initialized in
            initialized = n * m * outCount
            guard n * m * outCount > 0 else { return }
            xs.withUnsafeBufferPointer { xp in
                ws.withUnsafeBufferPointer { wp in
                    switch plan.algorithm {
                    case .winograd(let weights):
                        winogradConv(geometry, weights: weights, x: xp.baseAddress!, out: op.baseAddress!, images: n, workers: workers) { b, channels, columns in
                            finishOutput(bias: bs, residual: residual.map { ($0, b * m * outCount) }, activation: activation,
                                         channels: channels, plane: outCount, columns: columns, out: op.baseAddress! + b * m * outCount)
                        }
                    case .smallInput:
                        smallInputConv(geometry, x: xp.baseAddress!, w: wp.baseAddress!, out: op.baseAddress!, images: n, workers: workers,
                                       bias: bs, residual: residual, activation: activation)
                    case .im2col, .pointwise, .depthwise3x3, .depthwiseStride1, .depthwiseDirect:
                        for b in 0..<n {
                            let xi = xp.baseAddress! + b * c * inCount
                            let oi = op.baseAddress! + b * m * outCount
                            // Worker w takes pieces w, w + workers, …; pieces write disjoint outputs.
                            KernelThreads.run(workers) { worker in
                                for piece in stride(from: worker, to: pieces.count, by: workers).map({ pieces[$0] }) {
                                    let (g, wOffset, xOffset, oOffset) = geometry.restricted(to: piece.channels)
                                    let (pw, px, po) = (wp.baseAddress! + wOffset, xi + xOffset, oi + oOffset)
                                    switch plan.algorithm {
                                    case .depthwise3x3:
                                        // Without a residual the AVX2 kernel may finish the output itself.
                                        let finish = residual == nil ? KernelClamp(activation).map {
                                            KernelFinish(bias: bs, firstChannel: piece.channels.lowerBound, clamp: $0)
                                        } : nil
                                        if depthwise3x3(g, x: px, w: pw, out: po, finish: finish) { continue }
                                    case .depthwiseStride1:
                                        depthwiseStride1(g, x: px, w: pw, out: po)
                                    case .depthwiseDirect:
                                        depthwiseDirect(g, x: px, w: pw, out: po)
                                    case .pointwise:
                                        pointwiseConv(g, x: px, w: pw, out: po, columns: piece.columns)
                                    default:
                                        gemmConv(g, x: px, w: pw, out: po, rows: (piece.columns.lowerBound / ow)..<(piece.columns.upperBound / ow),
                                                 col: cols + worker * colSize)
                                    }
                                    finishOutput(bias: bs, residual: residual.map { ($0, b * m * outCount) }, activation: activation,
                                                 channels: piece.channels, plane: outCount, columns: piece.columns, out: oi)
                                }
                            }
                        }
                    }
                }
            }
        }
        let spatialOut = Array(v.out.suffix(x.rank - 2))
        return [Tensor(uncheckedShape: [n, m] + spatialOut, floats: out)]
    }
}

extension Conv: Differentiable {
    /// dX: per group col = W_gᵀ·dY_g, then col2im (depthwise: the direct kernel's adjoint);
    /// dW: dY_g · im2col(X_g)ᵀ summed over the batch; dB: dY summed over batch and space.
    /// A fused conv has none: autodiff runs on the unrewritten graph, where every Conv is plain.
    func backward(_ inputs: [Tensor?], outputs: [Tensor], gradients: [Tensor?], wanted: [Bool]) throws -> [Tensor?] {
        guard epilogue.isEmpty else { throw OpError("a Conv with a fused output pass has no gradient rule") }
        guard let g = gradients[0] else { return wanted.map { _ in nil } }
        let x = required(inputs, 0), w = required(inputs, 1)
        let (n, c, m, cg) = (x.shape[0], x.shape[1], w.shape[0], w.shape[1])
        let geometry = try self.geometry(input: x.shape, weight: w.shape)
        let v = geometry.v
        let (inCount, outCount, k, mg) = (v.inputCount, v.outputCount, cg * v.kernelCount, m / group)
        let gs = g.floats, xs = x.floats, ws = w.floats
        var dx: [Float]? = wanted[0] ? [Float](repeating: 0, count: x.count) : nil
        var dw: [Float]? = wanted.count > 1 && wanted[1] ? [Float](repeating: 0, count: w.count) : nil
        let col = UnsafeMutablePointer<Float>.allocate(capacity: k * outCount)
        defer { col.deallocate() }
        gs.withUnsafeBufferPointer { gp in
            ws.withUnsafeBufferPointer { wp in
                xs.withUnsafeBufferPointer { xp in
                    for b in 0..<n {
                        let gi = gp.baseAddress! + b * m * outCount
                        if dx != nil {
                            dx!.withUnsafeMutableBufferPointer { dp in
                                let di = dp.baseAddress! + b * c * inCount
                                if geometry.isDepthwise {
                                    depthwiseConvBackwardInput(geometry, dy: gi, w: wp.baseAddress!, dx: di)
                                } else {
                                    gemmConvAdjoint(v, groups: group, outputs: mg, inputs: cg, w: wp.baseAddress!, dy: gi, dx: di, col: col)
                                }
                            }
                        }
                        if dw != nil {
                            dw!.withUnsafeMutableBufferPointer { dp in
                                for grp in 0..<group {
                                    im2col(v, channels: cg, x: xp.baseAddress! + b * c * inCount + grp * cg * inCount, col: col)
                                    sgemm(transB: true, m: mg, n: k, k: outCount, a: gi + grp * mg * outCount, lda: outCount,
                                          b: col, ldb: outCount, beta: 1, c: dp.baseAddress! + grp * mg * k, ldc: k)
                                }
                            }
                        }
                    }
                }
            }
        }
        var result: [Tensor?] = [dx.map { Tensor(uncheckedShape: x.shape, floats: $0) }, dw.map { Tensor(uncheckedShape: w.shape, floats: $0) }]
        if inputs.count > 2, let bias = inputs[2] {
            result.append(wanted[2] ? Tensor(uncheckedShape: bias.shape, floats: channelSums(gs, batch: n, channels: m, plane: outCount)) : nil)
        }
        return result
    }
}
