/* CONV_2D, int8, optimized: the same integers as tc_conv_2d_s8 (reference/conv_2d_s8.c) through
 * exact shortcuts:
 * - A window whose in-bounds inputs all equal the input zero point contributes nothing to the
 *   accumulator, so every channel's output is requantize(bias): computed once per call and
 *   copied. Text models hit this on every position past the sentence, where the [PAD] embedding
 *   row is exactly the zero point.
 * - With one group and no x-dilation, the in-bounds taps of a filter row read one contiguous
 *   stretch of input, so one dot product covers them, four output channels at a time: from the
 *   packed filter when the toolchain emitted one (layout in textclf_kernels.h; `filter` is then
 *   unused), else from the int8 filter for windows with every tap inside.
 *
 * Output pixels are written in order, each after the inputs under its window have been read, and
 * no input pixel left of the window is read again: the memory planner relies on this to let a
 * one-row convolution's output overlap its input (toolchain/emit/ops/conv_2d.py streaming_lead). */
#include <string.h>

#include "../../textclf_kernels.h"
#include "../internal/conv_window.h"
#include "../internal/dot_product.h"
#include "../internal/requantize.h"

static int32_t in_x_at(const tc_conv_2d_params *p, int32_t origin, int32_t filter_x)
{
    return origin + p->dilation_width * filter_x;
}

/* The input pixel under filter tap (filter_y, filter_x) of a window, or NULL where the tap falls
 * in the padding. */
static const int8_t *tap_pixel(const tc_conv_2d_params *p, const int8_t *image, int32_t in_y_origin,
                               int32_t in_x_origin, int32_t filter_y, int32_t filter_x)
{
    const int32_t in_y = in_y_origin + p->dilation_height * filter_y;
    const int32_t in_x = in_x_at(p, in_x_origin, filter_x);
    if (in_y < 0 || in_y >= p->input_height || in_x < 0 || in_x >= p->input_width) {
        return NULL;
    }
    return image + ((size_t)in_y * p->input_width + in_x) * p->input_depth;
}

/* Accumulator of one output channel, tap by tap (any groups, dilation or clipping). */
static int32_t accumulate_taps(const tc_conv_2d_params *p, const int8_t *image,
                               const int8_t *filter, int32_t channel, int32_t in_y_origin,
                               int32_t in_x_origin)
{
    const int32_t filter_depth = p->filter_input_depth;
    const int32_t filters_per_group = p->output_depth / (p->input_depth / filter_depth);
    const int32_t group_channel = (channel / filters_per_group) * filter_depth;
    const int8_t *channel_filter =
        filter + (size_t)channel * p->filter_height * p->filter_width * filter_depth;
    int32_t acc = 0;
    int32_t filter_y, filter_x;
    for (filter_y = 0; filter_y < p->filter_height; ++filter_y) {
        for (filter_x = 0; filter_x < p->filter_width; ++filter_x) {
            const int8_t *pixel = tap_pixel(p, image, in_y_origin, in_x_origin, filter_y, filter_x);
            if (pixel == NULL) continue;
            acc += tc_dot_product_s8(
                pixel + group_channel, p->input_offset,
                channel_filter + ((size_t)filter_y * p->filter_width + filter_x) * filter_depth, 0,
                filter_depth);
        }
    }
    return acc;
}

/* Accumulators of channels [channel, channel + count), count <= 4, when every in-bounds filter
 * row is contiguous in the input (one group, x-dilation 1, all x taps inside). */
static void accumulate_rows(const tc_conv_2d_params *p, const int8_t *image, const int8_t *filter,
                            int32_t channel, int32_t count, int32_t in_y_origin,
                            int32_t in_x_origin, int32_t acc[4])
{
    const int32_t row_length = p->filter_width * p->input_depth;
    const int32_t filter_size = p->filter_height * row_length;
    const int8_t *w = filter + (size_t)channel * filter_size;
    int32_t filter_y, k;
    acc[0] = acc[1] = acc[2] = acc[3] = 0;
    for (filter_y = 0; filter_y < p->filter_height; ++filter_y) {
        const int32_t in_y = in_y_origin + p->dilation_height * filter_y;
        if (in_y < 0 || in_y >= p->input_height) continue;
        const int8_t *row = image + ((size_t)in_y * p->input_width + in_x_origin) * p->input_depth;
        const int8_t *w_row = w + (size_t)filter_y * row_length;
        if (count == 4) {
            tc_dot_product_s8_x4(row, p->input_offset, w_row, filter_size, row_length, acc);
        } else {
            for (k = 0; k < count; ++k) {
                acc[k] += tc_dot_product_s8(row, p->input_offset, w_row + (size_t)k * filter_size,
                                            0, row_length);
            }
        }
    }
}

