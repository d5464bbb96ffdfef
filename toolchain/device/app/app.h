/* The classifier console every platform shares: one line of text in, one result line out.
 *
 * Two modes on one serial line (stdin/stdout on the host and in QEMU):
 *   human (at boot): `label=positive scores=negative:0.003,positive:0.997 logits=-122,122 tokens=9
 *       instructions=51240` per line, for a person at a terminal;
 *   protocol (after the command line "\x01protocol"): machine-readable lines for `textclf validate`
 *       (README, "Serial protocol"):
 *       H textclf-protocol=1 model=<name> sha256=<hex> backend=<b> core=<c> clock_hz=<n>
 *         mode=<human|protocol> labels=<k> sequence=<n> unit=<instructions|us> line_bytes=<n>
 *                                                              (handshake: at boot and on switching)
 *       R <label> <tokens> <cost> <logit>,<logit>,... <ids crc32>  (one per input line)
 *       E <code> <reason>                                        (a line that gets no result)
 * "\x01human" switches back. The model is the firmware's model library, exported with the prefix
 * `classifier`. */
#ifndef APP_H
#define APP_H

#include <stddef.h>

#include "classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line classified; a longer one is classified cut here (human mode, reported as truncated)
 * or answered with an error line (protocol mode). */
#define APP_LINE_BYTES 1024
/* Room for any output line. */
#define APP_OUT_BYTES 1024
#define APP_PROTOCOL_VERSION 1

/* Lines that start with this byte are commands, not text (the tokenizer drops control characters,
 * so no sentence means anything with it). */
#define APP_COMMAND_BYTE '\x01'

#define APP_ERROR_LINE_TOO_LONG 1
#define APP_ERROR_UNKNOWN_COMMAND 2
#define APP_ERROR_CLASSIFY 3

typedef struct {
    classifier_context *context;
    int protocol; /* 0: human console, 1: machine protocol */
} app_state;

/* Writes the lines to print at boot (handshake, then the human banner) into out; returns their
 * length. */
int app_boot(const app_state *state, char *out, size_t size);

/* Handles one input line (without its '\n'); `truncated` says bytes past APP_LINE_BYTES were
 * dropped. Writes the reply line into out; returns its length. */
int app_line(app_state *state, const char *line, size_t length, int truncated, char *out,
             size_t size);

#ifdef __cplusplus
}
#endif

#endif /* APP_H */
