/* SUM and MEAN, int8, streamed: a reduction over contiguous rows (pooling over a sequence) sums
 * whole rows into a chunk of column sums instead of striding through the input once per output
 * element. Same integer sums as tc_reduce_sum_s8, which handles every other shape. */
#include "../../textclf_kernels.h"
#include "../internal/reduce_sum.h"
#include "../internal/reduction.h"

/* Output columns summed per pass over the rows: the int32 sums live on the stack (256 bytes). */
#define SUM_CHUNK 64

static void reduce_sum_rows(const tc_reduce_sum_params *params, const int8_t *input, int8_t *output,
                            int32_t outer, int32_t rows, int32_t inner)
{
    int32_t sums[SUM_CHUNK];
    int32_t o, r, i, start;
    for (o = 0; o < outer; ++o, input += (size_t)rows * inner, output += inner) {
        for (start = 0; start < inner; start += SUM_CHUNK) {
            const int32_t width = inner - start < SUM_CHUNK ? inner - start : SUM_CHUNK;
            for (i = 0; i < width; ++i) {
                sums[i] = 0;
            }
            for (r = 0; r < rows; ++r) {
                const int8_t *row = input + (size_t)r * inner + start;
                for (i = 0; i < width; ++i) {
                    sums[i] += row[i];
                }
            }
            for (i = 0; i < width; ++i) {
                output[start + i] = tc_requantize_sum(params, sums[i], rows);
            }
        }
    }
}

void tc_reduce_sum_s8_opt(const tc_reduce_sum_params *params, const int8_t *input, int8_t *output)
{
    int32_t outer, rows, inner;
    if (tc_reduction_rows(&params->shape, &outer, &rows, &inner)) {
        reduce_sum_rows(params, input, output, outer, rows, inner);
    } else {
        tc_reduce_sum_s8(params, input, output);
    }
}
