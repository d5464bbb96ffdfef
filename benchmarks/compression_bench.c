/* Classifies a model library's golden sentences through the runtime (tokenizer and backend) and
 * prints one line per sentence: `ok <instructions>` when the int8 logits and the label are the
 * golden ones, else `differs <instructions>`. Run in QEMU with -icount shift=0, where the counter
 * (toolchain/device/app/counter.c) counts guest instructions. Built by benchmarks/compression.py
 * with -DBENCH_HEADER='"<prefix>.h"' -DBENCH_PREFIX=<prefix>. */
#include <stdio.h>

#include BENCH_HEADER
#include "counter.h"

#define BENCH_CAT2(a, b) a##b
#define BENCH_CAT(a, b) BENCH_CAT2(a, b)
#define MODEL BENCH_CAT(BENCH_PREFIX, _model)
#define GOLDENS BENCH_CAT(BENCH_PREFIX, _goldens)
#define CONTEXT BENCH_CAT(BENCH_PREFIX, _context)

int main(void)
{
    static CONTEXT context; /* the arena: static storage, as an application keeps it */
    size_t g;
    int failures = 0;
    if (textclf_init(&MODEL, &context) != TEXTCLF_OK) {
        printf("init failed\n");
        return 1;
    }
    counter_start();
    for (g = 0; g < sizeof GOLDENS / sizeof GOLDENS[0]; ++g) {
        const textclf_golden *golden = &GOLDENS[g];
        textclf_result result;
        int32_t k;
        int same;
        const uint32_t start = counter_read();
        const textclf_status status =
            textclf_classify(&MODEL, &context, golden->text, golden->text_length, &result);
        const uint32_t spent = counter_elapsed(start);
        same = status == TEXTCLF_OK && result.label == golden->label;
        for (k = 0; k < MODEL.num_labels; ++k) same = same && result.logits[k] == golden->logits[k];
        failures += !same;
        printf("%s %lu\n", same ? "ok" : "differs", (unsigned long)spent);
    }
    return failures != 0;
}
