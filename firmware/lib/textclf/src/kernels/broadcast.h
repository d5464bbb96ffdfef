/* Walks the output of a broadcasting binary op in order while tracking where each input is.
 * Internal to the kernel library. */
#ifndef TEXTCLF_KERNELS_BROADCAST_H
#define TEXTCLF_KERNELS_BROADCAST_H

#include "../kernels.h"

typedef struct {
    int32_t index[TC_MAX_DIMS];
    int32_t offset1;
    int32_t offset2;
} tc_broadcast_cursor;

static inline void tc_broadcast_start(tc_broadcast_cursor *cursor) {
    int32_t d;
    for (d = 0; d < TC_MAX_DIMS; ++d) {
        cursor->index[d] = 0;
    }
    cursor->offset1 = 0;
    cursor->offset2 = 0;
}

/* Advances to the next output element (odometer over the output shape, last dimension fastest). */
static inline void tc_broadcast_advance(tc_broadcast_cursor *cursor,
                                        const tc_broadcast_shape *shape) {
    int32_t d;
    for (d = shape->rank - 1; d >= 0; --d) {
        cursor->offset1 += shape->input1_strides[d];
        cursor->offset2 += shape->input2_strides[d];
        if (++cursor->index[d] < shape->shape[d]) {
            return;
        }
        cursor->offset1 -= shape->input1_strides[d] * shape->shape[d];
        cursor->offset2 -= shape->input2_strides[d] * shape->shape[d];
        cursor->index[d] = 0;
    }
}

static inline int32_t tc_broadcast_output_count(const tc_broadcast_shape *shape) {
    int32_t count = 1;
    int32_t d;
    for (d = 0; d < shape->rank; ++d) {
        count *= shape->shape[d];
    }
    return count;
}

#endif /* TEXTCLF_KERNELS_BROADCAST_H */
