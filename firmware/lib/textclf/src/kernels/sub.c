/* SUB, int8 with broadcasting (TFLM kernels/sub.cc: reference_ops::Sub / BroadcastQuantSubSlow). */
#include "../kernels.h"
#include "broadcast.h"
#include "fixed_point.h"
#include "rescaled_binary.h"

void tc_sub(const tc_rescaled_binary_params *params, const int8_t *input1, const int8_t *input2,
            int8_t *output) {
    const int32_t count = tc_broadcast_output_count(&params->broadcast);
    tc_broadcast_cursor cursor;
    int32_t i;
    tc_broadcast_start(&cursor);
    for (i = 0; i < count; ++i) {
        const int32_t scaled1 = tc_rescale_input1(params, input1[cursor.offset1]);
        const int32_t scaled2 = tc_rescale_input2(params, input2[cursor.offset2]);
        output[i] = tc_rescale_output(params, scaled1 - scaled2);
        tc_broadcast_advance(&cursor, &params->broadcast);
    }
}
