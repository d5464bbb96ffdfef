/* STRIDED_SLICE, int8, up to 4 dimensions (TFLM kernels/strided_slice.cc). */
#include "../../textclf_kernels.h"

static int in_range(int32_t index, int32_t stop, int32_t stride)
{
    return stride > 0 ? index < stop : index > stop;
}

void tc_strided_slice_s8(const tc_strided_slice_params *params, const int8_t *input, int8_t *output)
{
    const int32_t *shape = params->input_shape;
    const int32_t *start = params->start;
    const int32_t *stop = params->stop;
    const int32_t *stride = params->stride;
    int32_t i0, i1, i2, i3;
    for (i0 = start[0]; in_range(i0, stop[0], stride[0]); i0 += stride[0]) {
        for (i1 = start[1]; in_range(i1, stop[1], stride[1]); i1 += stride[1]) {
            for (i2 = start[2]; in_range(i2, stop[2], stride[2]); i2 += stride[2]) {
                const int8_t *row = input + ((i0 * shape[1] + i1) * shape[2] + i2) * shape[3];
                for (i3 = start[3]; in_range(i3, stop[3], stride[3]); i3 += stride[3]) {
                    *output++ = row[i3];
                }
            }
        }
    }
}
