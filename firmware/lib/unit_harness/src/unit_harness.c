#include "unit_harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void uh_begin(uh_context *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    printf("UNIT_HARNESS_BEGIN\n");
}

static void report(uh_context *ctx, const char *name, long index, const char *file, int line)
{
    char label[96];
    if (index >= 0) {
        snprintf(label, sizeof label, "%s[%ld]", name, index);
    } else {
        snprintf(label, sizeof label, "%s", name);
    }
    ctx->tests++;
    if (ctx->case_failed) {
        ctx->failures++;
        printf("%s:%d:%s:FAIL:%s\n", ctx->fail_file, ctx->fail_line, label, ctx->message);
    } else {
        printf("%s:%d:%s:PASS\n", file, line, label);
    }
    fflush(stdout);
}

void uh_run(uh_context *ctx, const char *name, const char *file, int line, uh_case_fn fn)
{
    ctx->case_failed = 0;
    ctx->message[0] = '\0';
    fn(ctx);
    report(ctx, name, -1, file, line);
}

void uh_run_indexed(uh_context *ctx, const char *name, size_t index, const char *file, int line,
                    uh_indexed_case_fn fn)
{
    ctx->case_failed = 0;
    ctx->message[0] = '\0';
    fn(ctx, index);
    report(ctx, name, (long)index, file, line);
}

int uh_check(uh_context *ctx, int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok || ctx->case_failed) return ok;
    ctx->case_failed = 1;
    ctx->fail_file = file;
    ctx->fail_line = line;
    va_list args;
    va_start(args, fmt);
    vsnprintf(ctx->message, sizeof(ctx->message), fmt, args);
    va_end(args);
    /* ':' and newlines would break the one-line protocol. */
    for (char *c = ctx->message; *c; ++c) {
        if (*c == '\n' || *c == '\r') *c = ' ';
    }
    return ok;
}

/* Decimal text of a 64-bit value (out holds at least 21 bytes); the magnitude is taken unsigned so
 * that LLONG_MIN is printed too. */
static const char *format_integer(char out[21], long long value)
{
    unsigned long long magnitude =
        value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    char *p = out + 20;
    *p = '\0';
    do {
        *--p = (char)('0' + (int)(magnitude % 10u));
        magnitude /= 10u;
    } while (magnitude != 0u);
    if (value < 0) *--p = '-';
    return p;
}

int uh_check_equal_int(uh_context *ctx, long long expected, long long actual, const char *file,
                       int line, const char *expression)
{
    char expected_text[21], actual_text[21];
    if (expected == actual || ctx->case_failed) return expected == actual;
    return uh_check(ctx, 0, file, line, "%s: expected %s, got %s", expression,
                    format_integer(expected_text, expected), format_integer(actual_text, actual));
}

int uh_end(uh_context *ctx)
{
    printf("UNIT_HARNESS_DONE tests=%u failures=%u\n", ctx->tests, ctx->failures);
    fflush(stdout);
    return 0;
}

int uh_strings_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL) return a == b;
    return strcmp(a, b) == 0;
}

static long long read_integer(const void *base, size_t index, size_t size)
{
    const unsigned char *p = (const unsigned char *)base + index * size;
    switch (size) {
    case 1: {
        int8_t v;
        memcpy(&v, p, 1);
        return v;
    }
    case 2: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case 4: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    default: {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    }
}

int uh_arrays_equal(const void *expected, const void *actual, size_t n, size_t expected_size,
                    size_t actual_size, size_t *first_difference)
{
    for (size_t i = 0; i < n; ++i) {
        if (read_integer(expected, i, expected_size) != read_integer(actual, i, actual_size)) {
            *first_difference = i;
            return 0;
        }
    }
    *first_difference = n;
    return 1;
}
