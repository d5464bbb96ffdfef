/* SOFTMAX, int8 in and out (TFLM kernels/softmax.cc: reference_ops::Softmax): exp of the scaled
 * differences to the row maximum in Q5.26 fixed point, their sum in Q12.19, one reciprocal per
 * row. */
#include "../../textclf_kernels.h"
#include "../internal/fixed_point.h"

enum { SCALED_DIFF_INTEGER_BITS = 5, ACCUMULATION_INTEGER_BITS = 12 };

/* exp(beta * scale * diff) in Q0 for diff <= 0 (TFLM's MultiplyByQuantizedMultiplierGreaterThanOne
 * then exp_on_negative_values). */
static int32_t exp_of_difference(const tc_softmax_params *params, int32_t diff)
{
    const int32_t rescaled = tc_saturating_rounding_doubling_high_mul(
        tc_wrapping_shift_left(diff, params->input_left_shift), params->input_multiplier);
    return tc_exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS);
}

void tc_softmax_s8(const tc_softmax_params *params, const int8_t *input, int8_t *output)
{
    const int32_t depth = params->depth;
    int32_t row, c;
    for (row = 0; row < params->outer_size; ++row) {
        const int8_t *in = input + (size_t)row * depth;
        int8_t *out = output + (size_t)row * depth;
        int8_t max = INT8_MIN;
        int32_t sum_of_exps = 0;
        int32_t num_bits_over_unit;
        int32_t reciprocal;
        int32_t exponent;
        for (c = 0; c < depth; ++c) {
            if (in[c] > max) {
                max = in[c];
            }
        }
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max;
            if (diff >= params->diff_min) {
                sum_of_exps += tc_rounding_divide_by_pot(exp_of_difference(params, diff),
                                                         ACCUMULATION_INTEGER_BITS);
            }
        }
        reciprocal = tc_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
        exponent = num_bits_over_unit + 31 - 8;
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max;
            if (diff >= params->diff_min) {
                const int32_t unsaturated =
                    tc_rounding_divide_by_pot(tc_saturating_rounding_doubling_high_mul(
                                                  reciprocal, exp_of_difference(params, diff)),
                                              exponent);
                out[c] = (int8_t)tc_clamp(unsaturated + INT8_MIN, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
}
