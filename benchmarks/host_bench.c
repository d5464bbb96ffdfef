/* Host timing of the compiled backend over the firmware model's golden vectors (built by
 * host_speed.py). Prints: "<ns per invoke> <ns per tokenize+invoke> <checksum>" averaged over all
 * goldens and repeats. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifier.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    static classifier_context context;
    const textclf_model *model = &classifier_model;
    int repeats = argc > 1 ? atoi(argv[1]) : 200;
    int checksum = 0;
    double start, invoke_ns, classify_ns;
    if (classifier_init(&context) != TEXTCLF_OK) return 1;

    start = now_ns();
    for (int r = 0; r < repeats; ++r) {
        for (size_t i = 0; i < CLASSIFIER_GOLDEN_COUNT; ++i) {
            memcpy(model->input(&context), classifier_goldens[i].ids,
                   CLASSIFIER_SEQUENCE_LENGTH * sizeof(int32_t));
            model->invoke(&context);
            checksum += model->output(&context)[0];
        }
    }
    invoke_ns = (now_ns() - start) / ((double)repeats * CLASSIFIER_GOLDEN_COUNT);

    start = now_ns();
    for (int r = 0; r < repeats; ++r) {
        for (size_t i = 0; i < CLASSIFIER_GOLDEN_COUNT; ++i) {
            textclf_result result;
            classifier_classify(&context, classifier_goldens[i].text,
                                classifier_goldens[i].text_length, &result);
            checksum += result.label;
        }
    }
    classify_ns = (now_ns() - start) / ((double)repeats * CLASSIFIER_GOLDEN_COUNT);
    printf("%.1f %.1f %d\n", invoke_ns, classify_ns, checksum);
    return 0;
}
