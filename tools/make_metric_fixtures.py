"""Write reference fixtures for lafam's localisation metrics to Tests/Fixtures/metrics/.

Run from the repository root (after tools/setup-venv.sh):

    .venv/bin/python -m pip install --no-deps quantus==0.6.0
    .venv/bin/python tools/make_metric_fixtures.py

quantus 0.6.0 (PyPI, LGPL-3.0; Hedstroem et al., "Quantus: An Explainable AI Toolkit for Responsible
Evaluation of Neural Network Explanations and Beyond", JMLR 24(34), 2023) is the reference: the LaFAM
paper computes its scores with Quantus (REFERENCE.md section 5 names 0.6.0).  It is installed without
its dependencies because it declares opencv-python (a second 60 MB cv2 next to
opencv-python-headless) and cachetools.  `import quantus` loads numpy, scipy, scikit-learn,
scikit-image, pandas, tqdm, matplotlib, torch and cv2, all already in .venv (Debian packages;
cv2 from opencv-python-headless, which grad-cam needs anyway); cachetools is only imported by the
TensorFlow wrapper.  The metrics themselves use numpy and sklearn.metrics.roc_curve/auc.  Generated with numpy 1.24.2, scikit-learn
1.9.1.  Python is only used to (re)generate the fixtures; the Swift tests read the committed files.

Every Quantus value below was produced by calling the metric exactly like this (single image,
batch of one, no model -- none of these metrics calls the model when a_batch is given):

    quantus.<Metric>(<params>)(model=None,
                               x_batch=np.zeros((1, 3, H, W), np.float32),
                               y_batch=np.zeros(1, np.int64),
                               a_batch=a[None, None].copy(),        # float32 1 x 1 x H x W
                               s_batch=s[None, None].copy(),        # uint8   1 x 1 x H x W, 0/1
                               channel_first=True)

File/line numbers below refer to the installed quantus 0.6.0 package (site-packages/quantus/).


1. What Quantus does before any metric (metrics/base.py, Metric.general_preprocess, 423-457)
============================================================================================

  * 424-426  x_batch is made channel-first (channel_first inferred by helpers/utils.py 239-303 when
             not given: for B x C x H x W, C must be smaller than H and W).  x is only used for
             shape checks by the metrics here.
  * 447      a_batch = utils.expand_attribution_channel(a_batch, x_batch) (utils.py 741-773):
             a B x H x W map becomes B x 1 x H x W (np.expand_dims, a VIEW of the caller's array).
  * 448      asserts.assert_attributions (asserts.py 131-196), on the WHOLE batch, BEFORE
             normalisation.  AssertionError when
               np.all(a == 0)   "The elements in the attribution vector are all equal to zero, ..."
               np.all(a == 1.0) "The elements in the attribution vector are all equal to one, ..."
               len(set(a.flatten().tolist())) <= 1
                                "The attributions are uniformly distributed, which may cause
                                 inconsistent results since many metrics rely on ordering.Recompute
                                 the explanations."
               np.all(a < 0)    "Attributions should not all be less than zero."
             Only the batch as a whole is checked: a constant map passes when another map in the
             same call differs (see "batch_effects" in cases.json).
  * 452-453  normalise (default True for all seven metrics): normalise_func defaults to
             normalise_by_max (base.py 138-139; functions/normalise_func.py 15-50):
                 if np.all(a == 0): return a unchanged            (38-39)
                 a = a / max(|a|)                                  (48-49)
             with normalise_axes=None -> ALL axes INCLUDING THE BATCH AXIS (43): the divisor is the
             largest |a| of the whole a_batch passed to __call__, not a per-image maximum.  The
             result keeps a's dtype (float32 stays float32; a/m rounds, so in principle two close
             float32 values can become equal -- never happens in these fixtures, see
             "distinct_values_after_normalise").
  * 456-457  abs: a = np.abs(a), AFTER normalisation.
  * custom_preprocess of every localisation metric calls asserts.assert_segmentations
             (asserts.py 199-232): s must be an ndarray of shape B x 1 x H x W (the second dim must
             be 1), values only {0, 1} or {True, False}.  The check
             `len(np.nonzero(s_batch)) > 0` (227) is always true (it is the length of the index
             tuple, i.e. ndim), so EMPTY MASKS PASS.
  * Each evaluate_batch reshapes a and s to B x N in C order: flat index = row * W + col, and
    s.astype(bool).  Default batch_size 64; the (batch-wide) normalisation happened before.
  * Warnings: the property Metric.disable_warnings (base.py 955-964) is
        self._disable_warnings or "GITHUB_ACTIONS" not in os.environ or "PYTEST" in os.environ
    i.e. True everywhere except on GitHub Actions, so the "parameterisation" notices never print;
    the warnings.warn calls inside evaluate_batch (empty segmentation, ...) are not gated by it.
    warn.warn_absolute_operation (printed to STDOUT) fires when abs=False is passed to
    Sparseness or AttributionLocalisation.


2. The metrics (defaults; a = preprocessed map, s = bool mask, N = H*W, flattened row-major)
=============================================================================================

PointingGame  (metrics/localisation/pointing_game.py; weighted=False, abs=False, normalise=True)
    287  max_attribution = a == a.max()          every pixel attaining the maximum (ties all count)
    290  hit = any(s & max_attribution)           -> numpy bool
    292-293 weighted=True: hit[hit] = 1 - |s|/N, assigned into the bool array (so True unless the
         mask is the whole image): the weighting is lost
    296  hit[|s| == 0] = np.nan  -- assigned into a BOOL array: NaN casts to True, so an EMPTY MASK
         SCORES True (a hit), not NaN.  No warning.
    Value = 1.0 if the (possibly tied) maximum touches the mask, else 0.0.

TopKIntersection  (metrics/localisation/top_k_intersection.py; k=1000, concept_influence=False,
                   abs=False, normalise=True)
    260  assert_value_smaller_than_input_size (asserts.py 270-299): ValueError
         "'k' must be smaller than input size. [k >= H*W]" when k >= H*W -- so k=1000 needs
         H*W >= 1001 (28 x 28 = 784 raises; 56 x 56 and 224 x 224 are fine).
    291  order = np.argsort(-a)                   (kind='quicksort', see section 3 for ties)
    292-293 value = mean(s[order[:k]]) = |top-k pixels inside s| / k          (float64)
    296-297 concept_influence=True: value *= N / |s|
    300  |s| == 0 -> NaN (no warning).

RelevanceRankAccuracy  (metrics/localisation/relevance_rank_accuracy.py; abs=False, normalise=True)
    285  order = np.argsort(-a)                   (kind='quicksort')
    286-290 K = |s|; value = |{order[0..K-1]} inside s| / K                   (float64)
    293-296 |s| == 0 -> NaN, plus RuntimeWarning "invalid value encountered in divide" (0/0) and
         UserWarning "Return np.nan as result as the segmentation map is empty."
    Full mask -> 1.0.

RelevanceMassAccuracy  (metrics/localisation/relevance_mass_accuracy.py; abs=False, normalise=True)
    279-283 value = sum(a * s) / sum(a)   -- SIGNED sums (abs=False), float32 arithmetic, float32
         result; with negative attributions it can leave [0, 1]; sum(a) = 0 gives inf/NaN.
    285-288 |s| == 0 -> NaN + UserWarning "Return np.nan as result as the segmentation map is empty."

AttributionLocalisation  (metrics/localisation/attribution_localisation.py; weighted=False,
                          max_size=1.0, positive_attributions=False, abs=True, normalise=True)
    (not in the LaFAM paper; it is RMA with abs=True and an epsilon, recorded for completeness)
    303-304 positive_attributions=True: a = clip(a, 0, None)
    315-317 value = sum(a * s) / (sum(a) + 1e-9); for a float32 map sum(a) is a float32 scalar and
            adding the Python float 1e-9 keeps float32 (value-based casting), so the epsilon is lost
            for any sum(a) above ~1e-2 and the value equals RelevanceMassAccuracy(abs=True) exactly
    311-312 BUG: size_data = x_batch[2:].size slices the BATCH axis (0 for a batch of <= 2), so
         ratio = |s| / 0 = inf ("RuntimeWarning: divide by zero") and 319-320 warns
         "Ratio is smaller than max size." for every non-empty mask; harmless unless weighted=True
         (value *= ratio).
    322  |s| == 0 -> NaN (after "RuntimeWarning: invalid value encountered in divide").
    323-327 value > 1 -> NaN + UserWarning "Inside explanation is greater than total explanation".

AUC  (metrics/localisation/auc.py; abs=False, normalise=True)
    273-276 per image: fpr, tpr, _ = sklearn.metrics.roc_curve(y_true=s, y_score=a);
            value = sklearn.metrics.auc(fpr, tpr) (trapezoid).  Equal scores form one ROC
            threshold, so this is the Mann-Whitney statistic with ties counted 1/2:
                AUC = ( #{(p, n): a_p > a_n} + 0.5 * #{(p, n): a_p == a_n} ) / (|s| * (N - |s|))
            over pixel pairs p in s, n outside s.  Independent of the sort order of ties.
    280  |s| == 0 -> NaN (sklearn first warns UndefinedMetricWarning "No positive samples ...").
         A FULL mask also gives NaN (no negatives; UndefinedMetricWarning "No negative samples in
         y_true, false positive value should be meaningless"); Quantus does not special-case it.

Sparseness  (metrics/complexity/sparseness.py; abs=True, normalise=True; ignores the mask)
    257  a = a.reshape(B, N)
    260  a += 1e-7            IN PLACE, in a's dtype (float32).  With abs=False and normalise=False
                              this mutates the caller's array (a_batch is a view of it; checked).
    261  a = np.sort(a)       ascending
    264  value = sum_{i=1..N} (2i - N - 1) * a_(i) / (N * sum(a))
         (the Gini index of Chalasani et al. 2020).  (2i - N - 1) is int64, so the numerator is a
         float64 sum of float32 values; sum(a) is a float32 sum.  Because of the +1e-7 the value
         depends (slightly) on the scale of a, so normalise and the batch-wide maximum matter at
         the ~1e-6 level.  A constant map gives 0 (when it gets past the assertion).


3. Sorting and ties (TopKIntersection, RelevanceRankAccuracy)
=============================================================

Quantus sorts with np.argsort(-a, axis=-1): numpy's default kind='quicksort', which in numpy 1.24 is
aquicksort_ in numpy/core/src/npysort/quicksort.cpp: an introsort over the index array --
median-of-three pivot (pl, pm = pl + (pr - pl) >> 1, pr), a partition whose scans stop on keys EQUAL
to the pivot, the larger side pushed on a stack, sub-arrays with pr - pl <= 15 (SMALL_QUICKSORT)
finished by insertion sort, heapsort after 2 * floor(log2 N) levels.  In numpy 1.24 argsort has no
SIMD dispatch (only np.sort of some dtypes has): this fixture set regenerates byte-identical with
NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX2 FMA3 F16C
AVX" (checked on an AVX-512 AMD EPYC), and the
pure-Python port numpy124_argsort() below reproduces np.argsort bit for bit on every fixture array
(checked at generation time; "quantus_order_is_numpy124_introsort" in cases.json).  Consequences:
  * with numpy 1.24.2 the order of tied pixels is a deterministic function of the value array, on
    any CPU -- but it is NOT stable and not monotone in the pixel index: for N <= 16 (pure insertion
    sort) it is stable, for larger arrays tied pixels come out scrambled;
  * -a is sorted ascending, so "stable" would mean: among equal values the EARLIER pixel ranks higher;
  * numpy >= 1.25 dispatches argsort to x86-simd-sort on AVX-512 CPUs (numpy PR #23707) and numpy
    2.x also on AVX2 (PR #25610), so with a newer numpy the tie order -- and TopK / RRA on
    block-constant maps -- depends on numpy version, dtype and CPU.  The numpy used for the paper is
    unknown.
Nearest-upsampled LaFAM / Grad-CAM / RELAX maps are block-constant (7 x 7 cells of 8 x 8 px at 56 x 56,
32 x 32 = 1024 px at 224 x 224), so the cut almost always falls inside a tied block.  At 224 x 224,
k = 1000 < 1024: TopK(k=1000) sees only part of the top cell, and its value is decided entirely by
the tie order when that cell straddles the mask boundary (case lafam224_topcell_straddles).

For every TopK / RRA result cases.json records ("ties"), on the array Quantus sorts (normalised,
abs'ed as the variant says), with t = the k-th largest value (k = K = |s| for RRA):
    above   = #{a > t},  hits_above = #{a > t, in s}
    tied    = #{a == t}, tied_in_mask = #{a == t, in s}, tied_out = tied - tied_in_mask
    needed  = k - above  (how many of the tied pixels make the cut)
    max = (hits_above + min(needed, tied_in_mask)) / k          best case over all tie orders
    min = (hits_above + max(0, needed - tied_out)) / k          worst case over all tie orders
    stable_ascending_index  = value with ties broken by ascending flat index
                              (np.argsort(-a, kind='stable'): the earlier pixel ranks higher)
    descending_index        = value with ties broken by descending flat index
    quantus                 = Quantus's value (its introsort order)
All three lie in [min, max]; min == max exactly when the cut does not split a tie (tie-free maps).


4. How the LaFAM paper uses them
================================

Paper (Karjauv & Albayrak 2024, /work/shared/paper/lafam-paper.txt), section 4 and Appendix 0.A.1:
"Quantitative analysis is performed using the Quantus framework [18]", with Pointing-Game,
Top-K Intersection, Relevance Rank Accuracy, Relevance Mass Accuracy, AUC and Sparseness, on
ImageNet-S (11,294 images) and PASCAL VOC 2012 (753 images) segmentation masks; "all methods employ
nearest neighbor interpolation for upscaling the saliency maps"; tables give per-method scores in
percent (x 100, presumably the mean over images).  The paper states NO metric parameters (no k, abs,
normalise, normalise_func, batch size) and no Quantus/numpy version, so the Quantus defaults above
are the best guess: TopK k = 1000 of 224 x 224 = 50,176 px (about 2 %), abs=False (irrelevant: all
maps are min-max normalised, non-negative), normalise_by_max (a no-op up to rounding for maps whose
maximum is 1).  No separate "paper parameter" variants exist, therefore; the default-parameter
values are the paper-setting values.  (The first author's later blog post describes Top-K as "the
top K% most salient pixels"; Quantus's k is a pixel count.)  AttributionLocalisation is not used
by the paper.


5. Hand-checkable worked example (case "worked_4x4"; verified against Quantus when generated)
=============================================================================================

a = A / 8 with A (row-major, flat index 0..15)      s (mask)
     0  1  2  0                                     0 0 0 0
     1  6  8  2                                     0 1 1 0
     0  4  3  1                                     0 1 1 0
     0  0  2  1                                     0 0 1 0
Values are multiples of 1/8 (exact in float32); max |a| = 1, so normalise_by_max is the identity.
Mask pixels (flat index: A): 5:6, 6:8, 9:4, 10:3, 14:2  -> |s| = 5, N = 16.
Outside (11 pixels): A = 0 at 0,3,8,12,13 (5 px); 1 at 1,4,11,15 (4 px); 2 at 2,7 (2 px).
Sum A = 3 + 17 + 8 + 3 = 31; sum A inside = 6 + 8 + 4 + 3 + 2 = 23.

  PointingGame   max A = 8 at index 6, in s -> hit -> 1.0
  TopK k=3       top values 8, 6, 4 (indices 6, 5, 9), all in s -> 3/3 = 1.0
  TopK k=5       8, 6, 4, 3 (all in s) and then ONE of the three tied 2s (indices 2, 7, 14; only 14
                 is in s): above = 4, hits_above = 4, needed = 1, tied_in = 1, tied_out = 2
                 -> min 4/5 = 0.8, max 5/5 = 1.0; stable (index 2 first) 0.8; descending index
                 (14 first) 1.0; Quantus: N = 16 -> pure insertion sort = stable -> 0.8
  TopK k=6       needed = 2 of {2, 7, 14}: min (4 + max(0, 2 - 2))/6 = 4/6 = 0.6667,
                 max (4 + min(2, 1))/6 = 5/6 = 0.8333; stable picks 2, 7 -> 4/6; descending 14, 7
                 -> 5/6; Quantus 4/6
  RRA            K = |s| = 5: the same cut as TopK k=5 -> Quantus 0.8 (range 0.8 .. 1.0)
  RMA            23/8 / (31/8) = 23/31 = 0.7419355
  AttributionLocalisation  2.875 / (3.875 + 1e-9) = 23/31 (the epsilon vanishes in float32)
  AUC            pairs 5 x 11 = 55.  Positives 8, 6, 4, 3 beat all 11 negatives: 44.  Positive 2
                 beats the 5 zeros and 4 ones (9) and ties the two 2s (2 x 0.5 = 1): 10.
                 AUC = 54/55 = 0.9818182
  Sparseness     sorted A: 0 x5, 1 x4, 2 x3, 3, 4, 6, 8; weights 2i - 17 for i = 1..16:
                 -15 -13 -11 -9 -7 | -5 -3 -1 1 | 3 5 7 | 9 | 11 | 13 | 15
                 sum w*A = (-5-3-1+1)*1 + (3+5+7)*2 + 9*3 + 11*4 + 13*6 + 15*8
                         = -8 + 30 + 27 + 44 + 78 + 120 = 291
                 Gini = (291/8) / (16 * 31/8) = 291/496 = 0.5866935;  the +1e-7 per pixel adds
                 16 * 1e-7 to sum(a) (the weights sum to 0) -> 0.5866933 (Quantus, float32).


6. Output
=========

Tests/Fixtures/metrics/cases.json -- environment, metric definitions/calls, per case: files, shape,
mask size, distinct values, every metric variant's Quantus result (value, null for NaN with
"nan": true, or the exception; warnings and stdout captured), an independent float64 recomputation
from the definitions above, and the tie analysis; plus "batch_effects" (constant / all-zero map
inside a batch, batch-wide normalisation) and "worked_example".
*.npy -- maps `a` (float32 H x W; the 224 x 224 case stores its 7 x 7 cell values, upsample by
np.repeat x32 on both axes = nearest), masks `s` (uint8 0/1 H x W), and one full Quantus argsort
permutation (int32) for a block-constant map.
"""

