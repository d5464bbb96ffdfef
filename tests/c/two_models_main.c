/* Two exported models in one program, sharing one runtime: `sentiment` and `mood` each classify
 * their own golden sentences; one line of int8 logits per sentence, model by model. */
#include <stdio.h>

#include "mood.h"
#include "sentiment.h"

static int print_goldens(const char *name, const textclf_model *model, void *context,
                         const textclf_golden *goldens, size_t count)
{
    size_t g;
    int32_t k;
    if (textclf_init(model, context) != TEXTCLF_OK) return 1;
    for (g = 0; g < count; ++g) {
        textclf_result result;
        if (textclf_classify(model, context, goldens[g].text, goldens[g].text_length, &result) !=
            TEXTCLF_OK) {
            return 1;
        }
        printf("%s", name);
        for (k = 0; k < model->num_labels; ++k) printf(" %d", result.logits[k]);
        printf("\n");
    }
    return 0;
}

int main(void)
{
    static sentiment_context sentiment;
    static mood_context mood;
    int status = print_goldens("sentiment", &sentiment_model, &sentiment, sentiment_goldens,
                               SENTIMENT_GOLDEN_COUNT);
    status |= print_goldens("mood", &mood_model, &mood, mood_goldens, MOOD_GOLDEN_COUNT);
    return status;
}
