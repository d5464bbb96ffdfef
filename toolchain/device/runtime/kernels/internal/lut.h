/* Decoding LUT-compressed int8 constants (tc_lut_params, textclf_kernels.h) a stretch of elements
 * at a time, for the _lut kernels. Internal to the kernel library. */
#ifndef TEXTCLF_KERNELS_LUT_H
#define TEXTCLF_KERNELS_LUT_H

#include "../../textclf_kernels.h"

/* Elements the multiplying kernels decode per step into a stack buffer. */
#define TC_LUT_CHUNK 64

/* out[k] = element first + k of the compressed tensor, for k < count. Reads only the index bytes
 * that hold bits of those elements (so never past the end of `indices`). */
void tc_lut_decode(const tc_lut_params *lut, int32_t first, int32_t count, int8_t *out);

/* Sum over k < length of (x[k] + x_offset) * element(first + k), decoded TC_LUT_CHUNK elements
 * at a time: the exact integer the plain dot product gives on the decoded tensor. */
int32_t tc_lut_dot(const int8_t *x, int32_t x_offset, const tc_lut_params *lut, int32_t first,
                   int32_t length);

#endif /* TEXTCLF_KERNELS_LUT_H */
