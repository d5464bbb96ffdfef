#if !defined(TEXTCLF_QEMU_MPS2) && !defined(ARDUINO)
#define _POSIX_C_SOURCE 199309L /* clock_gettime; must precede every system header */
#endif

#include "counter.h"

#if defined(TEXTCLF_QEMU_MPS2)

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYSTICK_MASK 0x00FFFFFFu
/* QEMU's MPS2 SysTick runs at 25 MHz; with -icount shift=0 one instruction takes 1 ns. */
#define INSTRUCTIONS_PER_TICK 40u

void counter_start(void)
{
    SYST_RVR = SYSTICK_MASK;
    SYST_CVR = 0u;
    SYST_CSR = 0x5u; /* enable, processor clock, no interrupt */
}

/* SysTick counts down; a single measurement must stay under 2^24 ticks (671 M instructions). */
uint32_t counter_read(void)
{
    return (SYSTICK_MASK - (SYST_CVR & SYSTICK_MASK)) * INSTRUCTIONS_PER_TICK;
}

uint32_t counter_elapsed(uint32_t since)
{
    uint32_t ticks = (counter_read() / INSTRUCTIONS_PER_TICK - since / INSTRUCTIONS_PER_TICK) & SYSTICK_MASK;
    return ticks * INSTRUCTIONS_PER_TICK;
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
