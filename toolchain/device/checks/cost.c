/* What one classification costs on a core: reads text lines on stdin (semihosting in QEMU) and
 * prints "<tokens> <cost>" per line, the cost in the platform counter's unit (instructions in QEMU
 * under -icount; see app/counter.c). `textclf search` runs it for every candidate before training:
 * the instructions do not depend on the weights' values. Built with the model library of the
 * prefix `classifier`. */
#include <stdio.h>

#include "classifier.h"
#include "counter.h"

#define LINE_BYTES 1024

int main(void)
{
    static classifier_context context;
    static char line[LINE_BYTES];
    size_t length = 0;
    int c;
    counter_start();
    if (classifier_init(&context) != TEXTCLF_OK) return 1;
    while ((c = getchar()) != EOF) {
        if (c != '\n') {
            if (length < LINE_BYTES) line[length++] = (char)c;
            continue;
        }
        {
            textclf_result result;
            uint32_t start = counter_read();
            if (classifier_classify(&context, line, length, &result) != TEXTCLF_OK) return 1;
            printf("%ld %lu\n", (long)result.token_count, (unsigned long)counter_elapsed(start));
        }
        length = 0;
    }
    return 0;
}
