/* Internal to the tokenizer (and its tests): UTF-8 decoding, Unicode table lookups, and the
 * normalizer + pre-tokenizer as a reader of normalized words. */
#ifndef TC_TOKENIZER_INTERNAL_H
#define TC_TOKENIZER_INTERNAL_H

#include "../textclf_tokenizer.h"

#define TC_REPLACEMENT_CHARACTER 0xFFFDu
/* A stored word is at most TC_MAX_WORD_CHARS characters of up to 4 UTF-8 bytes; longer words only
 * count their characters (they become [UNK]). */
#define TC_MAX_WORD_BYTES (TC_MAX_WORD_CHARS * 4)

typedef struct {
    uint8_t bytes[TC_MAX_WORD_BYTES]; /* normalized UTF-8 */
    size_t byte_count;
    size_t
        char_count; /* may exceed TC_MAX_WORD_CHARS: then bytes holds the first TC_MAX_WORD_CHARS */
} tc_word;

typedef struct {
    const tc_unicode_tables *unicode;
    const uint8_t *text;
    size_t length;
    size_t position;
    uint32_t pending; /* an isolated character that ended the previous word, 0 when none */
} tc_word_reader;

/* The next code point at *position (which must be < length), advancing *position past it; an
 * ill-formed maximal subpart gives TC_REPLACEMENT_CHARACTER. */
uint32_t tc_utf8_decode(const uint8_t *text, size_t length, size_t *position);

unsigned tc_unicode_class(const tc_unicode_tables *unicode, uint32_t code_point);
/* Writes the 1..TC_MAX_MAPPED code points `code_point` normalizes to; returns how many. */
size_t tc_unicode_map(const tc_unicode_tables *unicode, uint32_t code_point,
                      uint32_t mapped[TC_MAX_MAPPED]);
unsigned tc_unicode_combining_class(const tc_unicode_tables *unicode, uint32_t code_point);

void tc_word_reader_init(tc_word_reader *reader, const tc_unicode_tables *unicode, const char *text,
                         size_t length);
/* Reads the next word of the normalized, pre-tokenized text into *word; returns 0 at the end. */
int tc_read_word(tc_word_reader *reader, tc_word *word);

#endif /* TC_TOKENIZER_INTERNAL_H */
