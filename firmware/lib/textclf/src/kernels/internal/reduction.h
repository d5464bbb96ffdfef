/* Recognises the reductions the optimized kernels stream row by row. Internal to the kernel
 * library. */
#ifndef TEXTCLF_KERNELS_REDUCTION_H
#define TEXTCLF_KERNELS_REDUCTION_H

#include "../../textclf_kernels.h"

/* True when a reduction is "combine `rows` contiguous rows of `inner` elements", repeated `outer`
 * times: the input is [outer][rows][inner] and the output [outer][inner] (row-major over the kept
 * dimensions). Pooling over a sequence is this shape; it lets the kernels stream whole rows
 * instead of striding through the input once per output element. */
static inline int tc_reduction_rows(const tc_reduction_shape *shape, int32_t *outer, int32_t *rows,
                                    int32_t *inner)
{
    int32_t d = shape->kept_rank - 1;
    int32_t expected = 1;
    if (shape->reduced_rank != 1) {
        return 0;
    }
    *rows = shape->reduced_shape[0];
    *inner = shape->reduced_strides[0];
    for (; d >= 0 && expected < *inner; --d) {
        if (shape->kept_shape[d] != 1 && shape->kept_strides[d] != expected) {
            return 0;
        }
        expected *= shape->kept_shape[d];
    }
    if (expected != *inner) {
        return 0;
    }
    expected = *inner * *rows;
    *outer = 1;
    for (; d >= 0; --d) {
        if (shape->kept_shape[d] != 1 && shape->kept_strides[d] != expected) {
            return 0;
        }
        expected *= shape->kept_shape[d];
        *outer *= shape->kept_shape[d];
    }
    return 1;
}

#endif /* TEXTCLF_KERNELS_REDUCTION_H */
