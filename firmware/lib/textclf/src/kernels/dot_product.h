/* The inner loop of FULLY_CONNECTED and CONV_2D, kept apart so that a target-optimized variant can
 * replace the portable one. Internal to the kernel library. */
#ifndef TEXTCLF_KERNELS_DOT_PRODUCT_H
#define TEXTCLF_KERNELS_DOT_PRODUCT_H

#include <stdint.h>

/* Sum over i < length of (x[i] + x_offset) * (w[i] + w_offset), accumulated in int32 as TFLM does.
 * Any variant must return exactly this integer (it is exact: no rounding is involved). */
int32_t tc_dot_product_s8(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_offset,
                          int32_t length);

/* Two dot products sharing one x (two output channels per pass over the input): adds
 * sum (x[i] + x_offset) * w0[i] to *acc0 and sum (x[i] + x_offset) * w1[i] to *acc1, symmetric
 * weights (no weight offset). Exactly the integers two tc_dot_product_s8 calls would give. */
void tc_dot_product_s8_x2(const int8_t *x, int32_t x_offset, const int8_t *w0, const int8_t *w1,
                          int32_t length, int32_t *acc0, int32_t *acc1);

#endif /* TEXTCLF_KERNELS_DOT_PRODUCT_H */
