/* CONCATENATION of int8 tensors with the output's scale and zero point (TFLM
 * kernels/concatenation.cc: a copy, no requantization). */
#include <string.h>

#include "../../textclf_kernels.h"

void tc_concatenation_s8(const tc_concatenation_params *params, const int8_t *const *inputs,
                         int8_t *output)
{
    int32_t outer, i;
    for (outer = 0; outer < params->outer_size; ++outer) {
        for (i = 0; i < params->input_count; ++i) {
            const size_t block = (size_t)params->input_block_sizes[i];
            memcpy(output, inputs[i] + (size_t)outer * block, block);
            output += block;
        }
    }
}
