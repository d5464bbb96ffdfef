/* An odometer over a shape (last dimension fastest) that tracks where one or two strided tensors
 * are: reductions walk their kept and reduced dimensions with it, TRANSPOSE its output, and the
 * broadcasting binary operators their output (one offset per input, stride 0 along a broadcast
 * dimension). Internal to the kernel library. */
#ifndef TEXTCLF_KERNELS_ODOMETER_H
#define TEXTCLF_KERNELS_ODOMETER_H

#include "../../textclf_kernels.h"

typedef struct {
    int32_t index[TC_MAX_DIMS];
    int32_t offset;  /* into the tensor walked with `strides` */
    int32_t offset2; /* into the second tensor (tc_odometer_advance2) */
} tc_odometer;

static inline void tc_odometer_start(tc_odometer *odometer)
{
    int32_t d;
    for (d = 0; d < TC_MAX_DIMS; ++d) {
        odometer->index[d] = 0;
    }
    odometer->offset = 0;
    odometer->offset2 = 0;
}

static inline void tc_odometer_advance(tc_odometer *odometer, int32_t rank, const int32_t *shape,
                                       const int32_t *strides)
{
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

/* The same walk, tracking two tensors at once. */
static inline void tc_odometer_advance2(tc_odometer *odometer, int32_t rank, const int32_t *shape,
                                        const int32_t *strides, const int32_t *strides2)
{
    int32_t d;
    for (d = rank - 1; d >= 0; --d) {
        odometer->offset += strides[d];
        odometer->offset2 += strides2[d];
        if (++odometer->index[d] < shape[d]) {
            return;
        }
        odometer->offset -= strides[d] * shape[d];
        odometer->offset2 -= strides2[d] * shape[d];
        odometer->index[d] = 0;
    }
}

static inline int32_t tc_shape_count(int32_t rank, const int32_t *shape)
{
    int32_t count = 1;
    int32_t d;
    for (d = 0; d < rank; ++d) {
        count *= shape[d];
    }
    return count;
}

/* Advances a broadcasting binary operator's odometer to its next output element. */
static inline void tc_broadcast_advance(tc_odometer *odometer, const tc_broadcast_shape *shape)
{
    tc_odometer_advance2(odometer, shape->rank, shape->shape, shape->input1_strides,
                         shape->input2_strides);
}

#endif /* TEXTCLF_KERNELS_ODOMETER_H */
