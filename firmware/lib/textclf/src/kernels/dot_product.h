/* The inner loop of FULLY_CONNECTED and CONV_2D, kept apart so that a target-optimized variant can
 * replace the portable one. Internal to the kernel library. */
#ifndef TEXTCLF_KERNELS_DOT_PRODUCT_H
#define TEXTCLF_KERNELS_DOT_PRODUCT_H

#include <stdint.h>

/* Sum over i < length of (x[i] + x_offset) * (w[i] + w_offset), accumulated in int32 as TFLM does.
 * Any variant must return exactly this integer (it is exact: no rounding is involved). */
int32_t tc_dot_product_s8(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_offset,
                          int32_t length);

#endif /* TEXTCLF_KERNELS_DOT_PRODUCT_H */
