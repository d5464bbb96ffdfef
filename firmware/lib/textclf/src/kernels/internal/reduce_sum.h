/* The rescaling step SUM and MEAN share, reference and optimized alike. Internal to the kernel
 * library. */
#ifndef TEXTCLF_KERNELS_REDUCE_SUM_H
#define TEXTCLF_KERNELS_REDUCE_SUM_H

#include "../../textclf_kernels.h"
#include "fixed_point.h"

static inline int8_t tc_requantize_sum(const tc_reduce_sum_params *params, int32_t sum,
                                       int32_t count)
{
    sum -= params->input_zero_point * count;
    return (int8_t)tc_clamp(
        tc_multiply_by_quantized_multiplier(sum, params->multiplier, params->shift) +
            params->output_zero_point,
        INT8_MIN, INT8_MAX);
}

#endif /* TEXTCLF_KERNELS_REDUCE_SUM_H */
