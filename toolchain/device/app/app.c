#include "app.h"

#include <stdio.h>

#include "counter.h"

int app_format_banner(char *out, size_t size)
{
    int used = snprintf(out, size, "textclf ready: model=%s backend=%s labels=", TC_MODEL_NAME,
                        textclf_backend_name());
    for (int k = 0; k < TC_MODEL_NUM_LABELS && used >= 0 && (size_t)used < size; ++k) {
        used += snprintf(out + used, size - (size_t)used, "%s%s", k ? "," : "", textclf_label_name(k));
    }
    return used;
}

/* Scores as integers in thousandths: newlib-nano's printf has no floating point. */
static int thousandths(float score)
{
    return (int)(score * 1000.0f + 0.5f);
}

int app_classify_line(textclf_context *context, const char *line, size_t length, int truncated,
                      char *out, size_t size)
{
    textclf_result result;
    uint32_t start = counter_read();
    textclf_status status = textclf_classify(context, line, length, &result);
    uint32_t cost = counter_elapsed(start);
    if (status != TEXTCLF_OK) return snprintf(out, size, "error=%d", (int)status);

    int used = snprintf(out, size, "label=%s scores=", textclf_label_name(result.label));
    for (int k = 0; k < TC_MODEL_NUM_LABELS && used >= 0 && (size_t)used < size; ++k) {
        int milli = thousandths(result.scores[k]);
        used += snprintf(out + used, size - (size_t)used, "%s%s:%d.%03d", k ? "," : "",
                         textclf_label_name(k), milli / 1000, milli % 1000);
    }
    for (int k = 0; k < TC_MODEL_NUM_LABELS && used >= 0 && (size_t)used < size; ++k) {
        used += snprintf(out + used, size - (size_t)used, "%s%d", k ? "," : " logits=", result.logits[k]);
    }
    if (used >= 0 && (size_t)used < size) {
        used += snprintf(out + used, size - (size_t)used, " tokens=%u %s=%lu%s",
                         (unsigned)result.token_count, counter_unit(), (unsigned long)cost,
                         truncated ? " truncated=1" : "");
    }
    return used;
}