import contextlib
import io
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import quantus
import sklearn
from quantus.functions.normalise_func import normalise_by_max
from scipy.stats import rankdata

from fixture_common import rng_for

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "metrics"

METRICS = ["PointingGame", "TopKIntersection", "RelevanceRankAccuracy", "RelevanceMassAccuracy",
           "AttributionLocalisation", "AUC", "Sparseness"]
DEFAULTS = {
    "PointingGame": {"weighted": False, "abs": False, "normalise": True},
    "TopKIntersection": {"k": 1000, "concept_influence": False, "abs": False, "normalise": True},
    "RelevanceRankAccuracy": {"abs": False, "normalise": True},
    "RelevanceMassAccuracy": {"abs": False, "normalise": True},
    "AttributionLocalisation": {"weighted": False, "max_size": 1.0, "positive_attributions": False,
                                "abs": True, "normalise": True},
    "AUC": {"abs": False, "normalise": True},
    "Sparseness": {"abs": True, "normalise": True},
}
CALL = ("quantus.{metric}(model=None, x_batch=np.zeros((B, 3, H, W), np.float32), "
        "y_batch=np.zeros(B, np.int64), a_batch=a.reshape(B, 1, H, W), "
        "s_batch=s.reshape(B, 1, H, W).astype(np.uint8), channel_first=True)")


