/* Test driver for the C tokenizer (tests/test_c_tokenizer.py): reads a mode and a sequence length,
 * then length-prefixed texts on stdin, and writes for each the normalized words, or the ids and
 * their count (in a buffer of exactly the sequence length, or ending where an inaccessible page
 * begins: reading past the text faults). */
#define _DEFAULT_SOURCE /* mmap */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "textclf_tokenizer.h"
#include "tokenizer/internal.h"

/* The vocabulary under test, generated with the prefix `test` (test_vocab.c). */
extern const tc_vocab test_vocab;

static int read_exact(void *buffer, size_t size)
{
    return fread(buffer, 1, size, stdin) == size;
}

static void write_u32(uint32_t value)
{
    fwrite(&value, sizeof value, 1, stdout);
}

/* Each word's bytes and a newline (words hold no whitespace), then a NUL (removed by normalization);
 * of a word longer than TC_MAX_WORD_CHARS, only the characters the tokenizer keeps. */
static void write_words(const char *text, size_t length)
{
    tc_word_reader reader;
    tc_word word;
    tc_word_reader_init(&reader, &textclf_unicode_tables, text, length);
    while (tc_read_word(&reader, &word)) {
        fwrite(word.bytes, 1, word.byte_count, stdout);
        putchar('\n');
    }
    putchar('\0');
}

/* The returned count, then sequence_length ids (in a buffer of exactly that size). */
static void write_ids(const char *text, size_t length, uint32_t sequence_length)
{
    int32_t *ids = malloc(sequence_length * sizeof *ids);
    size_t count = tc_tokenize(&test_vocab, text, length, ids, sequence_length);
    write_u32((uint32_t)count);
    fwrite(ids, sizeof *ids, sequence_length, stdout);
    free(ids);
}

/* The text ends where an inaccessible page begins, and the length given to the tokenizer runs a
 * page further: reading anything after the truncation point faults. */
static void write_guarded_ids(const char *text, size_t length, uint32_t sequence_length)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = (length / page + 1) * page;
    char *memory =
        mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED || mprotect(memory + span, page, PROT_NONE) != 0) exit(3);
    memcpy(memory + span - length, text, length);
    write_ids(memory + span - length, length + page, sequence_length);
    munmap(memory, span + page);
}

int main(void)
{
    uint32_t mode, sequence_length, length;
    if (!read_exact(&mode, 4) || !read_exact(&sequence_length, 4)) return 2;
    while (read_exact(&length, 4)) {
        char *text = malloc(length); /* exactly the text: the sanitizer build sees any overread */
        if (length > 0 && (text == NULL || !read_exact(text, length))) return 2;
        if (mode == 0)
            write_words(text, length);
        else if (mode == 1)
            write_ids(text, length, sequence_length);
        else
            write_guarded_ids(text, length, sequence_length);
        free(text);
    }
    return 0;
}
