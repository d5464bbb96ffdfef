/* A user's program around an exported model library (prefix `sentiment`): prints each golden
 * sentence's int8 logits as the device computes them from the text, one line per sentence. */
#include <stdio.h>

#include "sentiment.h"

int main(void)
{
    static sentiment_context context;
    size_t g;
    int32_t k;
    if (sentiment_init(&context) != TEXTCLF_OK) return 1;
    for (g = 0; g < SENTIMENT_GOLDEN_COUNT; ++g) {
        textclf_result result;
        if (sentiment_classify(&context, sentiment_goldens[g].text,
                               sentiment_goldens[g].text_length, &result) != TEXTCLF_OK) {
            return 1;
        }
        printf("sentiment");
        for (k = 0; k < SENTIMENT_NUM_LABELS; ++k) printf(" %d", result.logits[k]);
        printf("\n");
    }
    return 0;
}
