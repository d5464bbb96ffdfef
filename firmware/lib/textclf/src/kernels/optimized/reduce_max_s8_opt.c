/* REDUCE_MAX, int8, streamed: over contiguous rows the running maximum is the output row itself.
 * Same result as tc_reduce_max_s8, which handles every other shape. */
#include <string.h>

#include "../../textclf_kernels.h"
#include "../internal/reduction.h"

void tc_reduce_max_s8_opt(const tc_reduce_max_params *params, const int8_t *input, int8_t *output)
{
    int32_t outer, rows, inner, o, r, i;
    if (!tc_reduction_rows(&params->shape, &outer, &rows, &inner) || rows == 0) {
        tc_reduce_max_s8(params, input, output);
        return;
    }
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
