/* GATHER from a LUT-compressed int8 table (TFLM kernels/gather.cc after DECODE): each row read is
 * decoded straight into the output; the table is never decoded as a whole. */
#include "../../textclf_kernels.h"
#include "../internal/lut.h"

void tc_gather_s8_lut(const tc_gather_lut_params *params, const int32_t *indices, int8_t *output)
{
    const tc_gather_params *gather = &params->gather;
    const int32_t inner = gather->inner_size;
    int32_t outer, i;
    for (outer = 0; outer < gather->outer_size; ++outer) {
        for (i = 0; i < gather->index_count; ++i) {
            const int32_t index = indices[i];
            /* An index out of range reads entry 0, as tc_gather_s8 does (undefined in TFLM). */
            const int32_t row = (index >= 0 && index < gather->axis_size) ? index : 0;
            tc_lut_decode(&params->table, (outer * gather->axis_size + row) * inner, inner, output);
            output += inner;
        }
    }
}
