/// A colour scale for drawing saliency maps: 256 RGB colours indexed by a
/// value in [0, 1], with matplotlib's conventions.
public enum Colormap: String, CaseIterable, Sendable {
    /// Google's Turbo (matplotlib "turbo"): dark blue - green - yellow - dark red.
    case turbo
    /// Perceptually uniform, colour-blind friendly (matplotlib "viridis").
    case viridis
    /// Perceptually uniform, black - red - yellow (matplotlib "inferno").
    case inferno
    /// The classic rainbow map (matplotlib "jet"), computed from its piecewise-linear definition.
    case jet

    /// Looks a colormap up by name (case-insensitive); the error lists the choices.
    public static func named(_ name: String) throws -> Colormap {
        if let map = Colormap(rawValue: name.lowercased()) { return map }
        let choices = Colormap.allCases.map(\.rawValue).joined(separator: ", ")
        throw ImagingError.invalidArgument("unknown colormap '\(name)'; choose one of: \(choices)")
    }

    /// 768 bytes: entry `i` (0...255) is R, G, B at `3 * i`.
    public var table: [UInt8] {
        switch self {
        case .turbo: return ColormapTables.turbo
        case .viridis: return ColormapTables.viridis
        case .inferno: return ColormapTables.inferno
        case .jet: return Colormap.jetTable
        }
    }

    /// The table index for a value, as matplotlib computes it for float input:
    /// `Int(value * 256)` clamped to 0...255 (so 1.0 maps to 255, values below 0
    /// to 0 and above 1 to 255). NaN maps to 0.
    @inlinable
    public static func index(for value: Float) -> Int {
        guard value.isFinite else { return value == .infinity ? 255 : 0 }
        let scaled = value * 256
        if scaled <= 0 { return 0 }
        if scaled >= 255 { return 255 }
        return Int(scaled)
    }

    /// The colour for `value` in [0, 1] (values outside are clamped).
    public func color(at value: Float) -> (r: UInt8, g: UInt8, b: UInt8) {
        let t = table
        let i = Colormap.index(for: value) * 3
        return (t[i], t[i + 1], t[i + 2])
    }

    // MARK: jet

    /// matplotlib's `_jet_data`: for each channel, (x, y) breakpoints of a
    /// piecewise-linear function of x in [0, 1].
    static let jetSegments: [[(x: Double, y: Double)]] = [
        [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)],                  // red
        [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)],      // green
        [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)],                 // blue
    ]

    /// Entry `i` (0...255) of one channel, computed the way matplotlib's
    /// `_create_lookup_table` does for N = 256: breakpoints scaled by 255,
    /// sample positions `255 * linspace(0, 1, 256)`, the segment found like
    /// `searchsorted(side="left")`, then linear interpolation, all in Double.
    static func jetChannel(_ points: [(x: Double, y: Double)], entry i: Int) -> Double {
        if i == 0 { return points[0].y }
        if i == 255 { return points[points.count - 1].y }
        let xi = 255.0 * (Double(i) * (1.0 / 255.0))
        let xs = points.map { $0.x * 255.0 }
        var k = 0
        while k < xs.count - 1 && xs[k] < xi { k += 1 }
        let distance = (xi - xs[k - 1]) / (xs[k] - xs[k - 1])
        return distance * (points[k].y - points[k - 1].y) + points[k - 1].y
    }

    /// The 256 jet colours, converted to bytes by truncating `v * 255` like
    /// matplotlib's `cmap(i, bytes=True)`.
    static let jetTable: [UInt8] = {
        var out = [UInt8](repeating: 0, count: 768)
        for i in 0..<256 {
            for c in 0..<3 {
                let v = min(max(jetChannel(jetSegments[c], entry: i), 0), 1)
                out[3 * i + c] = UInt8(v * 255)
            }
        }
        return out
    }()
}
