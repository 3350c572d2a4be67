#include "CKernels.h"
#include <immintrin.h>
#include <string.h>

// Phase planes: for stride s along the row, plane p of an input channel holds the padded row's
// columns p, p + s, p + 2s, … so that every tap of 8 consecutive outputs is one contiguous load.
static long phase_width(long outWidth) { return (outWidth + 7) / 8 * 8 + 8; }
static long padded_rows(long outHeight, long strideY) { return (outHeight - 1) * strideY + 3; }

long lafam_conv3x3_small_scratch(long inChannels, long outHeight, long outWidth, long strideY, long strideX) {
    return inChannels * strideX * padded_rows(outHeight, strideY) * phase_width(outWidth);
}

void lafam_conv3x3_small_prepare(const float *x, float *scratch, long inChannels, long height, long width,
                                 long outHeight, long outWidth, long strideY, long strideX, long padTop, long padLeft) {
    long rows = padded_rows(outHeight, strideY), pw = phase_width(outWidth), plane = rows * pw;
    for (long ic = 0; ic < inChannels; ic++) {
        for (long phase = 0; phase < strideX; phase++) {
            float *dst = scratch + (ic * strideX + phase) * plane;
            // Phase columns j whose input column j·strideX + phase − padLeft lies in the row.
            long first = padLeft > phase ? (padLeft - phase + strideX - 1) / strideX : 0;
            long last = width - 1 + padLeft - phase < 0 ? 0 : (width - 1 + padLeft - phase) / strideX + 1;
            if (last > pw) last = pw;
            if (last < first) last = first;
            for (long r = 0; r < rows; r++) {
                long y = r - padTop;
                float *row = dst + r * pw;
                if (y < 0 || y >= height) { memset(row, 0, pw * sizeof(float)); continue; }
                const float *src = x + (ic * height + y) * width + phase - padLeft;
                memset(row, 0, first * sizeof(float));
                for (long j = first; j < last; j++) row[j] = src[j * strideX];
                memset(row + last, 0, (pw - last) * sizeof(float));
            }
        }
    }
}

__attribute__((target("avx2,fma")))
void lafam_conv3x3_small(const float *scratch, const float *weights, float *out, long inChannels, long outChannels,
                         long outHeight, long outWidth, long strideY, long strideX,
                         const float *bias, int clamp, float low, float high) {
    long pw = phase_width(outWidth), plane = padded_rows(outHeight, strideY) * pw;
    __m256 lo = _mm256_set1_ps(low), hi = _mm256_set1_ps(high);
    long whole = outWidth / 8 * 8;
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(outWidth - whole)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (long oc0 = 0; oc0 < outChannels; oc0 += 4) {
        long count = outChannels - oc0 < 4 ? outChannels - oc0 : 4;
        // Four output channels share each input load; past the last channel, the last one's
        // weights are read again and its results dropped.
        const float *w[4];
        for (long j = 0; j < 4; j++) w[j] = weights + (oc0 + (j < count ? j : count - 1)) * inChannels * 9;
        for (long oy = 0; oy < outHeight; oy++) {
            for (long ox = 0; ox < outWidth; ox += 8) {
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                for (long ic = 0; ic < inChannels; ic++) {
                    for (long ky = 0; ky < 3; ky++) {
                        for (long kx = 0; kx < 3; kx++) {
                            const float *p = scratch + (ic * strideX + kx % strideX) * plane + (oy * strideY + ky) * pw + ox + kx / strideX;
                            __m256 v = _mm256_loadu_ps(p);
                            long t = (ic * 3 + ky) * 3 + kx;
                            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[0] + t), v, a0);
                            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[1] + t), v, a1);
                            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[2] + t), v, a2);
                            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(w[3] + t), v, a3);
                        }
                    }
                }
                __m256 acc[4] = {a0, a1, a2, a3};
                for (long j = 0; j < count; j++) {
                    __m256 y = acc[j];
                    if (bias) y = _mm256_add_ps(y, _mm256_set1_ps(bias[oc0 + j]));
                    if (clamp) y = _mm256_min_ps(hi, _mm256_max_ps(lo, y));  // NaN stays NaN
                    float *o = out + ((oc0 + j) * outHeight + oy) * outWidth + ox;
                    if (ox < whole) _mm256_storeu_ps(o, y); else _mm256_maskstore_ps(o, mask, y);
                }
            }
        }
    }
}
