/* FULLY_CONNECTED, int8 input / weights / output, int32 bias (TFLM kernels/fully_connected.cc:
 * reference_integer_ops::FullyConnected and FullyConnectedPerChannel), loop for loop. */
#include "../../textclf_kernels.h"
#include "../internal/requantize.h"

void tc_fully_connected_s8(const tc_fully_connected_params *params, const int8_t *input,
                           const int8_t *weights, const int32_t *bias, int8_t *output)
{
    const int32_t depth = params->accum_depth;
    int32_t batch, channel, d;
    for (batch = 0; batch < params->batches; ++batch) {
        const int8_t *input_row = input + (size_t)batch * depth;
        for (channel = 0; channel < params->output_depth; ++channel) {
            const int8_t *weight_row = weights + (size_t)channel * depth;
            int32_t acc = 0;
            for (d = 0; d < depth; ++d) {
                acc += ((int32_t)input_row[d] + params->input_offset) * weight_row[d];
            }
            if (bias != NULL) {
                acc += bias[channel];
            }
            *output++ = tc_requantize(&params->requantize, acc, channel);
        }
    }
}
