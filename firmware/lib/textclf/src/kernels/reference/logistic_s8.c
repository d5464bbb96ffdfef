/* LOGISTIC, int8 (TFLM kernels/logistic.cc: reference_integer_ops::Logistic). */
#include "../../textclf_kernels.h"
#include "../internal/fixed_point.h"

enum { INPUT_INTEGER_BITS = 4, OUTPUT_INTEGER_BITS = 8 };

void tc_logistic_s8(const tc_fixed_point_activation_params *params, const int8_t *input,
                    int8_t *output)
{
    int32_t i;
    for (i = 0; i < params->count; ++i) {
        const int32_t value = (int32_t)input[i] - params->input_zero_point;
        if (value <= -params->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (value >= params->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t input_q4 = tc_multiply_by_quantized_multiplier(
                value, params->input_multiplier, params->input_left_shift);
            const int32_t output_q0 = tc_logistic_fixed_point(input_q4, INPUT_INTEGER_BITS);
            const int32_t scaled = tc_rounding_divide_by_pot(output_q0, 31 - OUTPUT_INTEGER_BITS);
            output[i] = (int8_t)tc_clamp(scaled + INT8_MIN, INT8_MIN, INT8_MAX);
        }
    }
}
