/* What the firmware reports as the cost of one classification, per platform:
 *   QEMU, always run with -icount shift=0 (1 ns of virtual time per guest instruction):
 *     Cortex-M: guest instructions, from SysTick, which QEMU clocks at the board's f_cpu: 25 MHz on
 *       the MPS2 boards = one tick per 40 instructions; 16 MHz on the micro:bit = 62.5 instructions
 *       per tick. Deterministic, resolution one tick.
 *     RISC-V (virt): guest instructions, from the minstret CSR: exact, deterministic.
 *   host: microseconds (CLOCK_MONOTONIC).
 *   Arduino boards: microseconds (micros()). */
#ifndef COUNTER_H
#define COUNTER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void counter_start(void);
uint32_t counter_read(void); /* monotonically increasing, in counter_unit() */
uint32_t counter_elapsed(uint32_t since);
const char *counter_unit(void);

#ifdef __cplusplus
}
#endif

#endif /* COUNTER_H */
