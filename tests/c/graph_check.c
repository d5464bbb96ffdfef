/* Target test program for a compiled graph (prefix `model`), run in QEMU: the input sets and
 * TFLM's outputs for them are linked in as binary blobs (objcopy: golden_inputs.bin,
 * golden_outputs.bin); prints how many sets differ and exits non-zero if any does. */
#include <stdio.h>
#include <string.h>

#include "model_graph.h"

extern const uint8_t _binary_golden_inputs_bin_start[], _binary_golden_inputs_bin_end[];
extern const uint8_t _binary_golden_outputs_bin_start[];

static uint8_t arena[MODEL_ARENA_BYTES] __attribute__((aligned(16)));

static uint32_t total(const uint32_t *bytes, uint32_t count)
{
    uint32_t sum = 0, i;
    for (i = 0; i < count; ++i) sum += bytes[i];
    return sum;
}

int main(void)
{
    const uint32_t in_bytes = total(model_input_bytes, MODEL_INPUT_COUNT);
    const uint32_t out_bytes = total(model_output_bytes, MODEL_OUTPUT_COUNT);
    const uint32_t cases =
        (uint32_t)(_binary_golden_inputs_bin_end - _binary_golden_inputs_bin_start) / in_bytes;
    uint32_t c, i, differing = 0;
    for (c = 0; c < cases; ++c) {
        const uint8_t *in = _binary_golden_inputs_bin_start + c * in_bytes;
        const uint8_t *want = _binary_golden_outputs_bin_start + c * out_bytes;
        memset(arena, 0xA5, sizeof arena);
        for (i = 0; i < MODEL_INPUT_COUNT; ++i) {
            memcpy(arena + model_input_offsets[i], in, model_input_bytes[i]);
            in += model_input_bytes[i];
        }
        model_graph_invoke(arena);
        for (i = 0; i < MODEL_OUTPUT_COUNT; ++i) {
            if (memcmp(arena + model_output_offsets[i], want, model_output_bytes[i]) != 0) {
                ++differing;
                break;
            }
            want += model_output_bytes[i];
        }
    }
    printf("%lu of %lu cases differ\n", (unsigned long)differing, (unsigned long)cases);
    return differing != 0;
}
