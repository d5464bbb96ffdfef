/* int8 dot product with zero-point offsets (see dot_product.h): a Cortex-M4/M7 variant using the
 * DSP extension's dual 16-bit multiply-accumulate, and the portable loop for every other target.
 * Both compute the same exact integer sum. */
#include "dot_product.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <arm_acle.h>
#include <string.h>

static inline uint32_t rotate_right_8(uint32_t word) {
    return (word >> 8) | (word << 24);
}

/* Four elements per step. SXTAB16 sign-extends bytes 0 and 2 (or, rotated by 8, bytes 1 and 3) of a
 * word into two 16-bit lanes and adds the offset to each lane; SMLAD multiplies the lane pairs and
 * adds both products to the accumulator. Every intermediate fits its lane (|int8 + offset| <= 255),
 * so the sum equals the portable loop's. */
int32_t tc_dot_product_s8(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_offset,
                          int32_t length) {
    const int16x2_t x_offsets = (int16x2_t)(((uint32_t)(uint16_t)x_offset) * 0x00010001u);
    const int16x2_t w_offsets = (int16x2_t)(((uint32_t)(uint16_t)w_offset) * 0x00010001u);
    int32_t acc = 0;
    int32_t i = 0;
    for (; i + 4 <= length; i += 4) {
        uint32_t x_word, w_word;
        memcpy(&x_word, x + i, sizeof x_word); /* unaligned loads are fine on M4/M7 */
        memcpy(&w_word, w + i, sizeof w_word);
        acc = __smlad(__sxtab16(x_offsets, (int8x4_t)x_word), __sxtab16(w_offsets, (int8x4_t)w_word),
                      acc);
        acc = __smlad(__sxtab16(x_offsets, (int8x4_t)rotate_right_8(x_word)),
                      __sxtab16(w_offsets, (int8x4_t)rotate_right_8(w_word)), acc);
    }
    for (; i < length; ++i) {
        acc += ((int32_t)x[i] + x_offset) * ((int32_t)w[i] + w_offset);
    }
    return acc;
}

/* SXTB16 / SXTAB16 with the operand rotated by 8 in the same instruction (ACLE has no intrinsic
 * for the rotated forms). */
static inline uint32_t extend_odd(uint32_t word) {
    uint32_t lanes;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(lanes) : "r"(word));
    return lanes;
}

static inline uint32_t extend_odd_add(uint32_t offsets, uint32_t word) {
    uint32_t lanes;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(lanes) : "r"(offsets), "r"(word));
    return lanes;
}

/* The x lanes are extended once and feed both channels' SMLADs: 13 instructions per four
 * elements of two channels instead of 18. */
void tc_dot_product_s8_x2(const int8_t *x, int32_t x_offset, const int8_t *w0, const int8_t *w1,
                          int32_t length, int32_t *acc0, int32_t *acc1) {
    const uint32_t x_offsets = ((uint32_t)(uint16_t)x_offset) * 0x00010001u;
    int32_t sum0 = *acc0, sum1 = *acc1;
    int32_t i = 0;
    for (; i + 4 <= length; i += 4) {
        uint32_t x_word, w0_word, w1_word;
        memcpy(&x_word, x + i, sizeof x_word);
        memcpy(&w0_word, w0 + i, sizeof w0_word);
        memcpy(&w1_word, w1 + i, sizeof w1_word);
        const int16x2_t x_even = __sxtab16((int16x2_t)x_offsets, (int8x4_t)x_word);
        const int16x2_t x_odd = (int16x2_t)extend_odd_add(x_offsets, x_word);
        sum0 = __smlad(x_even, __sxtb16((int8x4_t)w0_word), sum0);
        sum0 = __smlad(x_odd, (int16x2_t)extend_odd(w0_word), sum0);
        sum1 = __smlad(x_even, __sxtb16((int8x4_t)w1_word), sum1);
        sum1 = __smlad(x_odd, (int16x2_t)extend_odd(w1_word), sum1);
    }
    for (; i < length; ++i) {
        const int32_t value = (int32_t)x[i] + x_offset;
        sum0 += value * w0[i];
        sum1 += value * w1[i];
    }
    *acc0 = sum0;
    *acc1 = sum1;
}

#else

int32_t tc_dot_product_s8(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_offset,
                          int32_t length) {
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < length; ++i) {
        acc += ((int32_t)x[i] + x_offset) * ((int32_t)w[i] + w_offset);
    }
    return acc;
}

void tc_dot_product_s8_x2(const int8_t *x, int32_t x_offset, const int8_t *w0, const int8_t *w1,
                          int32_t length, int32_t *acc0, int32_t *acc1) {
    int32_t sum0 = *acc0, sum1 = *acc1;
    int32_t i;
    for (i = 0; i < length; ++i) {
        const int32_t value = (int32_t)x[i] + x_offset;
        sum0 += value * w0[i];
        sum1 += value * w1[i];
    }
    *acc0 = sum0;
    *acc1 = sum1;
}

#endif
