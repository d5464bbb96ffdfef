/* The dot products of dot_product.h with the Cortex-M4/M7 DSP extension's dual 16-bit
 * multiply-accumulate (SMLAD). Compiled where TC_USE_ARM_DSP is set (dot_product.h); the portable
 * loops in optimized/dot_product_s8.c serve every other target. Both give the same exact integer
 * sums. */
#include "../internal/dot_product.h"

#if TC_USE_ARM_DSP

#include <arm_acle.h>
#include <string.h>

/* SXTB16 / SXTAB16 with the operand rotated by 8 in the same instruction (ACLE has no intrinsic
 * for the rotated forms). */
static inline uint32_t extend_odd(uint32_t word)
{
    uint32_t lanes;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(lanes) : "r"(word));
    return lanes;
}

static inline uint32_t extend_odd_add(uint32_t offsets, uint32_t word)
{
    uint32_t lanes;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(lanes) : "r"(offsets), "r"(word));
    return lanes;
}

/* Four elements per step. SXTAB16 sign-extends bytes 0 and 2 (or, rotated by 8, bytes 1 and 3)
 * of a word into two 16-bit lanes and adds the offset to each lane; SMLAD multiplies the lane pairs
 * and adds both products to the accumulator. Every intermediate fits its lane (|int8 + offset| <= 255),
 * so the sum equals the portable loop's. */
int32_t tc_dot_product_s8(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_offset,
                          int32_t length)
{
    const int16x2_t x_offsets = (int16x2_t)(((uint32_t)(uint16_t)x_offset) * 0x00010001u);
    const int16x2_t w_offsets = (int16x2_t)(((uint32_t)(uint16_t)w_offset) * 0x00010001u);
    int32_t acc = 0;
    int32_t i = 0;
    for (; i + 4 <= length; i += 4) {
        uint32_t x_word, w_word;
        memcpy(&x_word, x + i, sizeof x_word); /* unaligned loads are fine on M4/M7 */
        memcpy(&w_word, w + i, sizeof w_word);
        acc = __smlad(__sxtab16(x_offsets, (int8x4_t)x_word),
                      __sxtab16(w_offsets, (int8x4_t)w_word), acc);
        acc = __smlad((int16x2_t)extend_odd_add((uint32_t)x_offsets, x_word),
                      (int16x2_t)extend_odd_add((uint32_t)w_offsets, w_word), acc);
    }
    for (; i < length; ++i) {
        acc += ((int32_t)x[i] + x_offset) * ((int32_t)w[i] + w_offset);
    }
    return acc;
}

/* Four channels share each x load and its two extensions (about 2 instructions per
 * multiply-accumulate on Cortex-M4, against 2.5 for four separate dot products). */
void tc_dot_product_s8_x4(const int8_t *x, int32_t x_offset, const int8_t *w, int32_t w_stride,
                          int32_t length, int32_t acc[4])
{
    const uint32_t x_offsets = ((uint32_t)(uint16_t)x_offset) * 0x00010001u;
    const int32_t stride2 = 2 * w_stride, stride3 = 3 * w_stride;
    const int8_t *const x_end = x + (length & ~3);
    int32_t sum0 = acc[0], sum1 = acc[1], sum2 = acc[2], sum3 = acc[3];
    /* One walking weight pointer with the channel strides as register offsets keeps the loop
     * free of spills (four walking pointers do not fit the register file). */
    for (; x < x_end; x += 4, w += 4) {
        uint32_t x_word, w_word;
        memcpy(&x_word, x, sizeof x_word);
        const int16x2_t x_even = __sxtab16((int16x2_t)x_offsets, (int8x4_t)x_word);
        const int16x2_t x_odd = (int16x2_t)extend_odd_add(x_offsets, x_word);
        memcpy(&w_word, w, sizeof w_word);
        sum0 = __smlad(x_even, __sxtb16((int8x4_t)w_word), sum0);
        sum0 = __smlad(x_odd, (int16x2_t)extend_odd(w_word), sum0);
        memcpy(&w_word, w + w_stride, sizeof w_word);
        sum1 = __smlad(x_even, __sxtb16((int8x4_t)w_word), sum1);
        sum1 = __smlad(x_odd, (int16x2_t)extend_odd(w_word), sum1);
        memcpy(&w_word, w + stride2, sizeof w_word);
        sum2 = __smlad(x_even, __sxtb16((int8x4_t)w_word), sum2);
        sum2 = __smlad(x_odd, (int16x2_t)extend_odd(w_word), sum2);
        memcpy(&w_word, w + stride3, sizeof w_word);
        sum3 = __smlad(x_even, __sxtb16((int8x4_t)w_word), sum3);
        sum3 = __smlad(x_odd, (int16x2_t)extend_odd(w_word), sum3);
    }
    for (int32_t i = 0; i < (length & 3); ++i) {
        const int32_t value = (int32_t)x[i] + x_offset;
        sum0 += value * w[i];
        sum1 += value * w[w_stride + i];
        sum2 += value * w[stride2 + i];
        sum3 += value * w[stride3 + i];
    }
    acc[0] = sum0;
    acc[1] = sum1;
    acc[2] = sum2;
    acc[3] = sum3;
}

/* One LDRD for a channel's two packed words at a byte offset from `words` (GCC splits adjacent
 * word loads into two LDRs). The memory operand tells the compiler what the asm reads. */
#define load_pair(words, offset, first, second) \
    __asm__("ldrd %0, %1, [%2, #" #offset "]"   \
            : "=r"(first), "=r"(second)         \
            : "r"(words), "m"(*(const int32_t(*)[2])((const char *)(words) + (offset))))

/* Per step, x costs one load and two extensions for all four channels, and each channel one
 * doubleword load of its packed halves and two SMLADs: about 1.1 instructions per
 * multiply-accumulate on Cortex-M4. */
void tc_dot_product_s8_x4_packed(const int8_t *x, int32_t x_offset, const int32_t *packed,
                                 int32_t length, int32_t acc[4])
{
    const uint32_t x_offsets = ((uint32_t)(uint16_t)x_offset) * 0x00010001u;
    const int8_t *const x_end = x + length;
    int32_t sum0 = acc[0], sum1 = acc[1], sum2 = acc[2], sum3 = acc[3];
    for (; x < x_end; x += 4, packed += 8) {
        uint32_t x_word;
        memcpy(&x_word, x, sizeof x_word);
        const int16x2_t x_even = __sxtab16((int16x2_t)x_offsets, (int8x4_t)x_word);
        const int16x2_t x_odd = (int16x2_t)extend_odd_add(x_offsets, x_word);
        int32_t even, odd;
        load_pair(packed, 0, even, odd);
        sum0 = __smlad(x_odd, odd, __smlad(x_even, even, sum0));
        load_pair(packed, 8, even, odd);
        sum1 = __smlad(x_odd, odd, __smlad(x_even, even, sum1));
        load_pair(packed, 16, even, odd);
        sum2 = __smlad(x_odd, odd, __smlad(x_even, even, sum2));
        load_pair(packed, 24, even, odd);
        sum3 = __smlad(x_odd, odd, __smlad(x_even, even, sum3));
    }
    acc[0] = sum0;
    acc[1] = sum1;
    acc[2] = sum2;
    acc[3] = sum3;
}

#endif /* TC_USE_ARM_DSP */
