/* A deliberately failing case. Ignored by the default `pio test` run (test_ignore in
 * platformio.ini); tests/test_firmware_harness.py runs it and checks the runner reports it FAILED. */
#include "unit_harness.h"

static void passes(uh_context *ctx)
{
    UH_ASSERT_EQ_INT(ctx, 1, 1);
}

static void fails_on_purpose(uh_context *ctx)
{
    UH_ASSERT_EQ_INT(ctx, 2, 1 + 2);
}

int main(void)
{
    uh_context ctx;
    uh_begin(&ctx);
    UH_RUN(&ctx, passes);
    UH_RUN(&ctx, fails_on_purpose);
    return uh_end(&ctx);
}
