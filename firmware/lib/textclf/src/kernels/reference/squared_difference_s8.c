/* SQUARED_DIFFERENCE, int8 with broadcasting (TFLM kernels/squared_difference.cc). */
#include "../../textclf_kernels.h"
#include "../internal/odometer.h"
#include "../internal/rescaled_binary.h"

void tc_squared_difference_s8(const tc_rescaled_binary_params *params, const int8_t *input1,
                              const int8_t *input2, int8_t *output)
{
    const int32_t count = tc_shape_count(params->broadcast.rank, params->broadcast.shape);
    tc_odometer cursor;
    int32_t i;
    tc_odometer_start(&cursor);
    for (i = 0; i < count; ++i) {
        const int32_t difference = tc_rescale_input1(params, input1[cursor.offset]) -
                                   tc_rescale_input2(params, input2[cursor.offset2]);
        output[i] = tc_rescale_output(params, difference * difference);
        tc_broadcast_advance(&cursor, &params->broadcast);
    }
}
