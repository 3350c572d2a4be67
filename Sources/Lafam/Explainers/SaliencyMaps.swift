/// Post-processing shared by the explainers: per-image min-max normalisation and upsampling of
/// B×h×w maps.
public enum SaliencyMaps {
    /// How a map is resized to input resolution; the raw value is its command-line name.
    public enum Upsampling: String, Sendable, CaseIterable {
        /// Nearest neighbour (the LaFAM paper's choice): source index ⌊dst · in / out⌋.
        case nearest
        /// Bilinear with half-pixel centres (align_corners = false), clamped at the borders.
        case bilinear
    }

    /// Scales each image's map to [0, 1]: (m − min) / (max − min + eps).
    public static func minMaxNormalize(_ maps: Tensor, epsilon: Float = 1e-8) -> Tensor {
        let plane = maps.shape.dropFirst().reduce(1, *)
        var v = maps.floats
        for b in 0..<maps.shape[0] {
            let range = (b * plane)..<((b + 1) * plane)
            let lo = v[range].min() ?? 0, hi = v[range].max() ?? 0
            let scale = 1 / (hi - lo + epsilon)
            for i in range { v[i] = (v[i] - lo) * scale }
        }
        return Tensor(uncheckedShape: maps.shape, floats: v)
    }

    /// Scales each image's map to [0, 1] between its minimum and its `quantile` (e.g. 0.99):
    /// values above the quantile become 1, so a few outliers (a ViT's high-norm tokens) do not
    /// compress everything else into the bottom of the colour scale. The quantile is the value
    /// at rank ⌊quantile·(n − 1)⌋ of the sorted map.
    public static func quantileNormalize(_ maps: Tensor, quantile: Float, epsilon: Float = 1e-8) -> Tensor {
        let plane = maps.shape.dropFirst().reduce(1, *)
        var v = maps.floats
        for b in 0..<maps.shape[0] {
            let range = (b * plane)..<((b + 1) * plane)
            let sorted = v[range].sorted()
            guard let lo = sorted.first else { continue }
            let hi = sorted[Int((Float(sorted.count - 1) * min(max(quantile, 0), 1)).rounded(.down))]
            let scale = 1 / (hi - lo + epsilon)
            for i in range { v[i] = min((v[i] - lo) * scale, 1) }
        }
        return Tensor(uncheckedShape: maps.shape, floats: v)
    }

    /// The mean of several B×H×W maps of one input (one per target layer), min-max normalised
    /// per image again, as pytorch-grad-cam aggregates layers.
    public static func aggregate(_ maps: [Tensor]) -> Tensor {
        var sum = [Float](repeating: 0, count: maps[0].count)
        for m in maps { for (i, v) in m.floats.enumerated() { sum[i] += max(v, 0) } }
        return minMaxNormalize(Tensor(uncheckedShape: maps[0].shape, floats: sum.map { $0 / Float(maps.count) }), epsilon: 1e-7)
    }

    /// Resizes B×h×w maps to B×height×width.
    public static func upsample(_ maps: Tensor, height: Int, width: Int, mode: Upsampling) -> Tensor {
        let (b, h, w) = (maps.shape[0], maps.shape[1], maps.shape[2])
        let src = maps.floats
        var out = [Float](repeating: 0, count: b * height * width)
        let sy = Float(h) / Float(height), sx = Float(w) / Float(width)
        for n in 0..<b {
            let base = n * h * w, obase = n * height * width
            for y in 0..<height {
                for x in 0..<width {
                    let value: Float
                    switch mode {
                    case .nearest:
                        value = src[base + min(h - 1, Int(Float(y) * sy)) * w + min(w - 1, Int(Float(x) * sx))]
                    case .bilinear:
                        let fy = max(0, (Float(y) + 0.5) * sy - 0.5), fx = max(0, (Float(x) + 0.5) * sx - 0.5)
                        let y0 = min(Int(fy), h - 1), x0 = min(Int(fx), w - 1)
                        let y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1)
                        let ty = fy - Float(y0), tx = fx - Float(x0)
                        let top = src[base + y0 * w + x0] * (1 - tx) + src[base + y0 * w + x1] * tx
                        let bottom = src[base + y1 * w + x0] * (1 - tx) + src[base + y1 * w + x1] * tx
                        value = top * (1 - ty) + bottom * ty
                    }
                    out[obase + y * width + x] = value
                }
            }
        }
        return Tensor(uncheckedShape: [b, height, width], floats: out)
    }
}
