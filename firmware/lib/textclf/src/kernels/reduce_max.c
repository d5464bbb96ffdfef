/* REDUCE_MAX, int8 (TFLM kernels/reduce.cc: reference_ops::ReduceGeneric with max). */
#include <string.h>

#include "../kernels.h"
#include "odometer.h"

/* Max over rows of contiguous elements: the running maximum is the output row itself. */
static void reduce_max_rows(const int8_t *input, int8_t *output, int32_t outer, int32_t rows,
                            int32_t inner) {
    int32_t o, r, i;
    for (o = 0; o < outer; ++o, input += (size_t)rows * inner, output += inner) {
        memcpy(output, input, (size_t)inner);
        for (r = 1; r < rows; ++r) {
            const int8_t *row = input + (size_t)r * inner;
            for (i = 0; i < inner; ++i) {
                if (row[i] > output[i]) {
                    output[i] = row[i];
                }
            }
        }
    }
}

void tc_reduce_max(const tc_reduce_max_params *params, const int8_t *input, int8_t *output) {
    const tc_reduction_shape *shape = &params->shape;
    int32_t outer, rows, inner;
    if (tc_reduction_rows(shape, &outer, &rows, &inner) && rows > 0) {
        reduce_max_rows(input, output, outer, rows, inner);
        return;
    }
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
