/* The vocabulary layout before front coding (textclf ABI 2): the baseline of
 * benchmarks/vocabulary.py (vocabulary_flat.c). */
#ifndef VOCABULARY_FLAT_H
#define VOCABULARY_FLAT_H

#include "tokenizer/internal.h"

typedef struct {
    /* Every piece's UTF-8 bytes back to back (continuation pieces without "##"), in id order. */
    const uint8_t *piece_bytes;
    /* Low 16 bits of each piece's start in piece_bytes, then of the end: piece count + 1 entries. */
    const uint16_t *piece_starts;
    /* start_wraps[k]: the first piece_starts index whose start is >= (k + 1) * 65536. */
    const uint32_t *start_wraps;
    uint32_t wrap_count;
    uint32_t initial_count;
    uint32_t continuation_count;
    const tc_unicode_tables *unicode;
} flat_vocab;

size_t flat_tokenize(const flat_vocab *vocab, const char *text, size_t length, int32_t *ids,
                     size_t sequence_length);

#endif /* VOCABULARY_FLAT_H */
