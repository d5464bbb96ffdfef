/* BATCH_MATMUL, int8 (TFLM kernels/batch_matmul.cc with reference_ops::BatchMatMul). TFLM copies a
 * transposed operand into the arena first; reading it in place gives the same integers. */
#include "../kernels.h"
#include "dot_product.h"
#include "fixed_point.h"

static int32_t strided_dot_product(const int8_t *x, int32_t x_step, int32_t x_offset,
                                   const int8_t *w, int32_t w_step, int32_t w_offset,
                                   int32_t length) {
    int32_t acc = 0;
    int32_t k;
    for (k = 0; k < length; ++k) {
        acc += ((int32_t)x[k * x_step] + x_offset) * ((int32_t)w[k * w_step] + w_offset);
    }
    return acc;
}

void tc_batch_matmul(const tc_batch_matmul_params *params, const int8_t *lhs, const int8_t *rhs,
                     int8_t *output) {
    const int32_t rows = params->rows;
    const int32_t cols = params->cols;
    const int32_t depth = params->depth;
    /* Element (m, k) of lhs and (k, n) of rhs, whichever way each is stored. */
    const int32_t lhs_row_step = params->adj_x ? 1 : depth;
    const int32_t lhs_depth_step = params->adj_x ? rows : 1;
    const int32_t rhs_col_step = params->adj_y ? depth : 1;
    const int32_t rhs_depth_step = params->adj_y ? 1 : cols;
    const int contiguous = lhs_depth_step == 1 && rhs_depth_step == 1;
    int32_t b0, b1, b2, m, n;
    for (b0 = 0; b0 < params->batch_shape[0]; ++b0) {
        for (b1 = 0; b1 < params->batch_shape[1]; ++b1) {
            for (b2 = 0; b2 < params->batch_shape[2]; ++b2) {
                const int8_t *lhs_matrix = lhs + b0 * params->lhs_batch_strides[0] +
                                           b1 * params->lhs_batch_strides[1] +
                                           b2 * params->lhs_batch_strides[2];
                const int8_t *rhs_matrix = rhs + b0 * params->rhs_batch_strides[0] +
                                           b1 * params->rhs_batch_strides[1] +
                                           b2 * params->rhs_batch_strides[2];
                for (m = 0; m < rows; ++m) {
                    const int8_t *lhs_row = lhs_matrix + m * lhs_row_step;
                    for (n = 0; n < cols; ++n) {
                        const int8_t *rhs_col = rhs_matrix + n * rhs_col_step;
                        int32_t acc =
                            contiguous
                                ? tc_dot_product_s8(lhs_row, params->lhs_offset, rhs_col,
                                                    params->rhs_offset, depth)
                                : strided_dot_product(lhs_row, lhs_depth_step, params->lhs_offset,
                                                      rhs_col, rhs_depth_step, params->rhs_offset,
                                                      depth);
                        acc = tc_multiply_by_quantized_multiplier(acc, params->output_multiplier,
                                                                  params->output_shift);
                        acc += params->output_offset;
                        *output++ = (int8_t)tc_clamp(acc, params->activation_min,
                                                     params->activation_max);
                    }
                }
            }
        }
    }
}
