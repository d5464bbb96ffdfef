/* libFuzzer target: arbitrary bytes through the tokenizer and the compiled classifier of the
 * firmware's model (prefix `classifier`). Built by benchmarks/fuzz_classifier.py with clang
 * -fsanitize=fuzzer,address,undefined; any crash, sanitizer report or broken invariant (abort) is a
 * finding. */
#include <stdint.h>
#include <stdlib.h>

#include "classifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static classifier_context context; /* the arena: allocated once, as on the device */
    static int ready;
    textclf_result result;
    float scores[CLASSIFIER_NUM_LABELS];
    int k;
    if (!ready) {
        if (classifier_init(&context) != TEXTCLF_OK) abort();
        ready = 1;
    }
    if (classifier_classify(&context, (const char *)data, size, &result) != TEXTCLF_OK) abort();
    if (result.token_count < 2 || result.token_count > CLASSIFIER_SEQUENCE_LENGTH) abort();
    if (result.label < 0 || result.label >= CLASSIFIER_NUM_LABELS) abort();
    textclf_scores(&classifier_model, &result, scores);
    for (k = 0; k < CLASSIFIER_NUM_LABELS; ++k) {
        if (result.logits[k] > result.logits[result.label]) abort();
        if (!(scores[k] >= 0.0f && scores[k] <= 1.0f)) abort();
    }
    return 0;
}
