/* The compiled backend: tokenizer -> generated graph (tc_model_graph.c) -> int8 logits. */
#ifndef TEXTCLF_BACKEND_TFLM

#include <string.h>

#include "tc_vocab.h"
#include "textclf.h"
#include "tokenizer.h"

textclf_status textclf_init(textclf_context *context)
{
    /* The plan needs no initialisation; zeroing only makes the first run's memory reproducible. */
    memset(context->arena, 0, sizeof(context->arena));
    return TEXTCLF_OK;
}

textclf_status textclf_classify(textclf_context *context, const char *text, size_t length,
                                textclf_result *result)
{
    int32_t *ids = tc_model_input(context->arena);
    result->token_count = tc_tokenize(&tc_model_vocab, text, length, ids, TC_MODEL_INPUT_LENGTH);
    tc_model_invoke(context->arena);
    memcpy(result->logits, tc_model_output(context->arena), sizeof(result->logits));
    textclf_finish_result(result);
    return TEXTCLF_OK;
}

const char *textclf_backend_name(void)
{
    return "compiled";
}

#endif /* TEXTCLF_BACKEND_TFLM */
