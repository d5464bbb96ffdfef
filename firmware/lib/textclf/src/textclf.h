/* Text classification on the device: one interface, two backends.
 *
 *   compiled (default; native, QEMU, any board): the generated graph (tc_model_graph.c) calling the
 *       int8 kernel library, with a static memory plan: no interpreter, no flatbuffer parsing.
 *   TFLM (define TEXTCLF_BACKEND_TFLM): TensorFlow Lite Micro's MicroInterpreter on the .tflite
 *       array, with the generated op resolver (library textclf_tflm, C++).
 *
 * The caller owns the context (no hidden globals, no malloc); keep it in static storage, it holds
 * the whole tensor arena. */
#ifndef TEXTCLF_H
#define TEXTCLF_H

#include <stddef.h>
#include <stdint.h>

#include "tc_model_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TEXTCLF_OK = 0,
    TEXTCLF_ERROR_MODEL = 1,  /* the model could not be prepared (TFLM: version, ops, arena) */
    TEXTCLF_ERROR_INVOKE = 2, /* inference failed */
} textclf_status;

typedef struct {
    int label;                           /* index into tc_model_labels */
    int8_t logits[TC_MODEL_NUM_LABELS];  /* the model's int8 output, bit-exact with TFLite Micro */
    float scores[TC_MODEL_NUM_LABELS];   /* softmax of the dequantized logits */
    size_t token_count;                  /* ids before padding, [CLS] and [SEP] included */
} textclf_result;

#ifdef __cplusplus
}
#endif

#if defined(TEXTCLF_BACKEND_TFLM) && defined(__cplusplus)
#include "textclf_tflm.h"
#elif defined(TEXTCLF_BACKEND_TFLM)
/* C sources of a TFLM build (textclf_result.c) only pass the context around: defined in C++. */
typedef struct textclf_context textclf_context;
#else
#include "tc_model_graph.h"
/* The compiled backend's whole working memory: the static plan's arena. */
typedef struct {
    uint8_t arena[TC_MODEL_ARENA_BYTES] __attribute__((aligned(16)));
} textclf_context;
#endif

#ifdef __cplusplus
extern "C" {
#endif

textclf_status textclf_init(textclf_context *context);

/* Classifies `length` bytes of UTF-8 text (any bytes are accepted: invalid sequences and NULs are
 * dropped as the Python tokenizer does after decoding with errors="replace"). */
textclf_status textclf_classify(textclf_context *context, const char *text, size_t length,
                                textclf_result *result);

/* Fills label and scores from result->logits (shared by both backends). */
void textclf_finish_result(textclf_result *result);

const char *textclf_label_name(int label);
const char *textclf_backend_name(void);

#ifdef __cplusplus
}
#endif

#endif /* TEXTCLF_H */
