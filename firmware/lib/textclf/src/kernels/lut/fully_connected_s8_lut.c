/* FULLY_CONNECTED with LUT-compressed int8 weights: each weight row is decoded a chunk at a time
 * into the stack and multiplied there (lut.h), then biased and requantized as tc_fully_connected_s8
 * does. Same integers as the plain kernels on the decoded weights. */
#include "../../textclf_kernels.h"
#include "../internal/lut.h"
#include "../internal/requantize.h"

void tc_fully_connected_s8_lut(const tc_fully_connected_lut_params *params, const int8_t *input,
                               const int32_t *bias, int8_t *output)
{
    const tc_fully_connected_params *fc = &params->fully_connected;
    const int32_t depth = fc->accum_depth;
    int32_t batch, channel;
    for (batch = 0; batch < fc->batches; ++batch) {
        const int8_t *input_row = input + (size_t)batch * depth;
        for (channel = 0; channel < fc->output_depth; ++channel) {
            int32_t acc =
                tc_lut_dot(input_row, fc->input_offset, &params->weights, channel * depth, depth);
            if (bias != NULL) acc += bias[channel];
            *output++ = tc_requantize(&fc->requantize, acc, channel);
        }
    }
}
