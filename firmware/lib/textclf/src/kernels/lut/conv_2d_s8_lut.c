/* CONV_2D with a LUT-compressed int8 OHWI filter: the integers of tc_conv_2d_s8 on the decoded
 * filter, computed without decoding the filter into RAM as a whole.
 *
 * - Filters of at most BLOCK_BYTES bytes: blocks of up to 4 output channels are the outer loop;
 *   each block's filters are decoded once into a stack buffer and swept over every output pixel
 *   (four channels per pass over the input with the 4-channel dot product where they fit).
 *   Output pixels are therefore written block by block: the output must not overlap the input.
 * - Larger filters: pixel by pixel, each window's filter rows decoded a chunk at a time (slow,
 *   but any size fits the stack).
 * A window whose in-bounds inputs all equal the input zero point adds nothing to any accumulator,
 * so its outputs are requantize(bias) (the [PAD] positions of a text model); such windows are found
 * once per tile of TILE pixels, not once per channel block. */
#include <string.h>

#include "../../textclf_kernels.h"
#include "../internal/conv_window.h"
#include "../internal/dot_product.h"
#include "../internal/lut.h"
#include "../internal/requantize.h"

#define BLOCK_BYTES 384
#define TILE 128

/* With one group and no x-dilation, the in-bounds taps of a filter row read one stretch of the
 * input: [first_x, end_x) of the row's taps. */
static int contiguous_rows(const tc_conv_2d_params *p)
{
    return p->filter_input_depth == p->input_depth &&
           (p->dilation_width == 1 || p->filter_width == 1);
}

static void tap_range(const tc_conv_2d_params *p, int32_t in_x0, int32_t *first_x, int32_t *end_x)
{
    *first_x = in_x0 < 0 ? -in_x0 : 0;
    *end_x = p->input_width - in_x0 < p->filter_width ? p->input_width - in_x0 : p->filter_width;
}

/* acc[k] for channels channel + k, k < count, of one window, from the decoded filters in `block`
 * (channel-major, filter_size values each). */
static void accumulate_block(const tc_conv_2d_params *p, const int8_t *image, const int8_t *block,
                             int32_t channel, int32_t count, int32_t in_y0, int32_t in_x0,
                             int32_t acc[4])
{
    const int32_t f_depth = p->filter_input_depth;
    const int32_t row_length = p->filter_width * f_depth;
    const int32_t filter_size = p->filter_height * row_length;
    int32_t fy, fx, k;
    acc[0] = acc[1] = acc[2] = acc[3] = 0;
    if (contiguous_rows(p)) {
        int32_t first_x, end_x;
        tap_range(p, in_x0, &first_x, &end_x);
        if (first_x >= end_x) return;
        for (fy = 0; fy < p->filter_height; ++fy) {
            const int32_t in_y = in_y0 + p->dilation_height * fy;
            const int32_t length = (end_x - first_x) * f_depth;
            const int8_t *row, *w;
            if (in_y < 0 || in_y >= p->input_height) continue;
            row = image + ((size_t)in_y * p->input_width + in_x0 + first_x) * f_depth;
            w = block + fy * row_length + first_x * f_depth;
            if (count == 4) {
                tc_dot_product_s8_x4(row, p->input_offset, w, filter_size, length, acc);
            } else {
                for (k = 0; k < count; ++k) {
                    acc[k] +=
                        tc_dot_product_s8(row, p->input_offset, w + k * filter_size, 0, length);
                }
            }
        }
        return;
    }
    /* Groups or x-dilation: tap by tap, each channel reading its group's input channels. */
    for (k = 0; k < count; ++k) {
        const int32_t per_group = p->output_depth / (p->input_depth / f_depth);
        const int32_t group_start = ((channel + k) / per_group) * f_depth;
        for (fy = 0; fy < p->filter_height; ++fy) {
            const int32_t in_y = in_y0 + p->dilation_height * fy;
            if (in_y < 0 || in_y >= p->input_height) continue;
            for (fx = 0; fx < p->filter_width; ++fx) {
                const int32_t in_x = in_x0 + p->dilation_width * fx;
                if (in_x < 0 || in_x >= p->input_width) continue;
                acc[k] += tc_dot_product_s8(
                    image + ((size_t)in_y * p->input_width + in_x) * p->input_depth + group_start,
                    p->input_offset,
                    block + k * filter_size + (fy * p->filter_width + fx) * f_depth, 0, f_depth);
            }
        }
    }
}

