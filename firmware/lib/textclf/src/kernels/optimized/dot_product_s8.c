/* The dot products of dot_product.h as portable C loops, for every target without the DSP
 * extension (arm_dsp/dot_product_s8.c replaces them on Cortex-M4/M7). */
#include "../internal/dot_product.h"

#if !TC_USE_ARM_DSP

int32_t tc_dot_product_s8(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_offset,
                          int32_t length)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < length; ++i) {
        acc += ((int32_t)x[i] + x_offset) * ((int32_t)w[i] + w_offset);
    }
    return acc;
}

void tc_dot_product_s8_x4(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_stride,
                          int32_t length, int32_t acc[4])
{
    const int8_t *w0 = w, *w1 = w + w_stride, *w2 = w + 2 * w_stride, *w3 = w + 3 * w_stride;
    int32_t sum0 = acc[0], sum1 = acc[1], sum2 = acc[2], sum3 = acc[3];
    int32_t i;
    for (i = 0; i < length; ++i) {
        const int32_t value = (int32_t)x[i] + x_offset;
        sum0 += value * w0[i];
        sum1 += value * w1[i];
        sum2 += value * w2[i];
        sum3 += value * w3[i];
    }
    acc[0] = sum0;
    acc[1] = sum1;
    acc[2] = sum2;
    acc[3] = sum3;
}

/* The packed halves are int16 values stored in int32 words (uint16_t to int16_t wraps, as on every
 * two's-complement compiler). */
static int32_t low_half(int32_t word)
{
    return (int16_t)(uint16_t)(uint32_t)word;
}

static int32_t high_half(int32_t word)
{
    return (int16_t)(uint16_t)((uint32_t)word >> 16);
}

void tc_dot_product_s8_x4_packed(const int8_t *x, int32_t x_offset, const int32_t *packed,
                                 int32_t length, int32_t acc[4])
{
    int32_t i, channel;
    for (i = 0; i < length; i += 4, packed += 8) {
        const int32_t x0 = x[i] + x_offset, x1 = x[i + 1] + x_offset;
        const int32_t x2 = x[i + 2] + x_offset, x3 = x[i + 3] + x_offset;
        for (channel = 0; channel < 4; ++channel) {
            const int32_t even = packed[2 * channel], odd = packed[2 * channel + 1];
            acc[channel] += x0 * low_half(even) + x2 * high_half(even) + x1 * low_half(odd) +
                            x3 * high_half(odd);
        }
    }
}

#endif /* !TC_USE_ARM_DSP */
