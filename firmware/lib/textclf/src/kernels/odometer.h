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

#endif /* TEXTCLF_KERNELS_ODOMETER_H */
