/* Input a person can type (or a serial line can garble) never breaks the classifier: defined
 * output, no crash, no out-of-bounds (the native_sanitize env runs this under ASan/UBSan). */
#include <string.h>

#include "classifier.h"
#include "unit_harness.h"

static classifier_context *shared_context(void)
{
    static classifier_context context;
    static int ready;
    if (!ready) ready = classifier_init(&context) == TEXTCLF_OK;
    return ready ? &context : NULL;
}

static void classify_ok(uh_context *ctx, const char *text, size_t length, textclf_result *result)
{
    classifier_context *context = shared_context();
    uh_check(ctx, context != NULL, __FILE__, __LINE__, "context");
    if (context == NULL) return;
    uh_check(ctx, classifier_classify(context, text, length, result) == TEXTCLF_OK, __FILE__,
             __LINE__, "classify failed");
    uh_check(ctx, result->label >= 0 && result->label < CLASSIFIER_NUM_LABELS, __FILE__, __LINE__,
             "label %d out of range", result->label);
    uh_check(ctx, result->token_count >= 2 && result->token_count <= CLASSIFIER_SEQUENCE_LENGTH,
             __FILE__, __LINE__, "token count %d", (int)result->token_count);
}

static void same_ids(uh_context *ctx, const char *a, size_t a_length, const char *b,
                     size_t b_length)
{
    int32_t ids_a[CLASSIFIER_SEQUENCE_LENGTH], ids_b[CLASSIFIER_SEQUENCE_LENGTH];
    tc_tokenize(&classifier_vocab, a, a_length, ids_a, CLASSIFIER_SEQUENCE_LENGTH);
    tc_tokenize(&classifier_vocab, b, b_length, ids_b, CLASSIFIER_SEQUENCE_LENGTH);
    UH_ASSERT_EQ_ARRAY(ctx, ids_b, ids_a, CLASSIFIER_SEQUENCE_LENGTH);
}

static void empty_line_is_cls_sep(uh_context *ctx)
{
    textclf_result result;
    classify_ok(ctx, "", 0, &result);
    UH_ASSERT_EQ_INT(ctx, 2, result.token_count);
}

static void only_punctuation(uh_context *ctx)
{
    static const char text[] = "?!?!... ,,, ;;; --- !!! ...";
    textclf_result result;
    classify_ok(ctx, text, sizeof text - 1, &result);
    UH_ASSERT_EQ_INT(ctx, 2 + 22, result.token_count); /* each of the 22 marks is a token */
}

static void line_far_longer_than_the_sequence(uh_context *ctx)
{
    /* Far longer than the sequence, yet small enough for a 16 KB micro:bit. */
    static char text[2000];
    for (size_t i = 0; i < sizeof text; ++i) text[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 5);
    textclf_result result;
    classify_ok(ctx, text, sizeof text, &result);
    UH_ASSERT_EQ_INT(ctx, CLASSIFIER_SEQUENCE_LENGTH, result.token_count);
}

static void one_enormous_word(uh_context *ctx)
{
    static char text[600];
    memset(text, 'x', sizeof text);
    textclf_result result;
    classify_ok(ctx, text, sizeof text, &result);
    UH_ASSERT_EQ_INT(ctx, 3, result.token_count); /* [CLS] [UNK] [SEP]: over 100 characters */
}

static void invalid_utf8_bytes_vanish(uh_context *ctx)
{
    static const char garbled[] = "good \xff\xfe mo\xc3vie \xed\xa0\x80 \xf0\x9f\x98 end\x80";
    static const char clean[] = "good  movie   end";
    same_ids(ctx, garbled, sizeof garbled - 1, clean, sizeof clean - 1);
    textclf_result result;
    classify_ok(ctx, garbled, sizeof garbled - 1, &result);
}

static void nul_bytes_vanish(uh_context *ctx)
{
    static const char with_nuls[] = "great\0 fi\0lm\0";
    static const char clean[] = "great film";
    same_ids(ctx, with_nuls, sizeof with_nuls - 1, clean, sizeof clean - 1);
}

static void only_invalid_bytes(uh_context *ctx)
{
    static const char text[] = "\xff\xfe\xfd\x80\x80\xc0\xaf";
    textclf_result result;
    classify_ok(ctx, text, sizeof text - 1, &result);
    UH_ASSERT_EQ_INT(ctx, 2, result.token_count);
}

int main(void)
{
    uh_context ctx;
    uh_begin(&ctx);
    UH_RUN(&ctx, empty_line_is_cls_sep);
    UH_RUN(&ctx, only_punctuation);
    UH_RUN(&ctx, line_far_longer_than_the_sequence);
    UH_RUN(&ctx, one_enormous_word);
    UH_RUN(&ctx, invalid_utf8_bytes_vanish);
    UH_RUN(&ctx, nul_bytes_vanish);
    UH_RUN(&ctx, only_invalid_bytes);
    return uh_end(&ctx);
}
