/* Fixed-point arithmetic shared by the kernels: the integer primitives of TFLM's
 * kernels/internal/common.h and of gemmlowp's fixedpoint.h that TFLM's int8 kernels use, with the
 * same rounding. Internal to the kernel library.
 *
 * TFLM relies on two's-complement wrap-around in a few places (its code is marked "no sanitize
 * integer overflow"); here such arithmetic goes through uint32_t so that C99 defines it. */
#ifndef TEXTCLF_KERNELS_FIXED_POINT_H
#define TEXTCLF_KERNELS_FIXED_POINT_H

#include <stdint.h>

static inline int32_t tc_clamp(int32_t value, int32_t low, int32_t high)
{
    return value < low ? low : (value > high ? high : value);
}

static inline int32_t tc_wrapping_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t tc_wrapping_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

static inline int32_t tc_wrapping_shift_left(int32_t x, int32_t shift)
{
    return (int32_t)((uint32_t)x << shift);
}

/* Rounded high half of 2*a*b; saturates the single overflow case a == b == INT32_MIN
 * (ARM's VQRDMULH). */
static inline int32_t tc_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    /* gemmlowp adds 2^30 (product >= 0) or 1 - 2^30 (product < 0) and divides by 2^31 truncating
     * toward zero; for every product that is floor((product + 2^30) / 2^31), one add and a shift
     * (>> of a negative value is arithmetic on every compiler this targets, as TFLM assumes). */
    const int64_t product = (int64_t)a * (int64_t)b;
    return (int32_t)((product + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero; 0 <= exponent <= 31. */
static inline int32_t tc_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^exponent for exponent > 0, saturating (gemmlowp's SaturatingRoundingMultiplyByPOT). */
static inline int32_t tc_saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return tc_wrapping_shift_left(x, exponent);
}

/* TFLM's double-rounding MultiplyByQuantizedMultiplier: x * multiplier / 2^31 * 2^shift. */
static inline int32_t tc_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier,
                                                          int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return tc_rounding_divide_by_pot(
        tc_saturating_rounding_doubling_high_mul(tc_wrapping_shift_left(x, left_shift), multiplier),
        right_shift);
}

/* Fixed-point functions of gemmlowp, on raw int32 values; `integer_bits` is the input's format
 * (Qm.(31-m)), results are Q0.31. Defined in fixed_point.c. */
int32_t tc_exp_on_negative_values(int32_t a, int32_t integer_bits);
int32_t tc_one_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t tc_logistic_fixed_point(int32_t a, int32_t integer_bits);
int32_t tc_tanh_fixed_point(int32_t a, int32_t integer_bits);

/* TFLM's GetReciprocal: 1 / x for x in Q(x_integer_digits), as a Q0.31 value scaled by
 * 2^-num_bits_over_unit. */
int32_t tc_reciprocal(int32_t x, int32_t x_integer_digits, int32_t *num_bits_over_unit);

/* TFLM's GetInvSqrtQuantizedMultiplierExp(input, kReverseShift): 1 / sqrt(input) as a quantized
 * multiplier and a shift in MultiplyByQuantizedMultiplier's convention. */
void tc_inv_sqrt_quantized_multiplier(int32_t input, int32_t *multiplier, int32_t *shift);

#endif /* TEXTCLF_KERNELS_FIXED_POINT_H */
