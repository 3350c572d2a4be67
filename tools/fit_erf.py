"""Fit the rational approximation of erf used by Sources/Lafam/Ops/Erf.swift.

    .venv/bin/python tools/fit_erf.py

erf(x) ≈ x·P(x²)/Q(x²) on [0, 4] (erf(4) rounds to 1 in float32), P and Q of degree 5 in x², Q(0) = 1.
The fit is a linearised least-squares fit of relative error, reweighted by 1/Q from the previous
iteration (Loeb's method). Prints the coefficients in Horner order (highest first) and the maximum
relative error of the float32 evaluation against math.erf, which ErfApproximationTests also bounds.
"""

import math

import numpy as np


def fit(degree_p=5, degree_q=5, iterations=30):
    x = np.linspace(0, 4, 20001)[1:]
    y = np.array([math.erf(v) for v in x])
    t = x * x
    weight = np.ones_like(x)
    for _ in range(iterations):
        columns = [x * t**i for i in range(degree_p + 1)] + [-y * t**j for j in range(1, degree_q + 1)]
        a = np.stack(columns, axis=1)
        w = weight / np.maximum(np.abs(y), 1e-3)
        solution, *_ = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)
        p = solution[: degree_p + 1]
        q = np.concatenate([[1.0], solution[degree_p + 1 :]])
        weight = 1 / np.abs(np.polyval(q[::-1], t))
    return p, q


def float32_error(p, q):
    x = np.linspace(0, 4, 400001).astype(np.float32)
    t = x * x
    num = np.zeros_like(x)
    for c in p[::-1]:
        num = num * t + np.float32(c)
    den = np.zeros_like(x)
    for c in q[::-1]:
        den = den * t + np.float32(c)
    approx = np.minimum(x * num / den, np.float32(1))
    ref = np.array([math.erf(float(v)) for v in x])
    return float((np.abs(approx - ref)[1:] / ref[1:]).max())


def main():
    p, q = fit()
    print("P (highest power first):", ", ".join(repr(float(c)) for c in p[::-1]))
    print("Q (highest power first):", ", ".join(repr(float(c)) for c in q[::-1]))
    print(f"max relative error of the float32 evaluation on (0, 4]: {float32_error(p, q):.3g}")


if __name__ == "__main__":
    main()
