/* The input and output rescaling that ADD, SUB (left_shift 20) and SQUARED_DIFFERENCE
 * (left_shift 7) share in TFLM. Internal to the kernel library. */
#ifndef TEXTCLF_KERNELS_RESCALED_BINARY_H
#define TEXTCLF_KERNELS_RESCALED_BINARY_H

#include "../../textclf_kernels.h"
#include "fixed_point.h"

static inline int32_t tc_rescale_input1(const tc_rescaled_binary_params *params, int8_t value)
{
    const int32_t shifted = (params->input1_offset + value) * (1 << params->left_shift);
    return tc_multiply_by_quantized_multiplier(shifted, params->input1_multiplier,
                                               params->input1_shift);
}

static inline int32_t tc_rescale_input2(const tc_rescaled_binary_params *params, int8_t value)
{
    const int32_t shifted = (params->input2_offset + value) * (1 << params->left_shift);
    return tc_multiply_by_quantized_multiplier(shifted, params->input2_multiplier,
                                               params->input2_shift);
}

static inline int8_t tc_rescale_output(const tc_rescaled_binary_params *params, int32_t raw)
{
    const int32_t output =
        tc_multiply_by_quantized_multiplier(raw, params->output_multiplier, params->output_shift) +
        params->output_offset;
    return (int8_t)tc_clamp(output, params->activation_min, params->activation_max);
}

#endif /* TEXTCLF_KERNELS_RESCALED_BINARY_H */
