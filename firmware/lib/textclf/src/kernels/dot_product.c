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

#endif
