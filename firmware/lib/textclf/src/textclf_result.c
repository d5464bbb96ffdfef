/* Backend-independent post-processing of the int8 logits. */
#include <math.h>

#include "tc_model_graph.h" /* output quantization, whichever backend runs the graph */
#include "textclf.h"

void textclf_finish_result(textclf_result *result)
{
    /* First maximum wins, as numpy's argmax does on the workstation. */
    int best = 0;
    for (int k = 1; k < TC_MODEL_NUM_LABELS; ++k) {
        if (result->logits[k] > result->logits[best]) best = k;
    }
    result->label = best;
    /* Softmax of the dequantized logits, shifted by the maximum so expf cannot overflow. */
    float total = 0.0f;
    for (int k = 0; k < TC_MODEL_NUM_LABELS; ++k) {
        float delta = (float)(result->logits[k] - result->logits[best]) * TC_MODEL_OUTPUT_SCALE;
        result->scores[k] = expf(delta);
        total += result->scores[k];
    }
    for (int k = 0; k < TC_MODEL_NUM_LABELS; ++k) result->scores[k] /= total;
}

const char *textclf_label_name(int label)
{
    if (label < 0 || label >= TC_MODEL_NUM_LABELS) return "?";
    return tc_model_labels[label];
}
