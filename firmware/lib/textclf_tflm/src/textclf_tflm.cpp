/* The TFLite Micro backend: tokenizer -> MicroInterpreter on the .tflite array -> int8 logits.
 * Same interface and results as the compiled backend (textclf.h); the compiled backend is checked
 * bit for bit against the same interpreter (pip tflite-micro) on the workstation. */
#if defined(TEXTCLF_BACKEND_TFLM)

#include <new>
#include <string.h>

#include "generated/tc_model_tflite.h"
#include "tc_vocab.h"
#include "textclf.h"
#include "tokenizer.h"
#include "tensorflow/lite/schema/schema_generated.h"

/* Call once per context: the resolver refuses a second registration of the same operator. */
extern "C" textclf_status textclf_init(textclf_context *context)
{
    const tflite::Model *model = tflite::GetModel(tc_model_tflite);
    if (model->version() != TFLITE_SCHEMA_VERSION) return TEXTCLF_ERROR_MODEL;
    if (tc_register_ops(context->resolver) != kTfLiteOk) return TEXTCLF_ERROR_MODEL;
    context->interpreter = new (context->interpreter_storage)
        tflite::MicroInterpreter(model, context->resolver, context->arena, sizeof(context->arena));
    if (context->interpreter->AllocateTensors() != kTfLiteOk) return TEXTCLF_ERROR_MODEL;
    const TfLiteTensor *input = context->interpreter->input(0);
    const TfLiteTensor *output = context->interpreter->output(0);
    if (input->type != kTfLiteInt32 || input->bytes != TC_MODEL_SEQUENCE_LENGTH * sizeof(int32_t) ||
        output->type != kTfLiteInt8 || output->bytes != TC_MODEL_NUM_LABELS) {
        return TEXTCLF_ERROR_MODEL;
    }
    return TEXTCLF_OK;
}

extern "C" textclf_status textclf_classify(textclf_context *context, const char *text, size_t length,
                                           textclf_result *result)
{
    TfLiteTensor *input = context->interpreter->input(0);
    result->token_count =
        tc_tokenize(&tc_model_vocab, text, length, input->data.i32, TC_MODEL_SEQUENCE_LENGTH);
    if (context->interpreter->Invoke() != kTfLiteOk) return TEXTCLF_ERROR_INVOKE;
    memcpy(result->logits, context->interpreter->output(0)->data.int8, TC_MODEL_NUM_LABELS);
    textclf_finish_result(result);
    return TEXTCLF_OK;
}

extern "C" const char *textclf_backend_name(void)
{
    return "tflite-micro";
}

#endif /* TEXTCLF_BACKEND_TFLM */
