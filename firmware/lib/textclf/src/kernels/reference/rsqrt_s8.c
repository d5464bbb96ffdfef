/* RSQRT, int8 (TFLM kernels/elementwise.cc: RsqrtEvalQuantized). */
#include "../../textclf_kernels.h"
#include "../internal/fixed_point.h"

/* Headroom that keeps 1/sqrt(value) an integer before the output rescaling. */
enum { INTERMEDIATE_SHIFT = 20 };

void tc_rsqrt_s8(const tc_rsqrt_params *params, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < params->count; ++i) {
        const int32_t value = (int32_t)input[i] - params->input_zero_point;
        if (value <= 0) {
            output[i] = INT8_MAX;
        } else {
            int32_t inv_sqrt_multiplier;
            int32_t inv_sqrt_shift;
            int32_t inv_sqrt;
            tc_inv_sqrt_quantized_multiplier(value, &inv_sqrt_multiplier, &inv_sqrt_shift);
            inv_sqrt = tc_multiply_by_quantized_multiplier(1, inv_sqrt_multiplier,
                                                           inv_sqrt_shift + INTERMEDIATE_SHIFT);
            output[i] = (int8_t)tc_clamp(
                tc_multiply_by_quantized_multiplier(inv_sqrt, params->output_multiplier,
                                                    params->output_shift - INTERMEDIATE_SHIFT) +
                    params->output_zero_point,
                INT8_MIN, INT8_MAX);
        }
    }
}
