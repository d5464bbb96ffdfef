/* libFuzzer target: arbitrary bytes through the tokenizer and the compiled classifier.
 * Built by benchmarks/fuzz_classifier.py with clang -fsanitize=fuzzer,address,undefined; any
 * crash, sanitizer report or broken invariant (abort) is a finding. */
#include <stdint.h>
#include <stdlib.h>

#include "textclf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static textclf_context context; /* the arena: allocated once, as on the device */
    static int ready;
    if (!ready) {
        if (textclf_init(&context) != TEXTCLF_OK) abort();
        ready = 1;
    }
    textclf_result result;
    if (textclf_classify(&context, (const char *)data, size, &result) != TEXTCLF_OK) abort();
    if (result.token_count < 2 || result.token_count > TC_MODEL_SEQUENCE_LENGTH) abort();
    if (result.label < 0 || result.label >= TC_MODEL_NUM_LABELS) abort();
    for (int k = 0; k < TC_MODEL_NUM_LABELS; ++k) {
        if (result.logits[k] > result.logits[result.label]) abort();
        if (!(result.scores[k] >= 0.0f && result.scores[k] <= 1.0f)) abort();
    }
    return 0;
}
