/* QEMU program of benchmarks/vocabulary.py: tokenizes each text with the front-coded vocabulary
 * (the runtime's tc_tokenize over bench_vocab) and with the flat baseline over the same pieces
 * (vocabulary_flat.c), counting the instructions of each call, and of reading the text's words
 * alone (normalization and pre-tokenization, which both share). Prints one line per text:
 * "<instructions front-coded> <instructions flat> <instructions words> <id count> <ids ...>", and
 * returns 1 if the two tokenizers give different ids. */
#include <stdio.h>
#include <string.h>

#include "counter.h"
#include "vocabulary_flat.h"

extern const tc_vocab bench_vocab;

/* Blobs linked in by the benchmark (objcopy, 4-byte aligned): the texts as (uint32 length, bytes)
 * records; the flat tables of the same vocabulary; and its wrap count followed by the wraps. */
extern const uint8_t _binary_texts_bin_start[], _binary_texts_bin_end[];
extern const uint8_t _binary_flat_bytes_bin_start[];
extern const uint16_t _binary_flat_starts_bin_start[];
extern const uint32_t _binary_flat_wraps_bin_start[];

int main(void)
{
    static int32_t front_ids[BENCH_SEQUENCE_LENGTH], flat_ids[BENCH_SEQUENCE_LENGTH];
    const flat_vocab flat = {
        .piece_bytes = _binary_flat_bytes_bin_start,
        .piece_starts = _binary_flat_starts_bin_start,
        .start_wraps = _binary_flat_wraps_bin_start + 1,
        .wrap_count = _binary_flat_wraps_bin_start[0],
        .initial_count = bench_vocab.initial_count,
        .continuation_count = bench_vocab.continuation_count,
        .unicode = bench_vocab.unicode,
    };
    static tc_word word;
    tc_word_reader reader;
    const uint8_t *at = _binary_texts_bin_start;
    int differ = 0;

    counter_start();
    while (at + 4 <= _binary_texts_bin_end) {
        uint32_t length, since, front, flat_cost, words_cost;
        size_t count, flat_count, i;
        memcpy(&length, at, 4);
        at += 4;
        since = counter_read();
        count =
            tc_tokenize(&bench_vocab, (const char *)at, length, front_ids, BENCH_SEQUENCE_LENGTH);
        front = counter_elapsed(since);
        since = counter_read();
        flat_count =
            flat_tokenize(&flat, (const char *)at, length, flat_ids, BENCH_SEQUENCE_LENGTH);
        flat_cost = counter_elapsed(since);
        since = counter_read();
        tc_word_reader_init(&reader, bench_vocab.unicode, (const char *)at, length);
        while (tc_read_word(&reader, &word)) continue;
        words_cost = counter_elapsed(since);
        at += length;
        if (count != flat_count || memcmp(front_ids, flat_ids, sizeof front_ids) != 0) differ = 1;
        printf("%lu %lu %lu %lu", (unsigned long)front, (unsigned long)flat_cost,
               (unsigned long)words_cost, (unsigned long)count);
        for (i = 0; i < count; ++i) printf(" %ld", (long)front_ids[i]);
        printf("\n");
    }
    return differ;
}
