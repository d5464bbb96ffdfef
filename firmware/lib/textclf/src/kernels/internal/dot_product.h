/* The inner loops of the optimized FULLY_CONNECTED, CONV_2D and BATCH_MATMUL kernels. Two
 * implementations, chosen when the library is compiled: arm_dsp/dot_product_s8.c (SMLAD) where
 * the core has the DSP extension (Cortex-M4/M7), optimized/dot_product_s8.c (portable C)
 * everywhere else. Define TC_KERNELS_PORTABLE to force the portable loops. Internal to the kernel
 * library. */
#ifndef TEXTCLF_KERNELS_DOT_PRODUCT_H
#define TEXTCLF_KERNELS_DOT_PRODUCT_H

#include <stdint.h>

#if !defined(TC_KERNELS_PORTABLE) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TC_USE_ARM_DSP 1
#else
#define TC_USE_ARM_DSP 0
#endif

/* Sum over i < length of (x[i] + x_offset) * (w[i] + w_offset), accumulated in int32 as TFLM does.
 * Any variant must return exactly this integer (it is exact: no rounding is involved). */
int32_t tc_dot_product_s8(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_offset,
                          int32_t length);

/* Four channels per pass over x: acc[c] += sum (x[i] + x_offset) * w[c * w_stride + i], c < 4,
 * symmetric weights. Exactly the integers four tc_dot_product_s8 calls would give. */
void tc_dot_product_s8_x4(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_stride,
                          int32_t length, int32_t acc[4]);

/* The same four sums with the weights in the packed layout of tc_conv_2d_s8_opt's packed filter
 * (textclf_kernels.h; 2 * length words for the 4 channels); length is a multiple of 4.
 * Pre-widened, interleaved weights leave the inner loop one load per channel pair of
 * multiply-accumulates. */
void tc_dot_product_s8_x4_packed(const int8_t *x, int32_t x_offset, const int32_t *packed,
                                 int32_t length, int32_t acc[4]);

#endif /* TEXTCLF_KERNELS_DOT_PRODUCT_H */
