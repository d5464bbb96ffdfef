/* SUB, int8 with broadcasting (TFLM kernels/sub.cc: reference_ops::Sub / BroadcastQuantSubSlow). */
#include "../../textclf_kernels.h"
#include "../internal/odometer.h"
#include "../internal/rescaled_binary.h"

void tc_sub_s8(const tc_rescaled_binary_params *params, const int8_t *input1, const int8_t *input2,
               int8_t *output)
{
    const int32_t count = tc_shape_count(params->broadcast.rank, params->broadcast.shape);
    tc_odometer cursor;
    int32_t i;
    tc_odometer_start(&cursor);
    for (i = 0; i < count; ++i) {
        const int32_t scaled1 = tc_rescale_input1(params, input1[cursor.offset]);
        const int32_t scaled2 = tc_rescale_input2(params, input2[cursor.offset2]);
        output[i] = tc_rescale_output(params, scaled1 - scaled2);
        tc_broadcast_advance(&cursor, &params->broadcast);
    }
}
