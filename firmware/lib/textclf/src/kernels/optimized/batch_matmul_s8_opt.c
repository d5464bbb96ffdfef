/* BATCH_MATMUL, int8, for the layout attention's scores take (lhs rows and rhs columns both
 * contiguous along the depth: adj_x false, adj_y true): each output is one dot product of two
 * contiguous rows (dot_product.h, SMLAD where the core has it). Same integers as
 * tc_batch_matmul_s8, which handles the other layouts. */
#include "../../textclf_kernels.h"
#include "../internal/dot_product.h"
#include "../internal/fixed_point.h"

void tc_batch_matmul_s8_opt(const tc_batch_matmul_params *params, const int8_t *lhs,
                            const int8_t *rhs, int8_t *output)
{
    const int32_t depth = params->depth;
    int32_t b0, b1, b2, m, n;
    if (params->adj_x || !params->adj_y) {
        tc_batch_matmul_s8(params, lhs, rhs, output);
        return;
    }
    for (b0 = 0; b0 < params->batch_shape[0]; ++b0) {
        for (b1 = 0; b1 < params->batch_shape[1]; ++b1) {
            for (b2 = 0; b2 < params->batch_shape[2]; ++b2) {
                const int8_t *lhs_matrix = lhs + b0 * params->lhs_batch_strides[0] +
                                           b1 * params->lhs_batch_strides[1] +
                                           b2 * params->lhs_batch_strides[2];
                const int8_t *rhs_matrix = rhs + b0 * params->rhs_batch_strides[0] +
                                           b1 * params->rhs_batch_strides[1] +
                                           b2 * params->rhs_batch_strides[2];
                for (m = 0; m < params->rows; ++m) {
                    const int8_t *lhs_row = lhs_matrix + (size_t)m * depth;
                    for (n = 0; n < params->cols; ++n) {
                        int32_t acc = tc_dot_product_s8(lhs_row, params->lhs_offset,
                                                        rhs_matrix + (size_t)n * depth,
                                                        params->rhs_offset, depth);
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
