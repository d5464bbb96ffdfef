/* BATCH_MATMUL, int8 (TFLM kernels/batch_matmul.cc with reference_ops::BatchMatMul). TFLM copies a
 * transposed operand into the arena first; reading it in place through strides gives the same
 * integers. */
#include "../../textclf_kernels.h"
#include "../internal/fixed_point.h"

void tc_batch_matmul_s8(const tc_batch_matmul_params *params, const int8_t *lhs, const int8_t *rhs,
                        int8_t *output)
{
    const int32_t rows = params->rows;
    const int32_t cols = params->cols;
    const int32_t depth = params->depth;
    /* Element (m, k) of lhs and (k, n) of rhs, whichever way each is stored. */
    const int32_t lhs_row_step = params->adj_x ? 1 : depth;
    const int32_t lhs_depth_step = params->adj_x ? rows : 1;
    const int32_t rhs_col_step = params->adj_y ? depth : 1;
    const int32_t rhs_depth_step = params->adj_y ? 1 : cols;
    int32_t b0, b1, b2, m, n, k;
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
                        int32_t acc = 0;
                        for (k = 0; k < depth; ++k) {
                            acc += ((int32_t)lhs_row[k * lhs_depth_step] + params->lhs_offset) *
                                   ((int32_t)rhs_col[k * rhs_depth_step] + params->rhs_offset);
                        }
                        acc = tc_multiply_by_quantized_multiplier(acc, params->output_multiplier,
                                                                  params->output_shift);
                        acc += params->output_offset;
                        *output++ =
                            (int8_t)tc_clamp(acc, params->activation_min, params->activation_max);
                    }
                }
            }
        }
    }
}
