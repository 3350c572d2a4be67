#include "CKernels.h"
#include <immintrin.h>
#include <math.h>

// e^x for 8 lanes: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for an exact product), e^r
// by its degree-6 Taylor polynomial in Horner form (relative error below 2e-7 on that range),
// times 2^n built in the exponent bits. Inputs are ≤ 0 here (x − max); below −87.3 the result
// flushes to 0, as expf's does.
__attribute__((target("avx2,fma")))
static inline __m256 exp_ps(__m256 x) {
    const __m256 lowest = _mm256_set1_ps(-87.33654f);
    __m256 underflow = _mm256_cmp_ps(x, lowest, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lowest);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

__attribute__((target("avx2,fma")))
static inline float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
void lafam_softmax_rows(float *x, long rows, long length) {
    long whole = length / 8 * 8;
    __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(length - whole)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (long row = 0; row < rows; row++) {
        float *p = x + row * length;
        float m = -INFINITY;
        int nan = 0;
        for (long i = 0; i < length; i++) { m = p[i] > m ? p[i] : m; nan |= p[i] != p[i]; }
        if (nan || isinf(m)) {
            // All −∞, a NaN or +∞ in the row: the scalar rule decides (NaN or the limits).
            float sum = 0;
            for (long i = 0; i < length; i++) { p[i] = expf(p[i] - m); sum += p[i]; }
            for (long i = 0; i < length; i++) p[i] /= sum;
            continue;
        }
        __m256 mv = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
        for (long i = 0; i < whole; i += 8) {
            __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(p + i), mv));
            _mm256_storeu_ps(p + i, e);
            acc = _mm256_add_ps(acc, e);
        }
        if (whole < length) {
            __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(_mm256_maskload_ps(p + whole, tail), mv)), _mm256_castsi256_ps(tail));
            _mm256_maskstore_ps(p + whole, tail, e);
            acc = _mm256_add_ps(acc, e);
        }
        __m256 inverse = _mm256_set1_ps(1.0f / sum8(acc));
        for (long i = 0; i < whole; i += 8) _mm256_storeu_ps(p + i, _mm256_mul_ps(_mm256_loadu_ps(p + i), inverse));
        if (whole < length) _mm256_maskstore_ps(p + whole, tail, _mm256_mul_ps(_mm256_maskload_ps(p + whole, tail), inverse));
    }
}
