/* Host timing of the compiled backend over the golden vectors (built by host_speed.py).
 * Prints: "<ns per invoke> <ns per tokenize+invoke>" averaged over all goldens and repeats. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tc_goldens.h"
#include "textclf.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    static textclf_context context;
    int repeats = argc > 1 ? atoi(argv[1]) : 200;
    if (textclf_init(&context) != TEXTCLF_OK) return 1;
    int checksum = 0;

    double start = now_ns();
    for (int r = 0; r < repeats; ++r) {
        for (size_t i = 0; i < TC_GOLDEN_COUNT; ++i) {
            memcpy(tc_model_input(context.arena), tc_goldens[i].ids, sizeof(tc_goldens[i].ids));
            tc_model_invoke(context.arena);
            checksum += tc_model_output(context.arena)[0];
        }
    }
    double invoke_ns = (now_ns() - start) / ((double)repeats * TC_GOLDEN_COUNT);

    start = now_ns();
    for (int r = 0; r < repeats; ++r) {
        for (size_t i = 0; i < TC_GOLDEN_COUNT; ++i) {
            textclf_result result;
            textclf_classify(&context, tc_goldens[i].text, tc_goldens[i].text_length, &result);
            checksum += result.label;
        }
    }
    double classify_ns = (now_ns() - start) / ((double)repeats * TC_GOLDEN_COUNT);
    printf("%.1f %.1f %d\n", invoke_ns, classify_ns, checksum);
    return 0;
}
