/* Console firmware for native and QEMU: reads lines on stdin (semihosting in QEMU), prints one
 * result line per input line (app.h: human console or machine protocol).
 * `pio run -e native -t exec` / `pio run -e qemu_m4 -t exec`. */
#include <stdio.h>

#include "app.h"
#include "counter.h"

/* Reads one line (without its '\n') into line[0..APP_LINE_BYTES); keeps NUL bytes. Returns the
 * length, or -1 at end of input. Bytes past the buffer are consumed and flagged as truncated. */
static long read_line(char *line, int *truncated)
{
    long length = 0;
    int c;
    *truncated = 0;
    while ((c = getchar()) != EOF && c != '\n') {
        if (length < APP_LINE_BYTES) {
            line[length++] = (char)c;
        } else {
            *truncated = 1;
        }
    }
    if (c == EOF && length == 0 && !*truncated) return -1;
    if (length > 0 && line[length - 1] == '\r') --length;
    return length;
}

int main(void)
{
    static classifier_context context; /* the model's working memory: static storage */
    static char line[APP_LINE_BYTES];
    static char out[APP_OUT_BYTES];
    app_state state = {&context, 0};
    int truncated;
    long length;

    counter_start();
    if (classifier_init(&context) != TEXTCLF_OK) {
        puts("error: the model could not be initialised");
        return 1;
    }
    app_boot(&state, out, sizeof out);
    puts(out);
    fflush(stdout);
    while ((length = read_line(line, &truncated)) >= 0) {
        app_line(&state, line, (size_t)length, truncated, out, sizeof out);
        puts(out);
        fflush(stdout);
    }
    return 0;
}
