#include "CKernels.h"
#include <immintrin.h>
#include <string.h>

int lafam_cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Columns of a padded row: every 8-column step reads up to 8·strideX + 2 floats from its start
// (stride 2: 16 from each of the three taps' starts).
static long padded_width(long outWidth, long strideX) {
    long steps = (outWidth + 7) / 8;
    return 8 * steps * strideX + 18;
}

long lafam_depthwise3x3_scratch(long outHeight, long outWidth, long strideY, long strideX) {
    return ((outHeight - 1) * strideY + 3) * padded_width(outWidth, strideX);
}

// Elements 0, 2, …, 14 of the 16 floats at p.
__attribute__((target("avx2,fma")))
static inline __m256 even_elements(const float *p) {
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

__attribute__((target("avx2,fma")))
static inline __m256 taps(const float *p, __m256 k0, __m256 k1, __m256 k2, __m256 sum, long strideX) {
    if (strideX == 1) {
        sum = _mm256_fmadd_ps(k0, _mm256_loadu_ps(p), sum);
        sum = _mm256_fmadd_ps(k1, _mm256_loadu_ps(p + 1), sum);
        return _mm256_fmadd_ps(k2, _mm256_loadu_ps(p + 2), sum);
    }
    sum = _mm256_fmadd_ps(k0, even_elements(p), sum);
    sum = _mm256_fmadd_ps(k1, even_elements(p + 1), sum);
    return _mm256_fmadd_ps(k2, even_elements(p + 2), sum);
}

__attribute__((target("avx2,fma")))
void lafam_depthwise3x3_channel(const float *x, const float *kernel, float *out, float *scratch,
                                long height, long width, long outHeight, long outWidth,
                                long strideY, long strideX, long padTop, long padLeft,
                                const float *bias, int clamp, float low, float high) {
    long pitch = padded_width(outWidth, strideX), rows = (outHeight - 1) * strideY + 3;
    // Input columns that land inside the padded row (pads are never negative).
    long count = width < pitch - padLeft ? width : pitch - padLeft;
    for (long r = 0; r < rows; r++) {
        float *row = scratch + r * pitch;
        long y = r - padTop;
        if (y < 0 || y >= height || count <= 0) {
            memset(row, 0, pitch * sizeof(float));
            continue;
        }
        memset(row, 0, padLeft * sizeof(float));
        memcpy(row + padLeft, x + y * width, count * sizeof(float));
        memset(row + padLeft + count, 0, (pitch - padLeft - count) * sizeof(float));
    }
    __m256 k0 = _mm256_set1_ps(kernel[0]), k1 = _mm256_set1_ps(kernel[1]), k2 = _mm256_set1_ps(kernel[2]);
    __m256 k3 = _mm256_set1_ps(kernel[3]), k4 = _mm256_set1_ps(kernel[4]), k5 = _mm256_set1_ps(kernel[5]);
    __m256 k6 = _mm256_set1_ps(kernel[6]), k7 = _mm256_set1_ps(kernel[7]), k8 = _mm256_set1_ps(kernel[8]);
    __m256 biasVector = _mm256_set1_ps(bias ? *bias : 0), lowVector = _mm256_set1_ps(low), highVector = _mm256_set1_ps(high);
    long whole = outWidth / 8 * 8, rest = outWidth - whole;
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (long oy = 0; oy < outHeight; oy++) {
        const float *r0 = scratch + oy * strideY * pitch, *r1 = r0 + pitch, *r2 = r1 + pitch;
        float *dst = out + oy * outWidth;
        for (long ox = 0; ox < outWidth; ox += 8) {
            long i = ox * strideX;
            __m256 sum = taps(r0 + i, k0, k1, k2, _mm256_setzero_ps(), strideX);
            sum = taps(r1 + i, k3, k4, k5, sum, strideX);
            sum = taps(r2 + i, k6, k7, k8, sum, strideX);
            if (bias) sum = _mm256_add_ps(sum, biasVector);
            if (clamp) sum = _mm256_min_ps(highVector, _mm256_max_ps(lowVector, sum));  // NaN stays NaN
            if (ox < whole) {
                _mm256_storeu_ps(dst + ox, sum);
            } else {
                _mm256_maskstore_ps(dst + ox, mask, sum);
            }
        }
    }
}
