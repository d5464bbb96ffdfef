/* textclf: text classification on the device, one sentence at a time.
 *
 * This runtime library (tokenizer, int8 kernels, this API) holds no model. Each model is a library
 * of its own, exported by `textclf export` with a prefix of your choice, say `sentiment`; its
 * header `sentiment.h` declares the model and a typed context:
 *
 *     #include "sentiment.h"
 *     static sentiment_context context;           // the model's working memory, static storage
 *     sentiment_init(&context);
 *     textclf_result result;
 *     sentiment_classify(&context, text, strlen(text), &result);
 *     printf("%s\n", sentiment_label(result.label));
 *
 * Any number of models link into one firmware; they share this runtime. Two backends hide behind
 * the same model descriptor: the compiled graph (C calling the kernels, a static memory plan) and
 * TensorFlow Lite Micro's interpreter (C++, for models exported with `--backend tflm`).
 *
 * C99, no malloc, no global mutable state: the caller owns every context. */
#ifndef TEXTCLF_H
#define TEXTCLF_H

#include <stddef.h>
#include <stdint.h>

#include "textclf_tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this runtime, and of the interface between it and the generated model sources:
 * a model library refuses to compile against a runtime with another TEXTCLF_ABI_VERSION. */
#define TEXTCLF_VERSION "0.2.0"
#define TEXTCLF_ABI_VERSION 2

/* The most labels a model may have (textclf export refuses more). */
#define TEXTCLF_MAX_LABELS 64

#if defined(__GNUC__) || defined(__clang__)
#define TEXTCLF_ALIGNED(bytes) __attribute__((aligned(bytes)))
#else
#error "textclf needs GCC or Clang attribute syntax for aligned storage"
#endif

typedef enum {
    TEXTCLF_OK = 0,
    TEXTCLF_ERROR_MODEL = 1,  /* the model could not be prepared (TFLM: schema, ops, arena) */
    TEXTCLF_ERROR_INVOKE = 2, /* inference failed */
} textclf_status;

/* A model as its exported library describes it. The backend functions work on the model's
 * context, a struct the library's header defines (`<prefix>_context`). */
typedef struct textclf_model {
    const char *name;
    const char *backend;      /* "compiled" or "tflite-micro" */
    const char *model_sha256; /* of the .tflite the library was exported from, lowercase hex */
    int32_t num_labels;
    const char *const *labels;
    int32_t sequence_length; /* token ids per classification, [CLS] and [SEP] included */
    float output_scale;      /* real logit = output_scale * (int8 logit - output_zero_point) */
    int32_t output_zero_point;
    const tc_vocab *vocab;
    textclf_status (*init)(void *context);
    int32_t *(*input)(void *context);
    textclf_status (*invoke)(void *context);
    const int8_t *(*output)(const void *context);
} textclf_model;

typedef struct {
    int32_t label;                     /* index into the model's labels */
    int8_t logits[TEXTCLF_MAX_LABELS]; /* the model's int8 output, bit-exact with TFLite Micro */
    int32_t token_count;               /* ids before padding, [CLS] and [SEP] included */
} textclf_result;

/* A sentence with the token ids of the Python tokenizer and the int8 logits the official TFLite
 * Micro interpreter produced for it: exported with each model to check a device against. */
typedef struct {
    const char *text;
    size_t text_length; /* bytes of UTF-8 */
    const int32_t *ids; /* sequence_length of them */
    const int8_t *logits;
    int32_t label;
} textclf_golden;

/* Prepares a context for the model: once, before the first classification. */
textclf_status textclf_init(const textclf_model *model, void *context);

/* Classifies `length` bytes of UTF-8 text (any bytes are accepted: invalid sequences and NULs are
 * dropped as the Python tokenizer does after decoding with errors="replace"). */
textclf_status textclf_classify(const textclf_model *model, void *context, const char *text,
                                size_t length, textclf_result *result);

/* The softmax of the dequantized logits: num_labels floats into `scores`. */
void textclf_scores(const textclf_model *model, const textclf_result *result, float *scores);

/* The label's name, or "?" for an index the model does not have. */
const char *textclf_label_name(const textclf_model *model, int32_t label);

#ifdef __cplusplus
}
#endif

#endif /* TEXTCLF_H */
