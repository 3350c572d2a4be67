import LafamTensor
/// erf(x) as x·P(x²)/Q(x²) for |x| < 4 and ±1 beyond (erf(4) rounds to 1 in float32): a rational
/// fit made by `tools/fixtures/fit_erf.py`, with a relative error below 3.5e-7 (about 6 ulp) over the whole
/// float range, branch-free so that loops over it vectorise — glibc's erff costs ~8 ns per element,
/// a quarter of ConvNeXt-Tiny's forward pass. NaN stays NaN.
@inline(__always)
func erfApproximation(_ x: Float) -> Float {
    let a = min(Swift.abs(x), 4), t = a * a
    let p = quintic(t, 2.0446464462136e-06, 0.00028374446662931304, 0.003741416009591666,
                    0.052666465130798264, 0.18991400483630722, 1.12837915003221)
    let q = quintic(t, 3.797951047047264e-05, 0.0011557012663869048, 0.014919186607844371,
                    0.11389035647005784, 0.50163973900353, 1)
    return Float(signOf: x, magnitudeOf: min(a * p / q, 1))
}

/// c5·t⁵ + … + c0 by Horner's rule.
@inline(__always)
private func quintic(_ t: Float, _ c5: Float, _ c4: Float, _ c3: Float, _ c2: Float, _ c1: Float, _ c0: Float) -> Float {
    ((((c5 * t + c4) * t + c3) * t + c2) * t + c1) * t + c0
}
