#include "app.h"

#include <stdio.h>
#include <string.h>

#include "counter.h"

/* The core and clock the firmware runs on, for the handshake; the platforms' builders define
 * them from the board JSON, Arduino from its F_CPU. */
#ifndef TEXTCLF_CORE
#define TEXTCLF_CORE "unknown"
#endif
#ifndef TEXTCLF_CLOCK_HZ
#ifdef F_CPU
#define TEXTCLF_CLOCK_HZ F_CPU
#else
#define TEXTCLF_CLOCK_HZ 0
#endif
#endif

/* Appends printf-style text to out[used..size) (a function's `out`, `size` and `used`), keeping
 * `used` inside the buffer: a line too long for it is cut, never overrun. */
#define APPEND(...)                                                                        \
    do {                                                                                   \
        if (used >= 0 && (size_t)used < size) {                                            \
            int written_ = snprintf(out + used, size - (size_t)used, __VA_ARGS__);         \
            if (written_ > 0)                                                              \
                used = (size_t)(used + written_) < size ? used + written_ : (int)size - 1; \
        }                                                                                  \
    } while (0)

/* A name as one token of the handshake: bytes outside [A-Za-z0-9._-] as %XX. */
static int append_escaped(char *out, size_t size, int used, const char *text)
{
    for (; *text != '\0'; ++text) {
        unsigned char c = (unsigned char)*text;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '-') {
            APPEND("%c", c);
        } else {
            APPEND("%%%02X", (unsigned)c);
        }
    }
    return used;
}

static int handshake(const app_state *state, char *out, size_t size)
{
    const textclf_model *model = &classifier_model;
    int used = 0;
    APPEND("H textclf-protocol=%d model=", APP_PROTOCOL_VERSION);
    used = append_escaped(out, size, used, model->name);
    APPEND(" sha256=%s backend=%s core=%s clock_hz=%lu", model->model_sha256, model->backend,
           TEXTCLF_CORE, (unsigned long)TEXTCLF_CLOCK_HZ);
    APPEND(" mode=%s", state->protocol ? "protocol" : "human");
    APPEND(" labels=%ld sequence=%ld unit=%s line_bytes=%d", (long)model->num_labels,
           (long)model->sequence_length, counter_unit(), APP_LINE_BYTES);
    return used;
}

int app_boot(const app_state *state, char *out, size_t size)
{
    const textclf_model *model = &classifier_model;
    int used = handshake(state, out, size);
    int k;
    APPEND("\ntextclf ready: model=%s backend=%s labels=", model->name, model->backend);
    for (k = 0; k < model->num_labels; ++k) {
        APPEND("%s%s", k ? "," : "", textclf_label_name(model, k));
    }
    return used;
}

/* Scores as integers in thousandths: newlib-nano's printf has no floating point. */
static long thousandths(float score)
{
    return (long)(score * 1000.0f + 0.5f);
}

static int error_line(const app_state *state, int code, const char *reason, char *out, size_t size)
{
    int used = 0;
    if (state->protocol) {
        APPEND("E %d %s", code, reason);
    } else {
        APPEND("error: %s", reason);
    }
    return used;
}

/* CRC-32 (IEEE 802.3, as zlib.crc32) of the token ids as little-endian int32 bytes: lets the
 * workstation check the device's ids against the Python tokenizer's without sending them all. */
static uint32_t ids_crc32(const int32_t *ids, int32_t count)
{
    uint32_t crc = 0xFFFFFFFFu;
    int32_t i;
    int byte, bit;
    for (i = 0; i < count; ++i) {
        for (byte = 0; byte < 4; ++byte) {
            crc ^= ((uint32_t)ids[i] >> (8 * byte)) & 0xFFu;
            for (bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static int command(app_state *state, const char *line, size_t length, char *out, size_t size)
{
    if (length == 9 && memcmp(line + 1, "protocol", 8) == 0) {
        state->protocol = 1;
        return handshake(state, out, size);
    }
    if (length == 6 && memcmp(line + 1, "human", 5) == 0) {
        state->protocol = 0;
        int used = 0;
        APPEND("human console");
        return used;
    }
    return error_line(state, APP_ERROR_UNKNOWN_COMMAND, "unknown-command", out, size);
}

int app_line(app_state *state, const char *line, size_t length, int truncated, char *out,
             size_t size)
{
    const textclf_model *model = &classifier_model;
    textclf_result result;
    float scores[TEXTCLF_MAX_LABELS];
    uint32_t start, cost;
    int used = 0;
    int k;
    if (length > 0 && line[0] == APP_COMMAND_BYTE) return command(state, line, length, out, size);
    if (truncated && state->protocol) {
        return error_line(state, APP_ERROR_LINE_TOO_LONG, "line-too-long", out, size);
    }
    start = counter_read();
    if (textclf_classify(model, state->context, line, length, &result) != TEXTCLF_OK) {
        return error_line(state, APP_ERROR_CLASSIFY, "classify-failed", out, size);
    }
    cost = counter_elapsed(start);
    if (state->protocol) {
        /* The ids again, outside the timed call: the graph may reuse its input's memory. */
        static int32_t ids[CLASSIFIER_SEQUENCE_LENGTH];
        tc_tokenize(model->vocab, line, length, ids, CLASSIFIER_SEQUENCE_LENGTH);
        APPEND("R %ld %ld %lu", (long)result.label, (long)result.token_count, (unsigned long)cost);
        for (k = 0; k < model->num_labels; ++k) {
            APPEND("%c%d", k ? ',' : ' ', result.logits[k]);
        }
        APPEND(" %08lx", (unsigned long)ids_crc32(ids, CLASSIFIER_SEQUENCE_LENGTH));
        return used;
    }
    textclf_scores(model, &result, scores);
    APPEND("label=%s scores=", textclf_label_name(model, result.label));
    for (k = 0; k < model->num_labels; ++k) {
        long milli = thousandths(scores[k]);
        APPEND("%s%s:%ld.%03ld", k ? "," : "", textclf_label_name(model, k), milli / 1000,
               milli % 1000);
    }
    for (k = 0; k < model->num_labels; ++k) {
        APPEND("%s%d", k ? "," : " logits=", result.logits[k]);
    }
    APPEND(" tokens=%ld %s=%lu%s", (long)result.token_count, counter_unit(), (unsigned long)cost,
           truncated ? " truncated=1" : "");
    return used;
}
