/* SUM and MEAN, int8 (TFLM kernels/reduce.cc: reference_ops::QuantizedMeanOrSum). MEAN's division
 * by the element count is folded into multiplier and shift by the compiler, as TFLM's Eval folds
 * it before rescaling, so the integer steps here are those of both operators. */
#include "../../textclf_kernels.h"
#include "../internal/odometer.h"
#include "../internal/reduce_sum.h"

void tc_reduce_sum_s8(const tc_reduce_sum_params *params, const int8_t *input, int8_t *output)
{
    const tc_reduction_shape *shape = &params->shape;
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
        output[i] = tc_requantize_sum(params, sum, reduced_count);
        tc_odometer_advance(&kept, shape->kept_rank, shape->kept_shape, shape->kept_strides);
    }
}