static void conv_by_block(const tc_conv_2d_params *p, const tc_lut_params *filter,
                          const int8_t *input, const int32_t *bias, int8_t *output,
                          int32_t per_block)
{
    int8_t block[BLOCK_BYTES];
    uint32_t
        zero_window[TILE / 32]; /* bit t: the window of the tile's pixel t is all zero points */
    const int32_t depth = p->output_depth;
    const int32_t filter_size = p->filter_height * p->filter_width * p->filter_input_depth;
    const int32_t pixels = p->output_height * p->output_width;
    int32_t batch, tile, t, channel, count, k;
    for (batch = 0; batch < p->batches; ++batch) {
        const int8_t *image =
            input + (size_t)batch * p->input_height * p->input_width * p->input_depth;
        int8_t *batch_output = output + (size_t)batch * pixels * depth;
        for (tile = 0; tile < pixels; tile += TILE) {
            const int32_t tile_size = pixels - tile < TILE ? pixels - tile : TILE;
            memset(zero_window, 0, sizeof zero_window);
            for (t = 0; t < tile_size; ++t) {
                const int32_t out_y = (tile + t) / p->output_width;
                const int32_t out_x = (tile + t) % p->output_width;
                if (tc_conv_window_is_zero_point(p, image, out_y * p->stride_height - p->pad_height,
                                                 out_x * p->stride_width - p->pad_width)) {
                    zero_window[t / 32] |= 1u << (t % 32);
                }
            }
            for (channel = 0; channel < depth; channel += count) {
                int8_t bias_only[4]; /* the block's outputs for an all-zero-point window */
                count = depth - channel < per_block ? depth - channel : per_block;
                tc_lut_decode(filter, channel * filter_size, count * filter_size, block);
                for (k = 0; k < count; ++k) {
                    bias_only[k] =
                        tc_requantize(&p->requantize, bias ? bias[channel + k] : 0, channel + k);
                }
                for (t = 0; t < tile_size; ++t) {
                    const int32_t out_y = (tile + t) / p->output_width;
                    const int32_t out_x = (tile + t) % p->output_width;
                    int8_t *out = batch_output + (size_t)(tile + t) * depth + channel;
                    int32_t acc[4];
                    if (zero_window[t / 32] & (1u << (t % 32))) {
                        memcpy(out, bias_only, (size_t)count);
                        continue;
                    }
                    accumulate_block(p, image, block, channel, count,
                                     out_y * p->stride_height - p->pad_height,
                                     out_x * p->stride_width - p->pad_width, acc);
                    for (k = 0; k < count; ++k) {
                        if (bias) acc[k] += bias[channel + k];
                        out[k] = tc_requantize(&p->requantize, acc[k], channel + k);
                    }
                }
            }
        }
    }
}

/* Accumulator of one channel over one window, decoding the filter as it goes. */
static int32_t accumulate_window(const tc_conv_2d_params *p, const tc_lut_params *filter,
                                 const int8_t *image, int32_t channel, int32_t in_y0, int32_t in_x0)
{
    const int32_t f_depth = p->filter_input_depth;
    const int32_t row_length = p->filter_width * f_depth;
    const int32_t channel_first = channel * p->filter_height * row_length;
    const int32_t per_group = p->output_depth / (p->input_depth / f_depth);
    const int32_t group_start = (channel / per_group) * f_depth;
    const int contiguous = contiguous_rows(p);
    int32_t first_x, end_x, fy, fx;
    int32_t acc = 0;
    tap_range(p, in_x0, &first_x, &end_x);
    for (fy = 0; fy < p->filter_height; ++fy) {
        const int32_t in_y = in_y0 + p->dilation_height * fy;
        const int32_t row_first = channel_first + fy * row_length;
        if (in_y < 0 || in_y >= p->input_height) continue;
        if (contiguous) {
            if (first_x < end_x) {
                acc +=
                    tc_lut_dot(image + ((size_t)in_y * p->input_width + in_x0 + first_x) * f_depth,
                               p->input_offset, filter, row_first + first_x * f_depth,
                               (end_x - first_x) * f_depth);
            }
            continue;
        }
        for (fx = 0; fx < p->filter_width; ++fx) {
            const int32_t in_x = in_x0 + p->dilation_width * fx;
            if (in_x < 0 || in_x >= p->input_width) continue;
            acc += tc_lut_dot(image + ((size_t)in_y * p->input_width + in_x) * p->input_depth +
                                  group_start,
                              p->input_offset, filter, row_first + fx * f_depth, f_depth);
        }
    }
    return acc;
}

static void conv_by_window(const tc_conv_2d_params *p, const tc_lut_params *filter,
                           const int8_t *input, const int32_t *bias, int8_t *output)
{
    int32_t batch, out_y, out_x, channel;
    for (batch = 0; batch < p->batches; ++batch) {
        const int8_t *image =
            input + (size_t)batch * p->input_height * p->input_width * p->input_depth;
        for (out_y = 0; out_y < p->output_height; ++out_y) {
            const int32_t in_y0 = out_y * p->stride_height - p->pad_height;
            for (out_x = 0; out_x < p->output_width; ++out_x) {
                const int32_t in_x0 = out_x * p->stride_width - p->pad_width;
                const int zero = tc_conv_window_is_zero_point(p, image, in_y0, in_x0);
                for (channel = 0; channel < p->output_depth; ++channel) {
                    int32_t acc =
                        zero ? 0 : accumulate_window(p, filter, image, channel, in_y0, in_x0);
                    if (bias) acc += bias[channel];
                    *output++ = tc_requantize(&p->requantize, acc, channel);
                }
            }
        }
    }
}

void tc_conv_2d_s8_lut(const tc_conv_2d_lut_params *params, const int8_t *input,
                       const int32_t *bias, int8_t *output)
{
    const tc_conv_2d_params *p = &params->conv;
    const int32_t filter_size = p->filter_height * p->filter_width * p->filter_input_depth;
    if (filter_size <= BLOCK_BYTES) {
        const int32_t per_block = BLOCK_BYTES / filter_size < 4 ? BLOCK_BYTES / filter_size : 4;
        conv_by_block(p, &params->filter, input, bias, output, per_block);
    } else {
        conv_by_window(p, &params->filter, input, bias, output);
    }
}
