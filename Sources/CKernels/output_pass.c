#include "CKernels.h"
#include <immintrin.h>

// x + bias, then + residual, then clamped to [low, high] as max then min; the NaN-propagating
// operand order of maxps/minps (a NaN x stays NaN, as in Swift's max/min).
__attribute__((target("avx2,fma")))
static inline __m256 finish(__m256 x, __m256 bias, const float *residual, int clamp, __m256 low, __m256 high, __m256i mask, int masked) {
    x = _mm256_add_ps(x, bias);
    if (residual) x = _mm256_add_ps(x, masked ? _mm256_maskload_ps(residual, mask) : _mm256_loadu_ps(residual));
    if (clamp) x = _mm256_min_ps(high, _mm256_max_ps(low, x));
    return x;
}

__attribute__((target("avx2,fma")))
void lafam_finish_row(float *out, long count, const float *bias, const float *residual, int clamp, float low, float high) {
    __m256 b = _mm256_set1_ps(bias ? *bias : 0), lo = _mm256_set1_ps(low), hi = _mm256_set1_ps(high);
    long whole = count / 8 * 8;
    __m256i all = _mm256_set1_epi32(-1);
    if (!bias && !residual && !clamp) return;
    if (!bias) b = _mm256_set1_ps(-0.0f);  // x + (-0) == x for every x, -0 included
    for (long i = 0; i < whole; i += 8) {
        _mm256_storeu_ps(out + i, finish(_mm256_loadu_ps(out + i), b, residual ? residual + i : 0, clamp, lo, hi, all, 0));
    }
    if (whole < count) {
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count - whole)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 x = finish(_mm256_maskload_ps(out + whole, mask), b, residual ? residual + whole : 0, clamp, lo, hi, mask, 1);
        _mm256_maskstore_ps(out + whole, mask, x);
    }
}
