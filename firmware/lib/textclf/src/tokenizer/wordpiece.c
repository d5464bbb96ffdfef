/* WordPiece over the sorted piece tables (greedy longest match first), and tc_tokenize. */
#include "internal.h"

static uint32_t piece_start(const tc_vocab *vocab, uint32_t index)
{
    uint32_t start = vocab->piece_starts[index];
    uint32_t k;

    for (k = 0; k < vocab->wrap_count && vocab->start_wraps[k] <= index; ++k) start += 0x10000u;
    return start;
}

/* First index in [low, high) whose byte at `depth` is >= `byte` (+ 1 when `after`); every piece in
 * the range is longer than `depth` and they share their first `depth` bytes, so they are sorted by it. */
static uint32_t bound(const tc_vocab *vocab, uint32_t low, uint32_t high, size_t depth,
                      unsigned byte, int after)
{
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        unsigned value = vocab->piece_bytes[piece_start(vocab, middle) + depth];
        if (value < byte || (after && value == byte))
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/* The longest piece of [low, high) that is a prefix of text[0, length), as its length in bytes (0 when
 * none) and *index. Narrows the range one byte at a time: the pieces that start with text[0, depth)
 * are contiguous, and the one equal to it, if any, sorts first. */
static size_t longest_prefix(const tc_vocab *vocab, uint32_t low, uint32_t high,
                             const uint8_t *text, size_t length, uint32_t *index)
{
    size_t depth, best = 0;

    for (depth = 0; low < high; ++depth) {
        if (piece_start(vocab, low + 1) - piece_start(vocab, low) == depth) {
            if (depth > 0) { /* an empty piece ("##" alone) never matches */
                best = depth;
                *index = low;
            }
            ++low;
        }
        if (depth == length) break;
        low = bound(vocab, low, high, depth, text[depth], 0);
        high = bound(vocab, low, high, depth, text[depth], 1);
    }
    return best;
}

/* Writes the word's pieces (at most `capacity` of them, capacity >= 1) and returns how many were
 * written; a word longer than TC_MAX_WORD_CHARS, or with any part no piece matches, is one [UNK]. */
static size_t word_pieces(const tc_vocab *vocab, const tc_word *word, int32_t *ids, size_t capacity)
{
    size_t start = 0, written = 0;
    uint32_t first_continuation = vocab->initial_count;
    uint32_t end = first_continuation + vocab->continuation_count;

    if (word->char_count > TC_MAX_WORD_CHARS) {
        ids[0] = TC_UNK_ID;
        return 1;
    }
    while (start < word->byte_count) {
        uint32_t index = 0;
        size_t matched = start == 0
                             ? longest_prefix(vocab, 0, first_continuation, word->bytes,
                                              word->byte_count, &index)
                             : longest_prefix(vocab, first_continuation, end, word->bytes + start,
                                              word->byte_count - start, &index);
        if (matched == 0) {
            ids[0] = TC_UNK_ID;
            return 1;
        }
        /* Past the capacity the word is still matched to the end: it may yet turn into [UNK]. */
        if (written < capacity) ids[written++] = (int32_t)(TC_FIRST_PIECE_ID + index);
        start += matched;
    }
    return written;
}

size_t tc_tokenize(const tc_vocab *vocab, const char *text, size_t length, int32_t *ids,
                   size_t sequence_length)
{
    tc_word_reader reader;
    tc_word word;
    size_t count = 0, padded;

    if (sequence_length >= 2) {
        size_t sep_slot = sequence_length - 1;
        ids[count++] = TC_CLS_ID;
        tc_word_reader_init(&reader, vocab->unicode, text, length);
        while (count < sep_slot && tc_read_word(&reader, &word))
            count += word_pieces(vocab, &word, ids + count, sep_slot - count);
        ids[count++] = TC_SEP_ID;
    }
    for (padded = count; padded < sequence_length; ++padded) ids[padded] = TC_PAD_ID;
    return count;
}
