/* Self-test of the unit harness: proves each env builds, runs and reports cases. */
#include <stdint.h>
#include <string.h>

#include "unit_harness.h"

static void integers_compare(uh_context *ctx)
{
    UH_ASSERT_EQ_INT(ctx, 42, 6 * 7);
    UH_ASSERT_EQ_INT(ctx, -128, (int8_t)0x80);
}

static void strings_compare(uh_context *ctx)
{
    char buffer[8];
    strcpy(buffer, "text");
    UH_ASSERT_EQ_STR(ctx, "text", buffer);
}

static void arrays_compare_across_element_types(uh_context *ctx)
{
    const int8_t expected[4] = {-3, 0, 5, 127};
    const int32_t actual[4] = {-3, 0, 5, 127};
    UH_ASSERT_EQ_ARRAY(ctx, expected, actual, 4);
}

static void failed_check_is_recorded_not_reported(uh_context *ctx)
{
    /* A check on a scratch context must report failure without touching the real one. */
    uh_context scratch;
    memset(&scratch, 0, sizeof(scratch));
    UH_ASSERT(ctx, uh_check(&scratch, 0, "f.c", 7, "value %d", 3) == 0);
    UH_ASSERT(ctx, scratch.case_failed);
    UH_ASSERT_EQ_STR(ctx, "value 3", scratch.message);
    UH_ASSERT_EQ_INT(ctx, 7, scratch.fail_line);
}

static void failed_integer_check_prints_64_bit_values(uh_context *ctx)
{
    /* The numbers are formatted by the harness: newlib-nano's printf (Cortex-M) has no %lld. */
    uh_context scratch;
    memset(&scratch, 0, sizeof(scratch));
    UH_ASSERT(ctx,
              uh_check_equal_int(&scratch, INT64_MIN, 4611686014132420609LL, "f.c", 9, "x") == 0);
    UH_ASSERT_EQ_STR(ctx, "x: expected -9223372036854775808, got 4611686014132420609",
                     scratch.message);
    UH_ASSERT(ctx, uh_check_equal_int(&scratch, 0, 0, "f.c", 10, "y") == 1);
}

static void integer_arithmetic_matches_c99(uh_context *ctx)
{
    /* The kernels rely on these: arithmetic right shift of negatives and 64-bit products. */
    volatile int32_t negative = -7;
    UH_ASSERT_EQ_INT(ctx, -4, negative >> 1);
    volatile int64_t product = (int64_t)INT32_MAX * INT32_MAX;
    UH_ASSERT_EQ_INT(ctx, 4611686014132420609LL, product);
}

static void indexed_case_sees_its_index(uh_context *ctx, size_t index)
{
    static const int squares[3] = {0, 1, 4};
    UH_ASSERT_EQ_INT(ctx, (long long)(index * index), squares[index]);
}

int main(void)
{
    uh_context ctx;
    uh_begin(&ctx);
    UH_RUN(&ctx, integers_compare);
    UH_RUN(&ctx, strings_compare);
    UH_RUN(&ctx, arrays_compare_across_element_types);
    UH_RUN(&ctx, failed_check_is_recorded_not_reported);
    UH_RUN(&ctx, failed_integer_check_prints_64_bit_values);
    UH_RUN(&ctx, integer_arithmetic_matches_c99);
    for (size_t i = 0; i < 3; ++i) UH_RUN_INDEXED(&ctx, indexed_case_sees_its_index, i);
    return uh_end(&ctx);
}
