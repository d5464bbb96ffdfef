/* The model on the device, against the workstation: every golden vector's token ids (Python
 * tokenizer) and int8 logits (official TFLite Micro interpreter) must match bit for bit. */
#include <string.h>

#include "tc_goldens.h"
#include "tc_vocab.h"
#include "textclf.h"
#include "tokenizer.h"
#include "unit_harness.h"

/* The context holds the arena: static storage, as the firmware keeps it. Tests run one at a time. */
static textclf_context *shared_context(void)
{
    static textclf_context context;
    static int ready;
    if (!ready) ready = textclf_init(&context) == TEXTCLF_OK;
    return ready ? &context : NULL;
}

static void tokenizer_matches_python(uh_context *ctx, size_t i)
{
    const tc_golden *golden = &tc_goldens[i];
    int32_t ids[TC_MODEL_SEQUENCE_LENGTH];
    tc_tokenize(&tc_model_vocab, golden->text, golden->text_length, ids, TC_MODEL_SEQUENCE_LENGTH);
    UH_ASSERT_EQ_ARRAY(ctx, golden->ids, ids, TC_MODEL_SEQUENCE_LENGTH);
}

static void logits_match_tflm(uh_context *ctx, size_t i)
{
    const tc_golden *golden = &tc_goldens[i];
    textclf_context *context = shared_context();
    UH_ASSERT(ctx, context != NULL);
    memcpy(tc_model_input(context->arena), golden->ids, sizeof(golden->ids));
    tc_model_invoke(context->arena);
    UH_ASSERT_EQ_ARRAY(ctx, golden->logits, tc_model_output(context->arena), TC_MODEL_NUM_LABELS);
}

static void text_to_label(uh_context *ctx, size_t i)
{
    const tc_golden *golden = &tc_goldens[i];
    textclf_context *context = shared_context();
    UH_ASSERT(ctx, context != NULL);
    textclf_result result;
    UH_ASSERT_EQ_INT(ctx, TEXTCLF_OK, textclf_classify(context, golden->text, golden->text_length, &result));
    UH_ASSERT_EQ_ARRAY(ctx, golden->logits, result.logits, TC_MODEL_NUM_LABELS);
    UH_ASSERT_EQ_INT(ctx, golden->label, result.label);
    float total = 0.0f;
    for (int k = 0; k < TC_MODEL_NUM_LABELS; ++k) total += result.scores[k];
    UH_ASSERT(ctx, total > 0.999f && total < 1.001f);
    UH_ASSERT(ctx, result.scores[result.label] >= result.scores[(result.label + 1) % TC_MODEL_NUM_LABELS]);
}

int main(void)
{
    uh_context ctx;
    uh_begin(&ctx);
    for (size_t i = 0; i < TC_GOLDEN_COUNT; ++i) UH_RUN_INDEXED(&ctx, tokenizer_matches_python, i);
    for (size_t i = 0; i < TC_GOLDEN_COUNT; ++i) UH_RUN_INDEXED(&ctx, logits_match_tflm, i);
    for (size_t i = 0; i < TC_GOLDEN_COUNT; ++i) UH_RUN_INDEXED(&ctx, text_to_label, i);
    return uh_end(&ctx);
}
