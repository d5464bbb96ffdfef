/* The smallest program that classifies with a model: what `textclf export --target` links for the
 * target's core to measure the flash and RAM the model and the runtime take. Built twice, with
 * and without the model (-DFIT_BASELINE); the difference is what the model and the runtime add to
 * any firmware. -DFIT_HEADER='"<prefix>.h"' -DFIT_PREFIX=<prefix>. */
#include <stddef.h>

#ifndef FIT_BASELINE
#include FIT_HEADER

#define FIT_CAT2(a, b) a##b
#define FIT_CAT(a, b) FIT_CAT2(a, b)
#define FIT_MODEL FIT_CAT(FIT_PREFIX, _model)
#define FIT_CONTEXT FIT_CAT(FIT_PREFIX, _context)
#endif

/* Read through a volatile so that the compiler cannot see which text is classified. */
static const char *volatile fit_text = "a sentence";
static volatile size_t fit_length = 10;

int main(void)
{
#ifndef FIT_BASELINE
    static FIT_CONTEXT context;
    textclf_result result;
    if (textclf_init(&FIT_MODEL, &context) != TEXTCLF_OK) {
        return 1;
    }
    if (textclf_classify(&FIT_MODEL, &context, fit_text, fit_length, &result) != TEXTCLF_OK) {
        return 1;
    }
    return (int)result.label;
#else
    return (int)fit_length + (fit_text != NULL);
#endif
}
