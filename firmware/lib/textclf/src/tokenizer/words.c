/* The normalizer and pre-tokenizer, streamed: clean_text, CJK isolation, NFD, dropping nonspacing
 * marks, lowercasing, then splitting on whitespace and around punctuation, one word at a time.
 *
 * Each code point is looked up on its own; the only interaction between characters is canonical
 * ordering, which the reference applies to the decomposed text before it drops marks: a kept
 * non-starter moves before the earlier non-starters of its run that have a higher combining class.
 * Runs end at every starter, including dropped marks of class 0 (TC_CLASS_RUN_BREAK); whitespace and
 * isolated characters are starters, so a run never crosses a word boundary. */
#include <string.h>

#include "internal.h"

static size_t utf8_encode(uint32_t code_point, uint8_t *out)
{
    if (code_point < 0x80) {
        out[0] = (uint8_t)code_point;
        return 1;
    }
    if (code_point < 0x800) {
        out[0] = (uint8_t)(0xC0 | code_point >> 6);
        out[1] = (uint8_t)(0x80 | (code_point & 0x3F));
        return 2;
    }
    if (code_point < 0x10000) {
        out[0] = (uint8_t)(0xE0 | code_point >> 12);
        out[1] = (uint8_t)(0x80 | (code_point >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (code_point & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | code_point >> 18);
    out[1] = (uint8_t)(0x80 | (code_point >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (code_point >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (code_point & 0x3F));
    return 4;
}

/* Start of the character that ends at `end` in well-formed UTF-8. */
static size_t previous_char_start(const uint8_t *bytes, size_t end)
{
    do --end;
    while ((bytes[end] & 0xC0) == 0x80);
    return end;
}

/* Appends a normalized character; *run_start is where the current run of non-starters begins. */
static void add_char(tc_word *word, const tc_unicode_tables *unicode, uint32_t code_point,
                     size_t *run_start)
{
    uint8_t encoded[4];
    size_t size, position = word->byte_count;
    unsigned combining_class;

    if (++word->char_count > TC_MAX_WORD_CHARS)
        return; /* the word is [UNK] whatever else it holds */
    combining_class = tc_unicode_combining_class(unicode, code_point);
    if (combining_class != 0) {
        while (position > *run_start) {
            size_t previous = previous_char_start(word->bytes, position);
            size_t at = previous;
            if (tc_unicode_combining_class(unicode, tc_utf8_decode(word->bytes, position, &at)) <=
                combining_class)
                break;
            position = previous;
        }
    }
    size = utf8_encode(code_point, encoded);
    memmove(word->bytes + position + size, word->bytes + position, word->byte_count - position);
    memcpy(word->bytes + position, encoded, size);
    word->byte_count += size;
    if (combining_class == 0) *run_start = word->byte_count;
}

void tc_word_reader_init(tc_word_reader *reader, const tc_unicode_tables *unicode, const char *text,
                         size_t length)
{
    reader->unicode = unicode;
    reader->text = (const uint8_t *)text;
    reader->length = length;
    reader->position = 0;
    reader->pending = 0;
}

int tc_read_word(tc_word_reader *reader, tc_word *word)
{
    uint32_t mapped[TC_MAX_MAPPED];
    size_t run_start = 0, count, i;

    word->byte_count = 0;
    word->char_count = 0;
    if (reader->pending != 0) {
        add_char(word, reader->unicode, reader->pending, &run_start);
        reader->pending = 0;
        return 1;
    }
    while (reader->position < reader->length) {
        uint32_t code_point = tc_utf8_decode(reader->text, reader->length, &reader->position);
        switch (tc_unicode_class(reader->unicode, code_point)) {
        case TC_CLASS_WORD:
            count = tc_unicode_map(reader->unicode, code_point, mapped);
            for (i = 0; i < count; ++i) add_char(word, reader->unicode, mapped[i], &run_start);
            break;
        case TC_CLASS_ISOLATED:
            tc_unicode_map(reader->unicode, code_point, mapped);
            if (word->char_count > 0) {
                reader->pending = mapped[0];
                return 1;
            }
            add_char(word, reader->unicode, mapped[0], &run_start);
            return 1;
        case TC_CLASS_SPACE:
            if (word->char_count > 0) return 1;
            break;
        case TC_CLASS_RUN_BREAK:
            run_start = word->byte_count;
            break;
        default: /* TC_CLASS_IGNORED */
            break;
        }
    }
    return word->char_count > 0;
}
