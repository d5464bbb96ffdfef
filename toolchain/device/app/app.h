/* The classifier console shared by every platform: one line of text in, one result line out. */
#ifndef APP_H
#define APP_H

#include <stddef.h>

#include "textclf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line classified as is; longer lines are cut here (and reported as truncated). */
#define APP_LINE_BYTES 1024

/* Formats the banner printed once at start-up. */
int app_format_banner(char *out, size_t size);

/* Classifies one line and formats the result:
 *   label=positive scores=negative:0.071,positive:0.929 logits=-12,45 tokens=14 instructions=51240
 * (the last field is the platform's counter: instructions in QEMU, us elsewhere). */
int app_classify_line(textclf_context *context, const char *line, size_t length, int truncated,
                      char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* APP_H */
