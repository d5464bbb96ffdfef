/* FULLY_CONNECTED, int8: one dot product per output channel (dot_product.h, SMLAD where the core
 * has it). Same integers as tc_fully_connected_s8. */
#include "../../textclf_kernels.h"
#include "../internal/dot_product.h"
#include "../internal/requantize.h"

void tc_fully_connected_s8_opt(const tc_fully_connected_params *params, const int8_t *input,
                               const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const int32_t depth = params->accum_depth;
    int32_t batch, channel;
    for (batch = 0; batch < params->batches; ++batch) {
        const int8_t *input_row = input + (size_t)batch * depth;
        for (channel = 0; channel < params->output_depth; ++channel) {
            int32_t acc = tc_dot_product_s8(input_row, params->input_offset,
                                            weights + (size_t)channel * depth, 0, depth);
            if (bias != NULL) {
                acc += bias[channel];
            }
            *output++ = tc_requantize(&params->requantize, acc, channel);
        }
    }
}