# --------------------------------------------------------------------------------------------------
# numpy 1.24's argsort (kind='quicksort'), ported to Python to document Quantus's tie order.

def _msb(n):
    depth = 0
    while n > 1:
        n >>= 1
        depth += 1
    return depth


def _aheapsort(v, t, lo, n):
    """numpy's aheapsort_ on t[lo:lo+n] (1-based heap, as in npysort/heapsort.cpp)."""
    a = lambda i: t[lo + i - 1]  # noqa: E731

    def put(i, x):
        t[lo + i - 1] = x

    for l in range(n >> 1, 0, -1):
        tmp = a(l)
        i, j = l, l << 1
        while j <= n:
            if j < n and v[a(j)] < v[a(j + 1)]:
                j += 1
            if v[tmp] < v[a(j)]:
                put(i, a(j))
                i, j = j, j + j
            else:
                break
        put(i, tmp)
    while n > 1:
        tmp = a(n)
        put(n, a(1))
        n -= 1
        i, j = 1, 2
        while j <= n:
            if j < n and v[a(j)] < v[a(j + 1)]:
                j += 1
            if v[tmp] < v[a(j)]:
                put(i, a(j))
                i, j = j, j + j
            else:
                break
        put(i, tmp)


def numpy124_argsort(values):
    """np.argsort(values) as numpy 1.24's aquicksort_ computes it (introsort, not stable)."""
    v = np.asarray(values).tolist()
    t = list(range(len(v)))
    pl, pr = 0, len(v) - 1
    stack = []
    cdepth = _msb(len(v)) * 2
    while True:
        if cdepth < 0:
            _aheapsort(v, t, pl, pr - pl + 1)
        else:
            while pr - pl > 15:
                pm = pl + ((pr - pl) >> 1)
                if v[t[pm]] < v[t[pl]]:
                    t[pm], t[pl] = t[pl], t[pm]
                if v[t[pr]] < v[t[pm]]:
                    t[pr], t[pm] = t[pm], t[pr]
                if v[t[pm]] < v[t[pl]]:
                    t[pm], t[pl] = t[pl], t[pm]
                vp = v[t[pm]]
                pi, pj = pl, pr - 1
                t[pm], t[pj] = t[pj], t[pm]
                while True:
                    pi += 1
                    while v[t[pi]] < vp:
                        pi += 1
                    pj -= 1
                    while vp < v[t[pj]]:
                        pj -= 1
                    if pi >= pj:
                        break
                    t[pi], t[pj] = t[pj], t[pi]
                t[pi], t[pr - 1] = t[pr - 1], t[pi]
                cdepth -= 1
                if pi - pl < pr - pi:
                    stack.append((pi + 1, pr, cdepth))
                    pr = pi - 1
                else:
                    stack.append((pl, pi - 1, cdepth))
                    pl = pi + 1
            for i in range(pl + 1, pr + 1):
                vi = t[i]
                x = v[vi]
                j = i
                while j > pl and x < v[t[j - 1]]:
                    t[j] = t[j - 1]
                    j -= 1
                t[j] = vi
        if not stack:
            break
        pl, pr, cdepth = stack.pop()
    return np.array(t, dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# Maps and masks.

def rect(h, w, r0, r1, c0, c1):
    s = np.zeros((h, w), np.uint8)
    s[r0:r1, c0:c1] = 1
    return s


def ellipse(h, w, cy, cx, ry, rx):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((((yy + 0.5 - cy) / ry) ** 2 + ((xx + 0.5 - cx) / rx) ** 2) <= 1.0).astype(np.uint8)


def bumps(h, w, centres):
    """A smooth, tie-free map: a sum of Gaussian bumps (cy, cx, sigma, weight) plus a tiny ramp."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    m = 1e-4 * (yy * w + xx) / (h * w)
    for cy, cx, sg, wt in centres:
        m += wt * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sg * sg))
    m = (m - m.min()) / (m.max() - m.min())
    return m.astype(np.float32)


def cells7(name, levels=None):
    """A 7 x 7 LaFAM-like cell map: random, min-max normalised as LaFAM does (eps 1e-8)."""
    g = rng_for(name).random((7, 7))
    if levels is not None:
        g = np.round(g * (levels - 1)) / (levels - 1)
    g = (g - g.min()) / (g.max() - g.min() + 1e-8)
    return g.astype(np.float32)


def nearest(cells, factor):
    return np.repeat(np.repeat(cells, factor, axis=0), factor, axis=1)


def tie_free_random(name, h, w):
    rng = rng_for(name)
    a = rng.random(h * w).astype(np.float32)
    while np.unique(a).size < a.size:  # float32 rounding can collide: redraw the later duplicates
        _, first = np.unique(a, return_index=True)
        dup = np.setdiff1d(np.arange(a.size), first)
        a[dup] = rng.random(dup.size).astype(np.float32)
    return a.reshape(h, w)


# --------------------------------------------------------------------------------------------------
# Running Quantus.

def fmt_kwargs(kw):
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def variant_key(metric, kw):
    return f"{metric}({fmt_kwargs(kw)})" if kw else metric


def run_quantus(metric, kw, a_batch, s_batch):
    """Call quantus.<metric>(**kw) on B x H x W maps/masks; per-image values or the exception."""
    b, h, w = a_batch.shape
    x = np.zeros((b, 3, h, w), np.float32)
    y = np.zeros(b, np.int64)
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        try:
            m = getattr(quantus, metric)(**kw)
            res = m(model=None, x_batch=x, y_batch=y, a_batch=a_batch[:, None].copy(),
                    s_batch=s_batch[:, None].copy(), channel_first=True)
            exc = None
        except Exception as e:  # noqa: BLE001 -- recording what Quantus raises is the point
            res, exc = None, {"type": type(e).__name__, "message": str(e)}
    record = {}
    if caught:
        record["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    if out.getvalue().strip():
        record["stdout"] = out.getvalue().strip()
    return res, exc, record


def one_result(v):
    r = {}
    f = float(v)
    if np.isnan(f):
        r.update(value=None, nan=True)
    else:
        r["value"] = f
    return r


# --------------------------------------------------------------------------------------------------
# Independent float64 recomputation from the written definitions (a check on the docstring).

def preprocess(a, normalise, absolute):
    a = a.astype(np.float64).ravel()
    if normalise and not np.all(a == 0):
        a = a / np.abs(a).max()
    return np.abs(a) if absolute else a


def hits_range(v, s, k):
    """(min, max, stats) of |top-k in s| / k over all orders of tied values; v is what gets sorted."""
    t = np.sort(v)[::-1][k - 1]
    above = v > t
    tied = v == t
    stats = {
        "cut_value": float(t), "above": int(above.sum()), "hits_above": int((above & s).sum()),
        "tied": int(tied.sum()), "tied_in_mask": int((tied & s).sum()),
        "tied_out_of_mask": int((tied & ~s).sum()), "needed": int(k - above.sum()),
    }
    lo = stats["hits_above"] + max(0, stats["needed"] - stats["tied_out_of_mask"])
    hi = stats["hits_above"] + min(stats["needed"], stats["tied_in_mask"])
    return lo / k, hi / k, stats


def independent(metric, kw, a, s):
    p = {**DEFAULTS[metric], **kw}
    v = preprocess(a, p["normalise"], p["abs"])
    s = s.ravel().astype(bool)
    n, ns = v.size, int(s.sum())
    if metric == "Sparseness":
        x = np.sort(v + 1e-7)
        i = np.arange(1, n + 1)
        return float(((2 * i - n - 1) * x).sum() / (n * x.sum()))
    if ns == 0:
        return None
    if metric == "PointingGame":
        return float(np.any(s & (v == v.max())))
    if metric in ("TopKIntersection", "RelevanceRankAccuracy"):
        k = p["k"] if metric == "TopKIntersection" else ns
        if metric == "TopKIntersection" and k >= n:
            return None
        lo, hi, _ = hits_range(v, s, k)
        return [lo, hi]
    if metric == "RelevanceMassAccuracy":
        return float(v[s].sum() / v.sum())
    if metric == "AttributionLocalisation":
        r = v[s].sum() / (v.sum() + 1e-9)
        return None if r > 1 else float(r)
    if metric == "AUC":
        if ns == n:
            return None
        r = rankdata(v)  # average ranks: ties count 1/2
        return float((r[s].sum() - ns * (ns + 1) / 2) / (ns * (n - ns)))
    raise KeyError(metric)


def agrees(q, ind, metric):
    if ind is None or q.get("value") is None:
        return (ind is None) == (q.get("value") is None)
    if isinstance(ind, list):
        return ind[0] - 1e-12 <= q["value"] <= ind[1] + 1e-12
    tol = 2e-6 if metric in ("Sparseness", "RelevanceMassAccuracy", "AttributionLocalisation") else 1e-12
    return abs(q["value"] - ind) <= tol * max(1.0, abs(ind))


def tie_analysis(a, s, kw, k_for):
    """Tie bounds and the two deterministic tie rules, on the array Quantus actually sorts."""
    p = {"abs": False, "normalise": True, **kw}
    v = a[None, None].copy()
    if p["normalise"]:
        v = normalise_by_max(v)
    if p["abs"]:
        v = np.abs(v)
    v = v.ravel()
    s = s.ravel().astype(bool)
    k = k_for(s)
    if k == 0 or k >= v.size:
        return None
    neg = -v
    q_order = np.argsort(neg)
    stable = np.argsort(neg, kind="stable")
    desc = np.lexsort((-np.arange(v.size), neg))
    lo, hi, stats = hits_range(v, s, k)
    return {
        "k": int(k),
        **stats,
        "cut_splits_a_tie": stats["needed"] < stats["tied"],
        "quantus": float(s[q_order[:k]].mean()),
        "stable_ascending_index": float(s[stable[:k]].mean()),
        "descending_index": float(s[desc[:k]].mean()),
        "min": lo,
        "max": hi,
        "quantus_order_is_numpy124_introsort": bool(np.array_equal(q_order, numpy124_argsort(neg))),
    }


# --------------------------------------------------------------------------------------------------
# The cases.

def build_cases():
    """(name, description, a (float32 HxW), s (uint8 HxW), extra variants, file stems, stored a)."""
    cases = []

    def add(name, desc, a, s, a_file, s_file, extra=(), a_store=None, upsample=None):
        cases.append(dict(name=name, description=desc, a=a, s=s, a_file=a_file, s_file=s_file,
                          extra=list(extra), a_store=a_store, upsample=upsample))

    # Worked example.
    A = np.array([[0, 1, 2, 0], [1, 6, 8, 2], [0, 4, 3, 1], [0, 0, 2, 1]], np.float32)
    sw = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 1, 0]], np.uint8)
    add("worked_4x4", "hand-checkable 4x4 example (docstring section 5); values A/8",
        A / 8, sw, "worked_4x4.a", "worked_4x4.s",
        extra=[("TopKIntersection", {"k": 3}), ("TopKIntersection", {"k": 5}),
               ("TopKIntersection", {"k": 6}), ("Sparseness", {"normalise": False})])

    topk_small = [("TopKIntersection", {"k": 100}), ("Sparseness", {"normalise": False})]

    # 28 x 28, tie-free uniform random map with masks of different sizes.
    r28 = tie_free_random("rand28", 28, 28)
    add("rand28_center", "tie-free uniform random map, 12x12 central rectangle mask",
        r28, rect(28, 28, 8, 20, 10, 22), "rand28.a", "rect28_center.s", topk_small)
    add("rand28_small", "tie-free random map, 3x3 mask (9 px)",
        r28, rect(28, 28, 13, 16, 4, 7), "rand28.a", "rect28_small.s", topk_small)
    border = np.zeros((28, 28), np.uint8)
    border[0:6, :] = 1
    border[:, 0:5] = 1
    add("rand28_border", "tie-free random map, L-shaped mask touching the top, left and bottom borders",
        r28, border, "rand28.a", "border28.s", topk_small)
    add("rand28_large", "tie-free random map, large ellipse mask (most of the image)",
        r28, ellipse(28, 28, 14, 14, 13, 15), "rand28.a", "ellipse28_large.s", topk_small)
    add("rand28_full", "tie-free random map, mask = whole image",
        r28, np.ones((28, 28), np.uint8), "rand28.a", "full28.s", topk_small)
    add("rand28_empty", "tie-free random map, EMPTY mask",
        r28, np.zeros((28, 28), np.uint8), "rand28.a", "empty28.s", topk_small)

    # Smooth map whose maximum lies outside the mask.
    b28 = bumps(28, 28, [(6, 6, 3.0, 1.0), (20, 20, 4.0, 0.6)])
    add("bump28_max_outside", "smooth tie-free map, global maximum at (6,6) outside the mask; "
        "mask covers the secondary bump (bottom-right, touching the border)",
        b28, rect(28, 28, 14, 28, 14, 28), "bump28.a", "corner28.s", topk_small)

    # Signed map.
    sg = rng_for("signed28").standard_normal((28, 28)).astype(np.float32)
    sg[3, 3] = -4.5  # the largest |a| is negative: normalised maximum < 1
    sg_extra = topk_small + [(m, {"abs": True}) for m in
                             ("PointingGame", "TopKIntersection", "RelevanceRankAccuracy",
                              "RelevanceMassAccuracy", "AUC")] + \
        [("TopKIntersection", {"k": 100, "abs": True}), ("AttributionLocalisation", {"abs": False}),
         ("Sparseness", {"abs": False})]
    add("signed28", "signed map (standard normal, min -4.5 is the largest |a|), ellipse mask",
        sg, ellipse(28, 28, 15, 12, 8, 10), "signed28.a", "ellipse28.s", sg_extra)
    add("allneg28", "all-negative map (-(uniform + 0.01))",
        -(r28 + np.float32(0.01)), rect(28, 28, 8, 20, 10, 22), "allneg28.a", "rect28_center.s",
        topk_small)

    # Small-magnitude map: normalise only matters for Sparseness (through its +1e-7).
    add("scaled28_small_magnitude", "smooth map x 1e-5 (like raw gradients); compare Sparseness "
        "with normalise=False", b28 * np.float32(1e-5), rect(28, 28, 0, 12, 0, 12),
        "bump28_1e-5.a", "rect28_topleft.s", topk_small)

    # Degenerate maps.
    add("constant28", "constant map 0.5", np.full((28, 28), 0.5, np.float32),
        rect(28, 28, 8, 20, 10, 22), "constant28.a", "rect28_center.s", topk_small)
    add("zeros28", "all-zero map", np.zeros((28, 28), np.float32),
        rect(28, 28, 8, 20, 10, 22), "zeros28.a", "rect28_center.s", topk_small)

    # 56 x 56 / 64 x 64 tie-free maps (k = 1000 is valid).
    b56 = bumps(56, 56, [(24, 30, 7.0, 1.0), (44, 10, 5.0, 0.7), (8, 48, 4.0, 0.5)])
    add("bump56_object", "smooth tie-free 56x56 map, ellipse object mask of ~1300 px",
        b56, ellipse(56, 56, 26, 28, 19, 22), "bump56.a", "ellipse56_object.s", topk_small)
    add("bump56_small_object", "same map, small 10x10 mask on the second bump (k=1000 > |s|)",
        b56, rect(56, 56, 39, 49, 5, 15), "bump56.a", "rect56_small.s", topk_small)
    r64 = tie_free_random("rand64", 64, 64)
    add("rand64_border", "tie-free uniform random 64x64 map, mask = right 20 columns (touches 3 borders)",
        r64, rect(64, 64, 0, 64, 44, 64), "rand64.a", "rect64_right.s", topk_small)

    # LaFAM-like block-constant maps: 7 x 7 cells, nearest-upsampled.
    la = cells7("lafam56_a")
    add("lafam56_a", "7x7 random cells (LaFAM min-max) nearest x8 -> 56x56 (64 tied px per cell), "
        "ellipse mask", nearest(la, 8), ellipse(56, 56, 25, 30, 17, 20), "lafam56_a.a",
        "ellipse56_a.s", topk_small)
    lb = cells7("lafam56_b")
    add("lafam56_b", "other 7x7 cells x8, rectangle mask not aligned to the 8-px cells",
        nearest(lb, 8), rect(56, 56, 13, 41, 5, 51), "lafam56_b.a", "rect56_b.s", topk_small)
    lc = cells7("lafam56_c", levels=4)
    add("lafam56_c_levels", "7x7 cells quantised to 4 levels (whole groups of cells tie), x8, ellipse",
        nearest(lc, 8), ellipse(56, 56, 30, 26, 20, 16), "lafam56_c.a", "ellipse56_c.s", topk_small)
    ld = cells7("lafam56_d") * np.float32(0.9)
    ld[1, 5] = np.float32(1.0)  # unique top cell at rows 8..15, cols 40..47
    add("lafam56_maxcell_corner", "top cell (rows 8-15, cols 40-47) only touches the mask at a corner: "
        "PointingGame counts it as a hit", nearest(ld, 8), rect(56, 56, 14, 40, 14, 42),
        "lafam56_d.a", "rect56_d.s", topk_small)
    l28 = cells7("lafam28")
    add("lafam28", "7x7 cells x4 -> 28x28 (16 tied px per cell), ellipse mask",
        nearest(l28, 4), ellipse(28, 28, 13, 15, 9, 7), "lafam28.a", "ellipse28_lafam.s", topk_small)

    # The paper's resolution: 224 x 224, 32 x 32 = 1024 px per cell > k = 1000.
    l224 = cells7("lafam224")
    top = np.unravel_index(np.argmax(l224), l224.shape)
    cy, cx = 32 * top[0] + 16, 32 * top[1] + 16
    # An ellipse whose boundary passes through the top cell's centre: about half the cell inside.
    ry, rx = 56, 64
    m224 = ellipse(224, 224, cy + ry if cy < 112 else cy - ry, cx, ry, rx)
    add("lafam224_topcell_straddles", "7x7 cells x32 -> 224x224 (paper resolution); the ellipse mask "
        "cuts through the top cell, so TopK(k=1000) depends only on the tie order inside that cell. "
        "Stored `a` is the 7x7 cell map: a = np.repeat(np.repeat(cells, 32, 0), 32, 1)",
        nearest(l224, 32), m224, "lafam224.cells7", "ellipse224.s",
        [("TopKIntersection", {"k": 100}), ("Sparseness", {"normalise": False})],
        a_store=l224, upsample=32)
    return cases


def variants_for(case):
    v = [(m, {}) for m in METRICS]
    return v + case["extra"]


def main():
    assert quantus.__version__ == "0.6.0", quantus.__version__
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.glob("*"):
        f.unlink()

    written = {}

    def save(stem, arr):
        path = OUT / f"{stem}.npy"
        if stem in written:
            assert np.array_equal(written[stem], arr), stem
            return path.name
        np.save(path, arr)
        written[stem] = arr
        return path.name

    cases_json = []
    for c in build_cases():
        a, s = c["a"], c["s"]
        assert a.dtype == np.float32 and s.dtype == np.uint8 and a.shape == s.shape
        h, w = a.shape
        entry = {
            "name": c["name"],
            "description": c["description"],
            "shape": [h, w],
            "a": save(c["a_file"], c["a_store"] if c["a_store"] is not None else a),
            "s": save(c["s_file"], s),
            "mask_pixels": int(s.sum()),
            "distinct_values": int(np.unique(a).size),
            "distinct_values_after_normalise": int(np.unique(normalise_by_max(a[None, None])).size),
        }
        if c["upsample"]:
            entry["a_upsample_nearest"] = c["upsample"]
            entry["a_stored_shape"] = list(c["a_store"].shape)
        results, ties = {}, {}
        for metric, kw in variants_for(c):
            key = variant_key(metric, kw)
            res, exc, rec = run_quantus(metric, kw, a[None], s[None])
            r = {"call": f"quantus.{metric}({fmt_kwargs(kw)})"}
            if exc is not None:
                r.update(value=None, exception=exc)
            else:
                r.update(one_result(res[0]))
            r.update(rec)
            if exc is None:
                ind = independent(metric, kw, a, s)
                r["independent_f64"] = ind
                if metric == "PointingGame" and s.sum() == 0:
                    r["note"] = ("empty mask: Quantus returns True (np.nan assigned into a bool array, "
                                 "pointing_game.py 296); the definition gives NaN")
                assert agrees(r, ind, metric) or (metric == "PointingGame" and s.sum() == 0), (c["name"], key, r)
            results[key] = r
            if metric in ("TopKIntersection", "RelevanceRankAccuracy") and s.sum() > 0:
                k_for = (lambda m, kk=kw.get("k", 1000): kk) if metric == "TopKIntersection" \
                    else (lambda m: int(m.sum()))
                t = tie_analysis(a, s, kw, k_for)
                if t is not None:
                    if exc is None:
                        assert abs(t["quantus"] - r["value"]) < 1e-12, (c["name"], key)
                    else:
                        t["note"] = ("Quantus raised for this map alone; 'quantus' is what its sort "
                                     "order gives (as when the map is evaluated inside a batch)")
                    assert t["min"] <= t["stable_ascending_index"] <= t["max"]
                    assert t["min"] <= t["descending_index"] <= t["max"]
                    assert t["quantus_order_is_numpy124_introsort"], (c["name"], key)
                    ties[key] = t
        entry["results"] = results
        if ties:
            entry["ties"] = ties
        if c["name"] == "lafam56_a":
            order = np.argsort(-normalise_by_max(a[None, None]).ravel()).astype(np.int32)
            entry["quantus_argsort_file"] = save("lafam56_a.quantus_argsort", order)
            entry["quantus_argsort_note"] = ("np.argsort(-normalise_by_max(a).ravel()) with numpy 1.24.2 "
                                             "(kind='quicksort'), int32 flat indices; Quantus's order")
        cases_json.append(entry)
        print(f"{c['name']:32s} " + " ".join(
            f"{k.split('(')[0][:6]}={'exc' if v.get('exception') else v['value']}"
            for k, v in results.items() if "(" not in k))

    check_worked_example(next(c for c in cases_json if c["name"] == "worked_4x4"))
    batch = batch_effects()
    doc = {
        "generator": "tools/make_metric_fixtures.py",
        "environment": {"quantus": quantus.__version__, "numpy": np.__version__,
                        "scikit-learn": sklearn.__version__, "python": sys.version.split()[0]},
        "call_template": CALL,
        "conventions": [
            "a: float32 H x W saliency map; s: uint8 H x W mask (0/1); flat index = row * W + col",
            "each case is evaluated alone (batch of one): normalise_by_max divides by the batch-wide "
            "max |a|, so batching maps together can change Sparseness (~1e-6 relative for maps of similar scale; "
            "far more when their scales differ by orders of magnitude, cf. scaled28_small_magnitude "
            "Sparseness(normalise=False)) and float32 RMA rounding -- see batch_effects",
            "value: Quantus's result as float (PointingGame's numpy bool -> 1.0/0.0); null with "
            "\"nan\": true when Quantus returned NaN; null with \"exception\" when it raised",
            "Quantus's per-image value types: float32 for RelevanceMassAccuracy and "
            "AttributionLocalisation (float32 input), numpy bool_ for PointingGame, float64 otherwise",
            "warnings / stdout (omitted when empty): what the call emitted "
            "(warnings.catch_warnings(record=True), redirected stdout)",
            "independent_f64: recomputation from the docstring's definitions in float64 (TopK/RRA: "
            "[min, max] over tie orders); null where the definition gives NaN",
            "ties: for TopK/RRA, on the array Quantus sorts: cut statistics, Quantus's value, the two "
            "deterministic tie rules and the best/worst case over all tie orders",
            "the LaFAM paper states no metric parameters, so the default-parameter results are also the "
            "paper-setting results (TopK k=1000 needs H*W > 1000)",
        ],
        "metric_defaults": DEFAULTS,
        "quantus_behaviour": {
            "empty_mask": "PointingGame returns True (NaN assigned into a bool array); TopKIntersection, "
                          "RelevanceRankAccuracy, RelevanceMassAccuracy, AttributionLocalisation, AUC "
                          "return NaN (with warnings, see rand28_empty); Sparseness ignores the mask",
            "full_mask": "AUC returns NaN (no negatives); RRA, TopK = 1; RMA = 1; AttributionLocalisation = "
                         "sum(a)/(sum(a) + 1e-9) = 1.0 in float32",
            "constant_or_zero_map_alone": "every metric raises AssertionError in assert_attributions "
                                          "(before normalisation) -- see constant28, zeros28",
            "constant_or_zero_map_in_a_batch": "passes the batch-level assertion; see batch_effects",
            "k_too_large": "TopKIntersection raises ValueError when k >= H*W",
            "all_negative_map": "AssertionError 'Attributions should not all be less than zero.'",
            "tie_order": "np.argsort(-a) kind='quicksort' = numpy 1.24 introsort, deterministic but not "
                         "stable for N > 16; numpy >= 1.25 may use SIMD argsort (CPU-dependent)",
        },
        "cases": cases_json,
        "batch_effects": batch,
        "worked_example": worked_example(),
    }
    (OUT / "cases.json").write_text(json.dumps(clean(doc), indent=1, allow_nan=False) + "\n")
    total = sum(f.stat().st_size for f in OUT.glob("*"))
    print(f"wrote {len(list(OUT.glob('*')))} files, {total / 1024:.1f} KiB, to {OUT.relative_to(ROOT)}")


def clean(x):
    """NaN/inf -> None, numpy scalars -> Python, recursively (json with allow_nan=False)."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not np.isfinite(x) else float(x)
    return x


def batch_effects():
    """What changes when maps share one Quantus call (batch-level assertion and normalisation)."""
    r28 = tie_free_random("rand28", 28, 28)
    s = rect(28, 28, 8, 20, 10, 22)
    out = {}

    def per_image(name, desc, maps, masks, variants):
        rows = {}
        for metric, kw in variants:
            res, exc, rec = run_quantus(metric, kw, np.stack(maps), np.stack(masks))
            r = {"call": f"quantus.{metric}({fmt_kwargs(kw)})"}
            if exc is not None:
                r["exception"] = exc
            else:
                r["values"] = [one_result(v) for v in res]
            r.update(rec)
            rows[variant_key(metric, kw)] = r
        out[name] = {"description": desc, "results": rows}

    allm = [(m, {}) for m in METRICS if m != "TopKIntersection"] + [("TopKIntersection", {"k": 100})]
    per_image("constant_with_random",
              "batch [constant28 (0.5), rand28], both with mask rect28_center.s: the constant map passes "
              "the batch-level assertion and gets per-image values",
              [np.full((28, 28), 0.5, np.float32), r28], [s, s], allm)
    per_image("zeros_with_random", "batch [zeros28, rand28], both with mask rect28_center.s",
              [np.zeros((28, 28), np.float32), r28], [s, s], allm)
    per_image("batchwide_normalisation",
              "batch [rand28, 10 * rand28], same mask: normalise_by_max divides both by 10 * max(rand28); "
              "compare Sparseness of image 0 with case rand28_center (alone)",
              [r28, r28 * np.float32(10)], [s, s],
              [("Sparseness", {}), ("RelevanceMassAccuracy", {}), ("AUC", {})])
    alone = run_quantus("Sparseness", {}, r28[None], s[None])[0][0]
    out["batchwide_normalisation"]["sparseness_image0_alone"] = float(alone)
    return out


def check_worked_example(entry):
    """The hand arithmetic of docstring section 5 must match Quantus."""
    hand = worked_example()["by_hand"]
    for key, h in hand.items():
        q = entry["results"][key]["value"]
        want = h.get("value", h.get("value_without_epsilon"))
        tol = 1e-6 if key in ("Sparseness", "RelevanceMassAccuracy", "AttributionLocalisation") else 1e-12
        assert abs(q - want) <= tol, (key, q, want)
        if "min" in h:
            t = entry["ties"][key]
            assert (t["min"], t["max"]) == (h["min"], h["max"]), (key, t)


def worked_example():
    return {
        "case": "worked_4x4",
        "A": [[0, 1, 2, 0], [1, 6, 8, 2], [0, 4, 3, 1], [0, 0, 2, 1]],
        "a": "A / 8 (float32, max |a| = 1 so normalise_by_max is the identity)",
        "s": [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 1, 0]],
        "facts": "N = 16, |s| = 5 (flat 5:6, 6:8, 9:4, 10:3, 14:2); outside: A=0 at 0,3,8,12,13; "
                 "A=1 at 1,4,11,15; A=2 at 2,7; sum A = 31, inside 23",
        "by_hand": {
            "PointingGame": {"value": 1.0, "arithmetic": "max A = 8 at flat 6, inside s"},
            "TopKIntersection(k=3)": {"value": 1.0, "arithmetic": "top 8,6,4 all inside: 3/3"},
            "TopKIntersection(k=5)": {"value": 0.8, "min": 0.8, "max": 1.0, "arithmetic":
                                      "8,6,4,3 inside (4) + one of the tied 2s at flat 2,7,14 (only 14 "
                                      "inside); Quantus (N=16: insertion sort, stable) takes flat 2: 4/5"},
            "TopKIntersection(k=6)": {"value": 4 / 6, "min": 4 / 6, "max": 5 / 6, "arithmetic":
                                      "4 + two of {2,7,14}: stable takes 2,7 -> 4/6; descending 14,7 -> 5/6"},
            "RelevanceRankAccuracy": {"value": 0.8, "min": 0.8, "max": 1.0,
                                      "arithmetic": "K = |s| = 5: same cut as TopK k=5 -> 4/5"},
            "RelevanceMassAccuracy": {"value": 23 / 31, "arithmetic": "(23/8) / (31/8) = 23/31"},
            "AttributionLocalisation": {"value": 2.875 / (3.875 + 1e-9),
                                        "arithmetic": "2.875 / (3.875 + 1e-9)"},
            "AUC": {"value": 54 / 55, "arithmetic":
                    "5 x 11 = 55 pairs; 8,6,4,3 beat all 11 (44); 2 beats 5 zeros + 4 ones (9) and ties "
                    "two 2s (2 x 0.5 = 1): 54/55"},
            "Sparseness": {"value_without_epsilon": 291 / 496, "arithmetic":
                           "sorted A 0x5,1x4,2x3,3,4,6,8; weights 2i-17: sum w*A = (-5-3-1+1)*1 + (3+5+7)*2 "
                           "+ 9*3 + 11*4 + 13*6 + 15*8 = 291; Gini = (291/8)/(16*31/8) = 291/496; the "
                           "+1e-7 per pixel only adds 16e-7 to sum(a): 291/8 / (16 * (31/8 + 16e-7))",
                           "value_with_epsilon_f64": (291 / 8) / (16 * (31 / 8 + 16e-7))},
        },
    }


if __name__ == "__main__":
    os.environ.pop("GITHUB_ACTIONS", None)
    main()
