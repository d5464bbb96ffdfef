/* CONV_2D, int8 input / filter / output, int32 bias, per-channel or per-tensor filter scales
 * (TFLM kernels/conv.cc: reference_integer_ops::ConvPerChannel). Taps outside the input are
 * skipped, which is zero padding in the real domain. */
#include "../kernels.h"
#include "dot_product.h"
#include "requantize.h"

void tc_conv_2d(const tc_conv_2d_params *params, const int8_t *input, const int8_t *filter,
                const int32_t *bias, int8_t *output) {
    const int32_t filter_depth = params->filter_input_depth;
    const int32_t groups = params->input_depth / filter_depth;
    const int32_t filters_per_group = params->output_depth / groups;
    int32_t batch, out_y, out_x, channel, filter_y, filter_x;
    for (batch = 0; batch < params->batches; ++batch) {
        const int8_t *image = input + (size_t)batch * params->input_height * params->input_width *
                                          params->input_depth;
        for (out_y = 0; out_y < params->output_height; ++out_y) {
            const int32_t in_y_origin = out_y * params->stride_height - params->pad_height;
            for (out_x = 0; out_x < params->output_width; ++out_x) {
                const int32_t in_x_origin = out_x * params->stride_width - params->pad_width;
                for (channel = 0; channel < params->output_depth; ++channel) {
                    const int32_t group_channel = (channel / filters_per_group) * filter_depth;
                    const int8_t *channel_filter =
                        filter + (size_t)channel * params->filter_height * params->filter_width *
                                     filter_depth;
                    int32_t acc = 0;
                    for (filter_y = 0; filter_y < params->filter_height; ++filter_y) {
                        const int32_t in_y = in_y_origin + params->dilation_height * filter_y;
                        if (in_y < 0 || in_y >= params->input_height) {
                            continue;
                        }
                        for (filter_x = 0; filter_x < params->filter_width; ++filter_x) {
                            const int32_t in_x = in_x_origin + params->dilation_width * filter_x;
                            if (in_x < 0 || in_x >= params->input_width) {
                                continue;
                            }
                            acc += tc_dot_product_s8(
                                image + ((size_t)in_y * params->input_width + in_x) *
                                            params->input_depth + group_channel,
                                params->input_offset,
                                channel_filter +
                                    ((size_t)filter_y * params->filter_width + filter_x) *
                                        filter_depth,
                                0, filter_depth);
                        }
                    }
                    if (bias) {
                        acc += bias[channel];
                    }
                    *output++ = tc_requantize(&params->requantize, acc, channel);
                }
            }
        }
    }
}
