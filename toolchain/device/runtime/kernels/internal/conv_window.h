/* Whether a convolution window reads only zero points, for the kernels that skip such windows
 * (optimized/conv_2d_s8_opt.c, lut/conv_2d_s8_lut.c). Internal to the kernel library. */
#ifndef TEXTCLF_KERNELS_CONV_WINDOW_H
#define TEXTCLF_KERNELS_CONV_WINDOW_H

#include "../../textclf_kernels.h"

/* 1 when every in-bounds input pixel under the window whose top-left tap is at (in_y_origin,
 * in_x_origin) equals the input zero point in every channel, else 0. Such a window adds nothing
 * to any accumulator: each output channel is requantize(bias). Taps in the padding are skipped. */
int tc_conv_window_is_zero_point(const tc_conv_2d_params *p, const int8_t *image,
                                 int32_t in_y_origin, int32_t in_x_origin);

#endif /* TEXTCLF_KERNELS_CONV_WINDOW_H */
