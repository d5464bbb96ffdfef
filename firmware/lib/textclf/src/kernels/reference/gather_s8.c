/* GATHER with an int8 table and int32 indices (TFLM kernels/gather.cc). */
#include <string.h>

#include "../../textclf_kernels.h"

void tc_gather_s8(const tc_gather_params *params, const int8_t *table, const int32_t *indices,
                  int8_t *output)
{
    const size_t row_bytes = (size_t)params->inner_size;
    int32_t outer;
    int32_t i;
    for (outer = 0; outer < params->outer_size; ++outer) {
        const int8_t *block = table + (size_t)outer * params->axis_size * row_bytes;
        for (i = 0; i < params->index_count; ++i) {
            const int32_t index = indices[i];
            const int32_t row = (index >= 0 && index < params->axis_size) ? index : 0;
            memcpy(output, block + (size_t)row * row_bytes, row_bytes);
            output += row_bytes;
        }
    }
}
