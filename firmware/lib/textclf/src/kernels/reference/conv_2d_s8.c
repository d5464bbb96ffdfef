/* CONV_2D, int8 input / filter / output, int32 bias, per-channel or per-tensor filter scales
 * (TFLM kernels/conv.cc: reference_integer_ops::ConvPerChannel), loop for loop: every output
 * pixel, every output channel, every filter tap, every input channel of the channel's group. Taps
 * outside the input are skipped, which is zero padding in the real domain. */
#include "../../textclf_kernels.h"
#include "../internal/requantize.h"

void tc_conv_2d_s8(const tc_conv_2d_params *params, const int8_t *input, const int8_t *filter,
                   const int32_t *bias, int8_t *output)
{
    const int32_t filter_depth = params->filter_input_depth;
    const int32_t filters_per_group = params->output_depth / (params->input_depth / filter_depth);
    int32_t batch, out_y, out_x, channel, filter_y, filter_x, k;
    for (batch = 0; batch < params->batches; ++batch) {
        for (out_y = 0; out_y < params->output_height; ++out_y) {
            const int32_t in_y_origin = out_y * params->stride_height - params->pad_height;
            for (out_x = 0; out_x < params->output_width; ++out_x) {
                const int32_t in_x_origin = out_x * params->stride_width - params->pad_width;
                for (channel = 0; channel < params->output_depth; ++channel) {
                    const int32_t group_start = (channel / filters_per_group) * filter_depth;
                    int32_t acc = 0;
                    for (filter_y = 0; filter_y < params->filter_height; ++filter_y) {
                        const int32_t in_y = in_y_origin + params->dilation_height * filter_y;
                        if (in_y < 0 || in_y >= params->input_height) {
                            continue;
                        }
                        for (filter_x = 0; filter_x < params->filter_width; ++filter_x) {
                            const int32_t in_x = in_x_origin + params->dilation_width * filter_x;
                            const int8_t *pixel;
                            const int8_t *taps;
                            if (in_x < 0 || in_x >= params->input_width) {
                                continue;
                            }
                            pixel = input +
                                    (((size_t)batch * params->input_height + in_y) *
                                         params->input_width +
                                     in_x) *
                                        params->input_depth +
                                    group_start;
                            taps = filter + (((size_t)channel * params->filter_height + filter_y) *
                                                 params->filter_width +
                                             filter_x) *
                                                filter_depth;
                            for (k = 0; k < filter_depth; ++k) {
                                acc += ((int32_t)pixel[k] + params->input_offset) * taps[k];
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[channel];
                    }
                    *output++ = tc_requantize(&params->requantize, acc, channel);
                }
            }
        }
    }
}
