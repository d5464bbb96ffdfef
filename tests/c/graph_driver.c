/* Host test driver for a compiled graph (emitted with the prefix `model`): reads input sets from
 * stdin, runs the graph, writes the outputs to stdout, until stdin ends. The arena is filled with
 * noise before every run: stale bytes must never reach an output. */
#include <stdio.h>
#include <stdlib.h>

#include "model_graph.h"

int main(void)
{
    uint8_t *arena = malloc(MODEL_ARENA_BYTES);
    uint32_t noise = 12345u;
    if (arena == NULL) {
        return 2;
    }
    for (;;) {
        uint32_t i;
        for (i = 0; i < MODEL_ARENA_BYTES; ++i) {
            noise = noise * 1103515245u + 12345u;
            arena[i] = (uint8_t)(noise >> 24);
        }
        for (i = 0; i < MODEL_INPUT_COUNT; ++i) {
            if (fread(arena + model_input_offsets[i], 1, model_input_bytes[i], stdin) !=
                model_input_bytes[i]) {
                free(arena);
                return 0;
            }
        }
        model_graph_invoke(arena);
        for (i = 0; i < MODEL_OUTPUT_COUNT; ++i) {
            fwrite(arena + model_output_offsets[i], 1, model_output_bytes[i], stdout);
        }
    }
}
