/* An odometer over a shape (last dimension fastest) that tracks the matching offset in a strided
 * tensor: reductions walk kept and reduced dimensions with it, TRANSPOSE its output. Internal to
 * the kernel library. */
#ifndef TEXTCLF_KERNELS_ODOMETER_H
#define TEXTCLF_KERNELS_ODOMETER_H

#include "../kernels.h"

typedef struct {
    int32_t index[TC_MAX_DIMS];
    int32_t offset;
} tc_odometer;

static inline void tc_odometer_start(tc_odometer *odometer) {
    int32_t d;
    for (d = 0; d < TC_MAX_DIMS; ++d) {
        odometer->index[d] = 0;
    }
    odometer->offset = 0;
}

static inline void tc_odometer_advance(tc_odometer *odometer, int32_t rank, const int32_t *shape,
                                       const int32_t *strides) {
    int32_t d;
    for (d = rank - 1; d >= 0; --d) {
        odometer->offset += strides[d];
        if (++odometer->index[d] < shape[d]) {
            return;
        }
        odometer->offset -= strides[d] * shape[d];
        odometer->index[d] = 0;
    }
}

static inline int32_t tc_shape_count(int32_t rank, const int32_t *shape) {
    int32_t count = 1;
    int32_t d;
    for (d = 0; d < rank; ++d) {
        count *= shape[d];
    }
    return count;
}

/* True when a reduction is "combine `rows` contiguous rows of `inner` elements", repeated `outer`
 * times: the input is [outer][rows][inner] and the output [outer][inner] (row-major over the kept
 * dimensions). Pooling over a sequence is this shape; it lets the kernels stream whole rows
 * instead of striding through the input once per output element. */
static inline int tc_reduction_rows(const tc_reduction_shape *shape, int32_t *outer, int32_t *rows,
                                    int32_t *inner) {
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

#endif /* TEXTCLF_KERNELS_ODOMETER_H */
