/* QUANTIZE from int8 to int8, i.e. a requantization (TFLM kernels/quantize.cc:
 * reference_ops::Requantize). */
#include "../../textclf_kernels.h"
#include "../internal/fixed_point.h"

void tc_quantize_s8(const tc_quantize_params *params, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < params->count; ++i) {
        const int32_t value = (int32_t)input[i] - params->input_zero_point;
        output[i] = (int8_t)tc_clamp(
            tc_multiply_by_quantized_multiplier(value, params->multiplier, params->shift) +
                params->output_zero_point,
            INT8_MIN, INT8_MAX);
    }
}
