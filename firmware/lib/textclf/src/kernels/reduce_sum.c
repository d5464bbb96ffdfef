/* SUM and MEAN, int8 (TFLM kernels/reduce.cc: reference_ops::QuantizedMeanOrSum). MEAN's division
 * by the element count is folded into multiplier and shift by the compiler, as TFLM's Eval folds
 * it before rescaling, so the integer steps here are those of both operators. */
#include "../kernels.h"
#include "fixed_point.h"
#include "odometer.h"

/* Output columns summed per pass over the rows: the int32 sums live on the stack (256 bytes). */
#define SUM_CHUNK 64

static int8_t requantize_sum(const tc_reduce_sum_params *params, int32_t sum, int32_t count) {
    sum -= params->input_zero_point * count;
    return (int8_t)tc_clamp(
        tc_multiply_by_quantized_multiplier(sum, params->multiplier, params->shift) +
            params->output_zero_point,
        INT8_MIN, INT8_MAX);
}

/* Sums over rows of contiguous elements, a chunk of columns at a time (same integer sums). */
static void reduce_sum_rows(const tc_reduce_sum_params *params, const int8_t *input, int8_t *output,
                            int32_t outer, int32_t rows, int32_t inner) {
    int32_t sums[SUM_CHUNK];
    int32_t o, r, i, start;
    for (o = 0; o < outer; ++o, input += (size_t)rows * inner, output += inner) {
        for (start = 0; start < inner; start += SUM_CHUNK) {
            const int32_t width = inner - start < SUM_CHUNK ? inner - start : SUM_CHUNK;
            for (i = 0; i < width; ++i) {
                sums[i] = 0;
            }
            for (r = 0; r < rows; ++r) {
                const int8_t *row = input + (size_t)r * inner + start;
                for (i = 0; i < width; ++i) {
                    sums[i] += row[i];
                }
            }
            for (i = 0; i < width; ++i) {
                output[start + i] = requantize_sum(params, sums[i], rows);
            }
        }
    }
}

void tc_reduce_sum(const tc_reduce_sum_params *params, const int8_t *input, int8_t *output) {
    const tc_reduction_shape *shape = &params->shape;
    int32_t outer, rows, inner;
    if (tc_reduction_rows(shape, &outer, &rows, &inner)) {
        reduce_sum_rows(params, input, output, outer, rows, inner);
        return;
    }
    const int32_t output_count = tc_shape_count(shape->kept_rank, shape->kept_shape);
    const int32_t reduced_count = tc_shape_count(shape->reduced_rank, shape->reduced_shape);
    tc_odometer kept;
    int32_t i, j;
    tc_odometer_start(&kept);
    for (i = 0; i < output_count; ++i) {
        tc_odometer reduced;
        int32_t sum = 0;
        tc_odometer_start(&reduced);
        for (j = 0; j < reduced_count; ++j) {
            sum += input[kept.offset + reduced.offset];
            tc_odometer_advance(&reduced, shape->reduced_rank, shape->reduced_shape,
                                shape->reduced_strides);
        }
        output[i] = requantize_sum(params, sum, reduced_count);
        tc_odometer_advance(&kept, shape->kept_rank, shape->kept_shape, shape->kept_strides);
    }
}
