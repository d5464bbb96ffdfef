/* Minimal C99 unit-test harness (Unity cannot be downloaded here).
 *
 * Every case prints one line the PlatformIO custom runner parses:
 *     file:line:name:PASS
 *     file:line:name:FAIL:message
 * and the run ends with "UNIT_HARNESS_DONE tests=N failures=F".
 * State lives in a caller-owned struct: no globals, no malloc. */
#ifndef UNIT_HARNESS_H
#define UNIT_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    unsigned tests;
    unsigned failures;
    int case_failed; /* set by the first failing check of the running case */
    const char *fail_file;
    int fail_line;
    char message[160];
} uh_context;

typedef void (*uh_case_fn)(uh_context *ctx);
typedef void (*uh_indexed_case_fn)(uh_context *ctx, size_t index);

void uh_begin(uh_context *ctx);
void uh_run(uh_context *ctx, const char *name, const char *file, int line, uh_case_fn fn);
/* One case per index (reported as name[index]): a table-driven test with a verdict per row. */
void uh_run_indexed(uh_context *ctx, const char *name, size_t index, const char *file, int line,
                    uh_indexed_case_fn fn);
/* Records a failure of the running case (only the first one is reported). Returns `ok`. */
int uh_check(uh_context *ctx, int ok, const char *file, int line, const char *fmt, ...);
/* uh_check for two integers: "expression: expected E, got A". Formats the numbers itself, since
 * newlib-nano's printf (the Cortex-M envs) has no %lld. Returns expected == actual. */
int uh_check_equal_int(uh_context *ctx, long long expected, long long actual, const char *file,
                       int line, const char *expression);
/* Prints the closing line. Returns 0: failures are reported per case, and a non-zero exit is
 * left to crashes and timeouts so the runner can tell a failed case from a broken run. */
int uh_end(uh_context *ctx);

#define UH_RUN(ctx, fn) uh_run((ctx), #fn, __FILE__, __LINE__, (fn))
#define UH_RUN_INDEXED(ctx, fn, index) uh_run_indexed((ctx), #fn, (index), __FILE__, __LINE__, (fn))

/* Checks return from the case on failure, so later checks do not run on broken state. */
#define UH_ASSERT(ctx, cond)                                                        \
    do {                                                                            \
        if (!uh_check((ctx), (cond) != 0, __FILE__, __LINE__, "%s", #cond)) return; \
    } while (0)

#define UH_ASSERT_EQ_INT(ctx, expected, actual)                                              \
    do {                                                                                     \
        if (!uh_check_equal_int((ctx), (long long)(expected), (long long)(actual), __FILE__, \
                                __LINE__, #actual))                                          \
            return;                                                                          \
    } while (0)

#define UH_ASSERT_EQ_STR(ctx, expected, actual)                                  \
    do {                                                                         \
        const char *uh_e_ = (expected), *uh_a_ = (actual);                       \
        if (!uh_check((ctx), uh_strings_equal(uh_e_, uh_a_), __FILE__, __LINE__, \
                      "%s: expected \"%s\", got \"%s\"", #actual, uh_e_, uh_a_)) \
            return;                                                              \
    } while (0)

/* Compares n elements of two int arrays (any integer element type via the size argument). */
#define UH_ASSERT_EQ_ARRAY(ctx, expected, actual, n)                                          \
    do {                                                                                      \
        size_t uh_at_ = 0;                                                                    \
        int uh_same_ = uh_arrays_equal((expected), (actual), (n), sizeof(*(expected)),        \
                                       sizeof(*(actual)), &uh_at_);                           \
        if (!uh_check((ctx), uh_same_, __FILE__, __LINE__, "%s differs at index %u", #actual, \
                      (unsigned)uh_at_))                                                      \
            return;                                                                           \
    } while (0)

int uh_strings_equal(const char *a, const char *b);
int uh_arrays_equal(const void *expected, const void *actual, size_t n, size_t expected_size,
                    size_t actual_size, size_t *first_difference);

#ifdef __cplusplus
}
#endif

#endif /* UNIT_HARNESS_H */
