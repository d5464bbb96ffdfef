/* Replays a model library's golden vectors through the runtime and prints one line per vector:
 * `ok` or what differs (token ids from the C tokenizer, int8 logits from the model's backend).
 * `textclf export` compiles it with the freshly generated sources before it writes them, as an
 * exporter should validate what it exports.
 *
 * Built with -DCHECK_HEADER='"<prefix>.h"' -DCHECK_PREFIX=<prefix> -DCHECK_SEQUENCE_LENGTH=<n>; with
 * -DCHECK_TOKENS_ONLY
 * (a TFLite Micro model checked where TFLM cannot be compiled) only the token ids are compared. */
#include <stdio.h>
#include <string.h>

#include CHECK_HEADER

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)
#define MODEL CHECK_CAT(CHECK_PREFIX, _model)
#define GOLDENS CHECK_CAT(CHECK_PREFIX, _goldens)
#define VOCAB CHECK_CAT(CHECK_PREFIX, _vocab)
#define CONTEXT CHECK_CAT(CHECK_PREFIX, _context)

static int check(const textclf_golden *golden, int32_t *ids, void *context)
{
    size_t i;
    int32_t k;
    tc_tokenize(&VOCAB, golden->text, golden->text_length, ids, CHECK_SEQUENCE_LENGTH);
    for (i = 0; i < CHECK_SEQUENCE_LENGTH; ++i) {
        if (ids[i] != golden->ids[i]) {
            printf("ids differ at %u: %d, not %d\n", (unsigned)i, (int)ids[i], (int)golden->ids[i]);
            return 1;
        }
    }
#ifndef CHECK_TOKENS_ONLY
    {
        textclf_result result;
        if (textclf_classify(&MODEL, context, golden->text, golden->text_length, &result) !=
            TEXTCLF_OK) {
            printf("classify failed\n");
            return 1;
        }
        for (k = 0; k < MODEL.num_labels; ++k) {
            if (result.logits[k] != golden->logits[k]) {
                printf("logit %d is %d, not %d\n", (int)k, (int)result.logits[k],
                       (int)golden->logits[k]);
                return 1;
            }
        }
        if (result.label != golden->label) {
            printf("label %d, not %d\n", (int)result.label, (int)golden->label);
            return 1;
        }
    }
#else
    (void)context;
    (void)k;
#endif
    printf("ok\n");
    return 0;
}

int main(void)
{
#ifndef CHECK_TOKENS_ONLY
    static CONTEXT context;
    void *state = &context;
    if (textclf_init(&MODEL, state) != TEXTCLF_OK) {
        printf("init failed\n");
        return 1;
    }
#else
    void *state = NULL;
#endif
    static int32_t ids[CHECK_SEQUENCE_LENGTH];
    int failures = 0;
    size_t g;
    for (g = 0; g < sizeof GOLDENS / sizeof GOLDENS[0]; ++g) {
        failures += check(&GOLDENS[g], ids, state);
    }
    return failures != 0;
}
