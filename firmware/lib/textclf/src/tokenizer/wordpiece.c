/* WordPiece over the front-coded piece tables (greedy longest match first), and tc_tokenize. */
#include "internal.h"

/* Offset of block `block` (an index into block_starts) in vocab->entries. */
static uint32_t block_start(const tc_vocab *vocab, uint32_t block)
{
    uint32_t start = vocab->block_starts[block];
    uint32_t k;

    for (k = 0; k < vocab->wrap_count && vocab->start_wraps[k] <= block; ++k) start += 0x10000u;
    return start;
}

/* The number a header nibble stands for: itself, or the 2 bytes at *at (then skipped). */
static size_t header_number(unsigned nibble, const uint8_t **at)
{
    size_t value = nibble;
    if (nibble == TC_VOCAB_ESCAPE) {
        value = (size_t)(*at)[0] | (size_t)(*at)[1] << 8;
        *at += 2;
    }
    return value;
}

/* Whether the piece stored whole at `head` (a block's first) sorts before text[0, length) or
 * equals it. */
static int head_at_most(const uint8_t *head, const uint8_t *text, size_t length)
{
    unsigned nibble = *head++ & 0x0Fu; /* a first piece shares nothing */
    size_t size = header_number(nibble, &head);
    const uint8_t *end = head + (size < length ? size : length);
    for (; head != end; ++head, ++text)
        if (*head != *text) return *head < *text;
    return size <= length;
}

/* Scans the `count` pieces of the block at `entry`, whose first piece sorts at most text[0, length),
 * up to the first piece that sorts after the text. Returns the length of the longest piece that is
 * a prefix of the text (0 when none; the empty piece "##" never matches), its position in the block
 * in *position, and in *head_common the bytes the block's first piece shares with the text.
 * No piece is decoded: `common` is how many bytes the previous piece shares with the text; a piece
 * that shares more than that with the previous one sorts before the text as the previous one does,
 * one that shares less sorts after the text, and only one that shares exactly that many is compared
 * (from there on). */
static size_t scan_block(const uint8_t *entry, uint32_t count, const uint8_t *text, size_t length,
                         uint32_t *position, size_t *head_common)
{
    size_t common = 0, best = 0;
    uint32_t i;

    *head_common = 0;
    for (i = 0; i < count; ++i) {
        unsigned header = *entry++;
        size_t shared = header_number(header >> 4, &entry);
        size_t size = header_number(header & 0x0Fu, &entry);
        if (shared < common) break;
        if (shared == common) {
            const uint8_t *piece = entry, *piece_end = entry + size;
            const uint8_t *at = text + common, *text_end = text + length;
            for (; piece != piece_end && at != text_end && *piece == *at; ++piece, ++at) continue;
            if (piece != piece_end && (at == text_end || *piece > *at)) break;
            common = (size_t)(at - text);
            if (piece == piece_end && common > 0) {
                best = common;
                *position = i;
            }
        }
        if (i == 0) *head_common = common;
        entry += size;
    }
    return best;
}

/* The longest piece of a table (its blocks from first_block on, `count` pieces) that is a prefix of
 * text[0, length), as its length in bytes (0 when none) and *index in the table.
 * The last block whose first piece sorts at most the text holds the last piece <= the text; any
 * piece that is a prefix of the text and is longer than one found in that block would sort between
 * the two, so it would be in the block too. If the block holds none, every piece that is a prefix
 * of the text sorts before the block, so it is a prefix of the part of the text the block's first
 * piece shares (which is shorter than the text): search again with that, among earlier blocks.
 * Each round ends at an earlier block, so there are at most as many rounds as blocks. */
static size_t longest_prefix(const tc_vocab *vocab, uint32_t first_block, uint32_t count,
                             const uint8_t *text, size_t length, uint32_t *index)
{
    uint32_t shift = vocab->block_shift;
    uint32_t end = first_block + ((count + (1u << shift) - 1u) >> shift);

    while (length > 0 && end > first_block) {
        uint32_t low = first_block, high = end, block, position = 0, in_block;
        size_t matched, head_common;
        while (low < high) { /* the first block whose first piece sorts after the text */
            uint32_t middle = low + (high - low) / 2;
            if (head_at_most(vocab->entries + block_start(vocab, middle), text, length))
                low = middle + 1;
            else
                high = middle;
        }
        if (low == first_block) return 0; /* every piece sorts after the text */
        block = low - 1;
        in_block = count - ((block - first_block) << shift);
        if (in_block > (1u << shift)) in_block = 1u << shift;
        matched = scan_block(vocab->entries + block_start(vocab, block), in_block, text, length,
                             &position, &head_common);
        if (matched > 0) {
            *index = ((block - first_block) << shift) + position;
            return matched;
        }
        length = head_common;
        end = block; /* the next round searches before this block */
    }
    return 0;
}

/* Writes the word's pieces (at most `capacity` of them, capacity >= 1) and returns how many were
 * written; a word longer than TC_MAX_WORD_CHARS, or with any part no piece matches, is one [UNK]. */
static size_t word_pieces(const tc_vocab *vocab, const tc_word *word, int32_t *ids, size_t capacity)
{
    size_t start = 0, written = 0;
    uint32_t block_size = 1u << vocab->block_shift;
    uint32_t continuation_block = (vocab->initial_count + block_size - 1u) >> vocab->block_shift;

    if (word->char_count > TC_MAX_WORD_CHARS) {
        ids[0] = TC_UNK_ID;
        return 1;
    }
    while (start < word->byte_count) {
        uint32_t index = 0;
        size_t matched;
        if (start == 0) {
            matched = longest_prefix(vocab, 0, vocab->initial_count, word->bytes, word->byte_count,
                                     &index);
        } else {
            matched = longest_prefix(vocab, continuation_block, vocab->continuation_count,
                                     word->bytes + start, word->byte_count - start, &index);
            index += vocab->initial_count;
        }
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
