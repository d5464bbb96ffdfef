/* TRANSPOSE, int8 (TFLM kernels/transpose.cc): the output in order, the input through permuted
 * strides. */
#include "../../textclf_kernels.h"
#include "../internal/odometer.h"

void tc_transpose_s8(const tc_transpose_params *params, const int8_t *input, int8_t *output)
{
    const int32_t count = tc_shape_count(params->rank, params->output_shape);
    tc_odometer position;
    int32_t i;
    tc_odometer_start(&position);
    for (i = 0; i < count; ++i) {
        output[i] = input[position.offset];
        tc_odometer_advance(&position, params->rank, params->output_shape, params->input_strides);
    }
}
