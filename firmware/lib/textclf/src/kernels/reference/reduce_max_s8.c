/* REDUCE_MAX, int8 (TFLM kernels/reduce.cc: reference_ops::ReduceGeneric with max). */
#include "../../textclf_kernels.h"
#include "../internal/odometer.h"

void tc_reduce_max_s8(const tc_reduce_max_params *params, const int8_t *input, int8_t *output)
{
    const tc_reduction_shape *shape = &params->shape;
    const int32_t output_count = tc_shape_count(shape->kept_rank, shape->kept_shape);
    const int32_t reduced_count = tc_shape_count(shape->reduced_rank, shape->reduced_shape);
    tc_odometer kept;
    int32_t i, j;
    tc_odometer_start(&kept);
    for (i = 0; i < output_count; ++i) {
        tc_odometer reduced;
        int8_t max = INT8_MIN;
        tc_odometer_start(&reduced);
        for (j = 0; j < reduced_count; ++j) {
            const int8_t value = input[kept.offset + reduced.offset];
            if (value > max) {
                max = value;
            }
            tc_odometer_advance(&reduced, shape->reduced_rank, shape->reduced_shape,
                                shape->reduced_strides);
        }
        output[i] = max;
        tc_odometer_advance(&kept, shape->kept_rank, shape->kept_shape, shape->kept_strides);
    }
}
