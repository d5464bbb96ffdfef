/* The runtime around any model: tokenizer -> the model's backend -> int8 logits -> label. */
#include "textclf.h"

#include <math.h>
#include <string.h>

textclf_status textclf_init(const textclf_model *model, void *context)
{
    return model->init(context);
}

textclf_status textclf_classify(const textclf_model *model, void *context, const char *text,
                                size_t length, textclf_result *result)
{
    int32_t *ids = model->input(context);
    const int8_t *logits;
    textclf_status status;
    int32_t k;
    result->token_count =
        (int32_t)tc_tokenize(model->vocab, text, length, ids, (size_t)model->sequence_length);
    status = model->invoke(context);
    if (status != TEXTCLF_OK) {
        return status;
    }
    logits = model->output(context);
    memcpy(result->logits, logits, (size_t)model->num_labels);
    /* First maximum wins, as numpy's argmax does on the workstation. */
    result->label = 0;
    for (k = 1; k < model->num_labels; ++k) {
        if (logits[k] > logits[result->label]) {
            result->label = k;
        }
    }
    return TEXTCLF_OK;
}

void textclf_scores(const textclf_model *model, const textclf_result *result, float *scores)
{
    float total = 0.0f;
    int32_t k;
    /* Shifted by the maximum logit so that expf cannot overflow. */
    for (k = 0; k < model->num_labels; ++k) {
        const float delta =
            (float)(result->logits[k] - result->logits[result->label]) * model->output_scale;
        scores[k] = expf(delta);
        total += scores[k];
    }
    for (k = 0; k < model->num_labels; ++k) {
        scores[k] /= total;
    }
}

const char *textclf_label_name(const textclf_model *model, int32_t label)
{
    if (label < 0 || label >= model->num_labels) {
        return "?";
    }
    return model->labels[label];
}
