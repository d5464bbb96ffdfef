/* MUL, int8 with broadcasting (TFLM kernels/mul.cc: reference_integer_ops::Mul and
 * BroadcastMul6DSlow). */
#include "../../textclf_kernels.h"
#include "../internal/fixed_point.h"
#include "../internal/odometer.h"

void tc_mul_s8(const tc_mul_params *params, const int8_t *input1, const int8_t *input2,
               int8_t *output)
{
    const int32_t count = tc_shape_count(params->broadcast.rank, params->broadcast.shape);
    tc_odometer cursor;
    int32_t i;
    tc_odometer_start(&cursor);
    for (i = 0; i < count; ++i) {
        const int32_t product = (params->input1_offset + input1[cursor.offset]) *
                                (params->input2_offset + input2[cursor.offset2]);
        const int32_t result = tc_multiply_by_quantized_multiplier(
                                   product, params->output_multiplier, params->output_shift) +
                               params->output_offset;
        output[i] = (int8_t)tc_clamp(result, params->activation_min, params->activation_max);
        tc_broadcast_advance(&cursor, &params->broadcast);
    }
}
