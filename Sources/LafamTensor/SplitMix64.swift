import Foundation

/// A small, fast, seedable generator (SplitMix64). lafam draws RELAX masks and benchmark inputs
/// from it so that results depend on the seed alone.
public struct SplitMix64: Sendable {
    /// The generator's internal state, advanced by every draw.
    public private(set) var state: UInt64

    /// Nearby seeds start at unrelated positions of the sequence.
    public init(seed: UInt64) {
        state = seed
        state = next()
    }

    /// The next 64 random bits of the sequence.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits, like a float32 draw.
    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-12), u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }
}
