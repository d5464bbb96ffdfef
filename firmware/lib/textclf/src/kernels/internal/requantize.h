/* Accumulator to int8 output, shared by FULLY_CONNECTED and CONV_2D. Internal to the kernel
 * library. */
#ifndef TEXTCLF_KERNELS_REQUANTIZE_H
#define TEXTCLF_KERNELS_REQUANTIZE_H

#include "../../textclf_kernels.h"
#include "fixed_point.h"

static inline int8_t tc_requantize(const tc_requantize_params *params, int32_t acc, int32_t channel)
{
    const int32_t index = params->per_channel ? channel : 0;
    const int32_t scaled =
        tc_multiply_by_quantized_multiplier(acc, params->multipliers[index], params->shifts[index]);
    return (int8_t)tc_clamp(scaled + params->output_offset, params->activation_min,
                            params->activation_max);
}

#endif /* TEXTCLF_KERNELS_REQUANTIZE_H */
