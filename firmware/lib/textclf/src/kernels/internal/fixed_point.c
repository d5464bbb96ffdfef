/* gemmlowp's fixed-point exp / logistic / tanh / reciprocal and TFLM's inverse square root, on raw
 * int32 values. A value in format Qm has m integer bits and 31 - m fractional bits; products of
 * Qa and Qb values are Q(a+b) (a saturating rounding doubling high multiply). */
#include "fixed_point.h"

#define Q0_ONE INT32_MAX /* 1.0 is not representable in Q0; gemmlowp uses the largest value */

static int32_t multiply(int32_t a, int32_t b)
{
    return tc_saturating_rounding_doubling_high_mul(a, b);
}

/* Changes the format of a value from Q(from_bits) to Q(to_bits). */
static int32_t rescale(int32_t x, int32_t from_bits, int32_t to_bits)
{
    const int32_t exponent = from_bits - to_bits;
    if (exponent > 0) {
        return tc_saturating_shift_left(x, exponent);
    }
    if (exponent < 0) {
        return tc_rounding_divide_by_pot(x, -exponent);
    }
    return x;
}

/* (a + b) / 2 rounded to nearest, ties away from zero. */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

static uint32_t count_leading_zeros(uint32_t x)
{
    uint32_t count = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++count;
    }
    return count;
}

/* exp(a) for a in [-1/4, 0), Q0 in and out: Taylor expansion around -1/8. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668;
    const int32_t one_third = 715827883;
    const int32_t x = tc_wrapping_add(a, 1 << 28); /* a + 1/8 */
    const int32_t x2 = multiply(x, x);
    const int32_t x3 = multiply(x2, x);
    const int32_t x4 = multiply(x2, x2);
    const int32_t x4_over_4 = tc_rounding_divide_by_pot(x4, 2);
    const int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 = tc_rounding_divide_by_pot(
        tc_wrapping_add(multiply(tc_wrapping_add(x4_over_4, x3), one_third), x2), 1);
    return tc_wrapping_add(exp_minus_one_eighth,
                           multiply(exp_minus_one_eighth,
                                    tc_wrapping_add(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)));
}

int32_t tc_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0, k = -2 .. 4: the barrel shifter multiplies them in bit by bit. */
    static const int32_t exp_of_minus_power_of_two[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter =
        tc_wrapping_sub(a & (one_quarter - 1), one_quarter);
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
    const int32_t remainder = tc_wrapping_sub(a_mod_quarter_minus_one_quarter, a);
    int32_t exponent;
    for (exponent = -2; exponent <= 4; ++exponent) {
        if (integer_bits > exponent) {
            const int32_t bit = (int32_t)1 << (fractional_bits + exponent);
            if (remainder & bit) {
                result = multiply(result, exp_of_minus_power_of_two[exponent + 2]);
            }
        }
    }
    if (integer_bits > 5) {
        const int32_t minus_32 = -((int32_t)1 << (36 - integer_bits));
        if (a < minus_32) {
            result = 0;
        }
    }
    return a == 0 ? Q0_ONE : result;
}

/* Newton-Raphson for 1 / (1 + a) in Q2, a in (0, 1) Q0; returns the Q2 estimate of
 * 1 / ((1 + a) / 2). */
static int32_t newton_reciprocal_of_half_one_plus_x(int32_t a)
{
    const int32_t q2_one = 1 << 29;
    const int32_t forty_eight_over_17 = 1515870810;
    const int32_t minus_thirty_two_over_17 = -1010580540;
    const int32_t half_denominator = rounding_half_sum(a, Q0_ONE);
    int32_t x =
        tc_wrapping_add(forty_eight_over_17, multiply(half_denominator, minus_thirty_two_over_17));
    int iteration;
    for (iteration = 0; iteration < 3; ++iteration) {
        const int32_t half_denominator_times_x = multiply(half_denominator, x);
        const int32_t one_minus_half_denominator_times_x =
            tc_wrapping_sub(q2_one, half_denominator_times_x);
        x = tc_wrapping_add(x, rescale(multiply(x, one_minus_half_denominator_times_x), 4, 2));
    }
    return x;
}

int32_t tc_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    /* x / 2 is exact in Q1 with the same raw value. */
    return rescale(newton_reciprocal_of_half_one_plus_x(a), 1, 0);
}

/* (1 - a) / (1 + a) for a in (0, 1), Q0. */
static int32_t one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    return rescale(tc_wrapping_sub(newton_reciprocal_of_half_one_plus_x(a), 1 << 29), 2, 0);
}

int32_t tc_logistic_fixed_point(int32_t a, int32_t integer_bits)
{
    if (a == 0) {
        return 1 << 30; /* 0.5 */
    }
    {
        const int32_t magnitude = a > 0 ? a : -a;
        const int32_t result_if_positive = tc_one_over_one_plus_x_for_x_in_0_1(
            tc_exp_on_negative_values(-magnitude, integer_bits));
        return a > 0 ? result_if_positive : tc_wrapping_sub(Q0_ONE, result_if_positive);
    }
}

int32_t tc_tanh_fixed_point(int32_t a, int32_t integer_bits)
{
    if (a == 0) {
        return 0;
    }
    {
        const int32_t negative_magnitude = a < 0 ? a : -a;
        /* exp(-2|a|): doubling is exact by counting one more integer bit. */
        const int32_t t = one_minus_x_over_one_plus_x_for_x_in_0_1(
            tc_exp_on_negative_values(negative_magnitude, integer_bits + 1));
        return a < 0 ? -t : t;
    }
}

int32_t tc_reciprocal(int32_t x, int32_t x_integer_digits, int32_t *num_bits_over_unit)
{
    const uint32_t headroom_plus_one = count_leading_zeros((uint32_t)x);
    /* x << headroom is in [1, 2) as Q1; minus one it is the Q0 argument of 1 / (1 + y). */
    const int32_t shifted_minus_one =
        (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    *num_bits_over_unit = x_integer_digits - (int32_t)headroom_plus_one;
    return tc_one_over_one_plus_x_for_x_in_0_1(shifted_minus_one);
}

void tc_inv_sqrt_quantized_multiplier(int32_t input, int32_t *multiplier, int32_t *shift)
{
    const int32_t q3_three_halves = (1 << 28) + (1 << 27);
    const int32_t q0_half_sqrt_2 = 1518500250;
    int32_t right_shift = 11;
    int32_t left_shift_bit_pairs;
    int32_t half_input;
    int32_t x = 1 << 28; /* Q3 one: Newton-Raphson starts at 1 */
    int iteration;
    if (input <= 1) {
        /* TFLM treats 0 like 1 to avoid dividing by zero. */
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    while (input >= (1 << 29)) {
        input /= 4;
        ++right_shift;
    }
    left_shift_bit_pairs = (int32_t)((count_leading_zeros((uint32_t)input) - 1) / 2) - 1;
    right_shift -= left_shift_bit_pairs;
    input <<= 2 * left_shift_bit_pairs;
    half_input = tc_rounding_divide_by_pot(input >> 1, 1); /* input / 2 in Q3 */
    for (iteration = 0; iteration < 5; ++iteration) {
        const int32_t x3 = rescale(multiply(multiply(x, x), x), 9, 3);
        x = rescale(tc_wrapping_sub(multiply(q3_three_halves, x), multiply(half_input, x3)), 6, 3);
    }
    x = multiply(x, q0_half_sqrt_2);
    if (right_shift < 0) {
        x = tc_wrapping_shift_left(x, -right_shift);
        right_shift = 0;
    }
    *multiplier = x;
    *shift = -right_shift;
}