/* Accumulators of channels [channel, channel + 4) from the packed filter. Every tap holds whole
 * runs of 4 values (input_depth % 4 == 0), so the in-bounds taps of a row are one stretch of it. */
static void accumulate_packed(const tc_conv_2d_params *p, const int32_t *packed_filter,
                              const int8_t *image, int32_t channel, int32_t in_y_origin,
                              int32_t in_x_origin, int32_t acc[4])
{
    const int32_t depth = p->input_depth;
    const int32_t first_x = in_x_origin < 0 ? -in_x_origin : 0;
    const int32_t end_x = p->input_width - in_x_origin < p->filter_width
                              ? p->input_width - in_x_origin
                              : p->filter_width;
    /* 4 channels x 2 words per run of 4 values: 2 * depth words per tap of a block. */
    const int32_t *block =
        packed_filter + (size_t)(channel / 4) * p->filter_height * p->filter_width * 2 * depth;
    int32_t filter_y;
    acc[0] = acc[1] = acc[2] = acc[3] = 0;
    if (first_x >= end_x) return; /* the window lies in the padding */
    for (filter_y = 0; filter_y < p->filter_height; ++filter_y) {
        const int32_t in_y = in_y_origin + p->dilation_height * filter_y;
        if (in_y < 0 || in_y >= p->input_height) continue;
        const int8_t *row = image + ((size_t)in_y * p->input_width + in_x_origin + first_x) * depth;
        const int32_t *packed = block + ((size_t)filter_y * p->filter_width + first_x) * 2 * depth;
        tc_dot_product_s8_x4_packed(row, p->input_offset, packed, (end_x - first_x) * depth, acc);
    }
}

/* Accumulators of one window for channels from `channel` on; returns how many (1 to 4). */
static int32_t accumulate_window(const tc_conv_2d_params *p, const int8_t *image,
                                 const int8_t *filter, const int32_t *packed_filter,
                                 int32_t channel, int32_t in_y_origin, int32_t in_x_origin,
                                 int row_inside, int32_t acc[4])
{
    if (packed_filter != NULL) {
        accumulate_packed(p, packed_filter, image, channel, in_y_origin, in_x_origin, acc);
        return 4;
    }
    if (row_inside) {
        const int32_t count = p->output_depth - channel < 4 ? p->output_depth - channel : 4;
        accumulate_rows(p, image, filter, channel, count, in_y_origin, in_x_origin, acc);
        return count;
    }
    acc[0] = accumulate_taps(p, image, filter, channel, in_y_origin, in_x_origin);
    return 1;
}

void tc_conv_2d_s8_opt(const tc_conv_2d_params *params, const int8_t *input, const int8_t *filter,
                       const int32_t *packed_filter, const int32_t *bias, int8_t *output)
{
    const int32_t depth = params->output_depth;
    const int contiguous_rows = params->filter_input_depth == params->input_depth &&
                                (params->dilation_width == 1 || params->filter_width == 1);
    const int8_t *bias_only = NULL; /* an output pixel already holding requantize(bias) */
    int32_t batch, out_y, out_x, channel, count;
    for (batch = 0; batch < params->batches; ++batch) {
        const int8_t *image = input + (size_t)batch * params->input_height * params->input_width *
                                          params->input_depth;
        for (out_y = 0; out_y < params->output_height; ++out_y) {
            const int32_t in_y_origin = out_y * params->stride_height - params->pad_height;
            for (out_x = 0; out_x < params->output_width; ++out_x) {
                const int32_t in_x_origin = out_x * params->stride_width - params->pad_width;
                if (tc_conv_window_is_zero_point(params, image, in_y_origin, in_x_origin)) {
                    if (bias_only != NULL) {
                        memcpy(output, bias_only, (size_t)depth);
                    } else {
                        for (channel = 0; channel < depth; ++channel) {
                            output[channel] = tc_requantize(&params->requantize,
                                                            bias ? bias[channel] : 0, channel);
                        }
                        bias_only = output;
                    }
                    output += depth;
                    continue;
                }
                const int row_inside =
                    contiguous_rows && in_x_origin >= 0 &&
                    in_x_at(params, in_x_origin, params->filter_width - 1) < params->input_width;
                for (channel = 0; channel < depth; channel += count) {
                    int32_t acc[4];
                    count = accumulate_window(params, image, filter, packed_filter, channel,
                                              in_y_origin, in_x_origin, row_inside, acc);
                    for (int32_t k = 0; k < count; ++k) {
                        if (bias) acc[k] += bias[channel + k];
                        output[channel + k] =
                            tc_requantize(&params->requantize, acc[k], channel + k);
                    }
                }
                output += depth;
            }
        }
    }
}
