// Vector kernels compiled for AVX2 and FMA alongside a portable build: Swift cannot compile one
// function for a wider instruction set than its module, C can (`target` attribute), so lafam
// calls these only when the CPU has the instructions (lafam_cpu_has_avx2_fma).
#ifndef LAFAM_CKERNELS_H
#define LAFAM_CKERNELS_H

/// Non-zero when the CPU runs AVX2 and FMA instructions.
int lafam_cpu_has_avx2_fma(void);

/// Floats of scratch that lafam_depthwise3x3_channel needs for this output size and stride.
long lafam_depthwise3x3_scratch(long outHeight, long outWidth, long strideY, long strideX);

/// One channel of a 3×3 undilated depthwise convolution, stride 1 or 2 along the row and any
/// vertical stride and padding: the input plane is copied once into `scratch` with its zero
/// padding, then every output row is computed 8 columns at a time (FMA, the last step masked).
/// Each output then gets `*bias` added (unless bias is NULL) and, if `clamp`, is clamped to
/// [low, high] as max then min: the float operations of a separate bias pass and Relu/Clip.
void lafam_depthwise3x3_channel(const float *x, const float *kernel, float *out, float *scratch,
                                long height, long width, long outHeight, long outWidth,
                                long strideY, long strideX, long padTop, long padLeft,
                                const float *bias, int clamp, float low, float high);

/// A 3×3 undilated convolution of one image with few input channels (a network's stem, where
/// im2col's K = 9·C is too short for an efficient GEMM), stride 1 or 2 along the row, any vertical
/// stride and padding, in two steps: `prepare` copies the padded input once into one plane per
/// input channel and stride phase (columns p, p + s, p + 2s, …), so that every tap of 8
/// consecutive outputs is one contiguous load; `lafam_conv3x3_small` then computes `outChannels`
/// output channels (weights [outChannels, inChannels, 3, 3]) 4 at a time, 8 columns per step,
/// applying bias (one per output channel, or NULL) and clamp as lafam_depthwise3x3_channel does.
long lafam_conv3x3_small_scratch(long inChannels, long outHeight, long outWidth, long strideY, long strideX);
void lafam_conv3x3_small_prepare(const float *x, float *scratch, long inChannels, long height, long width,
                                 long outHeight, long outWidth, long strideY, long strideX, long padTop, long padLeft);
void lafam_conv3x3_small(const float *scratch, const float *weights, float *out, long inChannels, long outChannels,
                         long outHeight, long outWidth, long strideY, long strideX,
                         const float *bias, int clamp, float low, float high);

/// A conv's output pass over one row of `count` outputs: each gets `*bias` added (unless bias is
/// NULL), then `residual[i]` (unless NULL), then, if `clamp`, is clamped to [low, high] as max
/// then min: the float operations of separate bias, Add and Relu/Clip passes, in one pass.
void lafam_finish_row(float *out, long count, const float *bias, const float *residual, int clamp, float low, float high);

/// Softmax over each of `rows` contiguous runs of `length` floats, in place: the maximum
/// subtracted, e^x by an 8-lane polynomial (relative error below 2e-7; 0 below −87.3), the sum
/// in 8 partial sums, each value times 1/sum. A row holding NaN or ±∞ goes through expf.
void lafam_softmax_rows(float *x, long rows, long length);

#endif
