/* The model on the device, against the workstation: every golden vector's token ids (Python
 * tokenizer) and int8 logits (official TFLite Micro interpreter) must match bit for bit. */
#include <string.h>

#include "classifier.h"
#include "unit_harness.h"

/* The context holds the arena: static storage, as the firmware keeps it. Tests run one at a time. */
static classifier_context *shared_context(void)
{
    static classifier_context context;
    static int ready;
    if (!ready) ready = classifier_init(&context) == TEXTCLF_OK;
    return ready ? &context : NULL;
}

static void tokenizer_matches_python(uh_context *ctx, size_t i)
{
    const textclf_golden *golden = &classifier_goldens[i];
    int32_t ids[CLASSIFIER_SEQUENCE_LENGTH];
    tc_tokenize(&classifier_vocab, golden->text, golden->text_length, ids,
                CLASSIFIER_SEQUENCE_LENGTH);
    UH_ASSERT_EQ_ARRAY(ctx, golden->ids, ids, CLASSIFIER_SEQUENCE_LENGTH);
}

static void logits_match_tflm(uh_context *ctx, size_t i)
{
    const textclf_golden *golden = &classifier_goldens[i];
    classifier_context *context = shared_context();
    UH_ASSERT(ctx, context != NULL);
    memcpy(classifier_model.input(context), golden->ids,
           CLASSIFIER_SEQUENCE_LENGTH * sizeof(int32_t));
    UH_ASSERT_EQ_INT(ctx, TEXTCLF_OK, classifier_model.invoke(context));
    UH_ASSERT_EQ_ARRAY(ctx, golden->logits, classifier_model.output(context),
                       CLASSIFIER_NUM_LABELS);
}

static void text_to_label(uh_context *ctx, size_t i)
{
    const textclf_golden *golden = &classifier_goldens[i];
    classifier_context *context = shared_context();
    textclf_result result;
    float scores[CLASSIFIER_NUM_LABELS];
    float total = 0.0f;
    UH_ASSERT(ctx, context != NULL);
    UH_ASSERT_EQ_INT(ctx, TEXTCLF_OK,
                     classifier_classify(context, golden->text, golden->text_length, &result));
    UH_ASSERT_EQ_ARRAY(ctx, golden->logits, result.logits, CLASSIFIER_NUM_LABELS);
    UH_ASSERT_EQ_INT(ctx, golden->label, result.label);
    textclf_scores(&classifier_model, &result, scores);
    for (int k = 0; k < CLASSIFIER_NUM_LABELS; ++k) {
        UH_ASSERT(ctx, scores[k] <= scores[result.label]);
        total += scores[k];
    }
    UH_ASSERT(ctx, total > 0.999f && total < 1.001f);
}

int main(void)
{
    uh_context ctx;
    uh_begin(&ctx);
    for (size_t i = 0; i < CLASSIFIER_GOLDEN_COUNT; ++i)
        UH_RUN_INDEXED(&ctx, tokenizer_matches_python, i);
    for (size_t i = 0; i < CLASSIFIER_GOLDEN_COUNT; ++i) UH_RUN_INDEXED(&ctx, logits_match_tflm, i);
    for (size_t i = 0; i < CLASSIFIER_GOLDEN_COUNT; ++i) UH_RUN_INDEXED(&ctx, text_to_label, i);
    return uh_end(&ctx);
}
