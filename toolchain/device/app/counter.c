#if !defined(TEXTCLF_QEMU_CORTEX_M) && !defined(TEXTCLF_QEMU_RISCV) && !defined(ARDUINO)
#define _POSIX_C_SOURCE 199309L /* clock_gettime; must precede every system header */
#endif

#include "counter.h"

#if defined(TEXTCLF_QEMU_CORTEX_M)

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYSTICK_MASK 0x00FFFFFFu
/* With -icount shift=0 one instruction takes 1 ns, and QEMU clocks SysTick at the board's f_cpu:
 * one tick = 1e9 / f_cpu instructions = NUM / DEN (reduced by the builder from the board JSON):
 * 40/1 on the MPS2 boards (25 MHz), 125/2 on the micro:bit (16 MHz). */
#define TICK_NUM TEXTCLF_INSTRUCTIONS_PER_TICK_NUM
#define TICK_DEN TEXTCLF_INSTRUCTIONS_PER_TICK_DEN

void counter_start(void)
{
    SYST_RVR = SYSTICK_MASK;
    SYST_CVR = 0u;
    SYST_CSR = 0x5u; /* enable, processor clock, no interrupt */
}

static uint32_t ticks_now(void)
{
    return SYSTICK_MASK - (SYST_CVR & SYSTICK_MASK);
}

/* Ticks to instructions, rounded down. 2^24 ticks * NUM stays below 2^32 for NUM <= 255. */
static uint32_t ticks_to_instructions(uint32_t ticks)
{
    return ticks * TICK_NUM / TICK_DEN;
}

/* SysTick counts down; a single measurement must stay under 2^24 ticks (671 M instructions at
 * 25 MHz, 1,048 M at 16 MHz). */
uint32_t counter_read(void)
{
    return ticks_to_instructions(ticks_now());
}

uint32_t counter_elapsed(uint32_t since)
{
    uint32_t now = ticks_now();
    /* Inverse of ticks_to_instructions: the smallest tick count that gives `since`. */
    uint32_t since_ticks = (since * TICK_DEN + TICK_NUM - 1u) / TICK_NUM;
    return ticks_to_instructions((now - since_ticks) & SYSTICK_MASK);
}

const char *counter_unit(void)
{
    return "instructions";
}

#elif defined(TEXTCLF_QEMU_RISCV)

/* minstret counts retired instructions; QEMU derives it from the instruction counter when run with
 * -icount, so it is exact and identical run to run. The low 32 bits suffice for one measurement. */
void counter_start(void) {}

uint32_t counter_read(void)
{
    uint32_t value;
    /* Zicsr is part of every RISC-V core that has CSRs, but GCC 12's -march=rv32imc no longer
     * implies it (and rv32imc_zicsr selects no multilib), so enable it for this instruction only. */
    __asm__ volatile(".option push\n\t.option arch, +zicsr\n\tcsrr %0, minstret\n\t.option pop"
                     : "=r"(value));
    return value;
}

uint32_t counter_elapsed(uint32_t since)
{
    return counter_read() - since;
}

const char *counter_unit(void)
{
    return "instructions";
}

#elif defined(ARDUINO)

#include <Arduino.h>

void counter_start(void) {}

uint32_t counter_read(void)
{
    return (uint32_t)micros();
}

uint32_t counter_elapsed(uint32_t since)
{
    return (uint32_t)micros() - since;
}

const char *counter_unit(void)
{
    return "us";
}

#else /* host */

#include <time.h>

void counter_start(void) {}

uint32_t counter_read(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint32_t)((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
}

uint32_t counter_elapsed(uint32_t since)
{
    return counter_read() - since;
}

const char *counter_unit(void)
{
    return "us";
}

#endif
