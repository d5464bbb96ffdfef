/* What the firmware reports as the cost of one classification, per platform:
 *   QEMU (mps2, run with -icount shift=0): guest instructions, from SysTick, which QEMU clocks at
 *       25 MHz = one tick per 40 instructions: deterministic, 40-instruction resolution.
 *   host: microseconds (CLOCK_MONOTONIC).
 *   Arduino boards: microseconds (micros()). */
#ifndef COUNTER_H
#define COUNTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void counter_start(void);
uint32_t counter_read(void);      /* monotonically increasing, in counter_unit() */
uint32_t counter_elapsed(uint32_t since);
const char *counter_unit(void);

#ifdef __cplusplus
}
#endif

#endif /* COUNTER_H */
