/* Probe of the QEMU platforms' own code (tests/test_qemu_platforms.py): the first stdin line says
 * what to do (exit with a code, echo stdin to EOF, count a loop's instructions, fault, write to
 * code, overflow the stack). Built with -DBIG_FLASH=n or -DBIG_RAM=n it also holds an array of that
 * size, to check the linker refuses an image the board cannot hold. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"

void spin(uint32_t iterations); /* a loop of exactly 2 instructions per iteration (asm below) */
void fault(void);               /* an instruction the core must refuse */

static int read_line(char *line, int size)
{
    int length = 0, c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (length < size - 1) line[length++] = (char)c;
    }
    line[length] = '\0';
    return (c == EOF && length == 0) ? -1 : length;
}

/* 256 bytes a frame, far deeper than any stack here: only a guard can stop it. */
static int recurse(int depth)
{
    volatile char frame[256];
    frame[0] = (char)depth;
    return depth > 1000000 ? 0 : recurse(depth + 1) + frame[0];
}

#if defined(BIG_FLASH)
const unsigned char big[BIG_FLASH] = {1};
#elif defined(BIG_RAM)
unsigned char big[BIG_RAM];
#endif
#if defined(BIG_FLASH) || defined(BIG_RAM)
/* A constructor touches the array, so the linker keeps it. */
__attribute__((constructor)) static void touch(void)
{
    ((volatile unsigned char *)big)[1] = ((volatile unsigned char *)big)[0];
}
#endif

int main(void)
{
    char line[128];
    if (read_line(line, sizeof line) < 0) return 99;
    if (strncmp(line, "exit ", 5) == 0) exit(atoi(line + 5));
    if (strcmp(line, "echo") == 0) {
        int count = 0;
        while (read_line(line, sizeof line) >= 0) printf("%d:%s\n", ++count, line);
        printf("end after %d\n", count);
        return 0;
    }
    if (strncmp(line, "count ", 6) == 0) {
        uint32_t n = (uint32_t)atol(line + 6);
        counter_start();
        uint32_t start = counter_read();
        spin(n);
        printf("%s=%lu\n", counter_unit(), (unsigned long)counter_elapsed(start));
        return 0;
    }
    if (strcmp(line, "fault") == 0) fault();
    if (strcmp(line, "write-code") == 0) *(volatile uint32_t *)(uintptr_t)&main = 0u;
    if (strcmp(line, "stack-overflow") == 0) return recurse(0);
    puts("still running");
    return 0;
}
