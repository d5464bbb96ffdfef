/* C side of the rv32 startup on QEMU's virt machine: RAM initialisation, stdio over semihosting,
 * and the end of the run through the SiFive test device (QEMU's exit status = the program's).
 *
 * Why not picolibc's own crt0 and semihosting (--oslib=semihost)? Its stdin reads one character at
 * a time with SYS_READC, which QEMU 7.2 serves from a semihosting chardev: without one the read
 * blocks forever, and a character stream has no way to say EOF. (Its default crt0 also spins after
 * main returns; its "hosted" crt0 does exit through SYS_EXIT.) Here stdin and stdout are the host's,
 * opened as ":tt" and read/written with SYS_READ/SYS_WRITE: piped input ends with EOF, a terminal
 * gives a line at a time. The run ends through the virt machine's test device, which needs no
 * semihosting, and a trap handler turns any CPU exception into a non-zero exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Symbols from picolibc.ld and the builder's --defsym memory map. */
extern char __flash[], __flash_size[], __ram[], __ram_size[], __stack[], __stack_size[];
extern char __data_start[], __data_source[], __data_size[];
extern char __bss_start[], __bss_size[];
extern char __tls_base[];
extern void _set_tls(void *tls);
extern void __libc_init_array(void);
extern int main(void);

void rv_start(void);
__attribute__((noreturn)) void rv_trap(uint32_t cause, uint32_t pc, uint32_t value);
__attribute__((noreturn)) void _exit(int status);
int getpid(void);
int kill(int pid, int signal);
long semihost_call(long operation, void *parameters); /* start.S */

/* --- semihosting (the ARM semihosting operations, as QEMU implements them for RISC-V) ---------- */

enum {
    SYS_OPEN = 0x01,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
};

/* SYS_OPEN modes: "r" = 0, "w" = 4, "a" = 8; on ":tt" they give the host's stdin, stdout, stderr. */
static long open_console(long mode)
{
    long block[3] = {(long)":tt", mode, 3};
    return semihost_call(SYS_OPEN, block);
}

/* SYS_WRITE and SYS_READ return the number of bytes NOT transferred. */
static void console_write(long handle, const char *data, size_t length)
{
    long block[3] = {handle, (long)data, (long)length};
    semihost_call(SYS_WRITE, block);
}

static long console_read(long handle, char *data, size_t capacity)
{
    long block[3] = {handle, (long)data, (long)capacity};
    long left = semihost_call(SYS_READ, block);
    return (left < 0 || (size_t)left > capacity) ? -1 : (long)capacity - left;
}

/* --- stdio: picolibc FILEs over the console handles --------------------------------------------- */

/* Output is buffered per line (one semihosting call per line instead of one per character);
 * input is read in blocks: a terminal returns one line per read, a pipe up to the block size. */
typedef struct {
    FILE file; /* first member: picolibc passes &file to the hooks */
    long handle;
    size_t used;
    size_t next;
    char buffer[256];
} console_stream;

static int console_flush(FILE *file)
{
    console_stream *stream = (console_stream *)file;
    if (stream->used > 0) console_write(stream->handle, stream->buffer, stream->used);
    stream->used = 0;
    return 0;
}

static int console_put(char c, FILE *file)
{
    console_stream *stream = (console_stream *)file;
    stream->buffer[stream->used++] = c;
    if (c == '\n' || stream->used == sizeof stream->buffer) console_flush(file);
    return 0;
}

static int console_get(FILE *file)
{
    console_stream *stream = (console_stream *)file;
    if (stream->next == stream->used) {
        long got = console_read(stream->handle, stream->buffer, sizeof stream->buffer);
        if (got < 0) return _FDEV_ERR;
        if (got == 0) return _FDEV_EOF;
        stream->used = (size_t)got;
        stream->next = 0;
    }
    return (unsigned char)stream->buffer[stream->next++];
}

static console_stream console_in = {
    FDEV_SETUP_STREAM(NULL, console_get, NULL, _FDEV_SETUP_READ), -1, 0, 0, {0}};
static console_stream console_out = {
    FDEV_SETUP_STREAM(console_put, NULL, console_flush, _FDEV_SETUP_WRITE), -1, 0, 0, {0}};
static console_stream console_err = {
    FDEV_SETUP_STREAM(console_put, NULL, console_flush, _FDEV_SETUP_WRITE), -1, 0, 0, {0}};

/* picolibc's stdio takes the standard streams from these three symbols. */
FILE *const stdin = &console_in.file;
FILE *const stdout = &console_out.file;
FILE *const stderr = &console_err.file;

/* --- start and end of the run ------------------------------------------------------------------- */

/* QEMU virt's SiFive test device: 0x5555 stops QEMU with status 0, (code << 16) | 0x3333 with
 * status `code`. */
#define TEST_FINISHER (*(volatile uint32_t *)0x00100000u)
#define FINISHER_PASS 0x5555u
#define FINISHER_FAIL 0x3333u

/* Memory protection with the PMP, as a real core would have it (QEMU's virt "flash" is RAM):
 * flash read + execute, RAM read + write, and no access at all to a guard band at the bottom of
 * the stack, so that a stray write into code, a jump into data or a stack overflow traps (and
 * ends the run through rv_trap) instead of corrupting the program. The entries are locked, which
 * makes them apply to machine mode too; accesses outside them (devices) stay allowed.
 * Entries are top-of-range pairs: entry 2k holds the base (A = OFF), entry 2k + 1 the top. */
#define PMP_R 0x01u
#define PMP_W 0x02u
#define PMP_X 0x04u
#define PMP_TOR 0x08u
#define PMP_LOCK 0x80u
#define STACK_GUARD_BYTES 256u

#define CSR_WRITE(csr, value)                                                                   \
    __asm__ volatile(".option push\n\t.option arch, +zicsr\n\tcsrw " #csr ", %0\n\t.option pop" \
                     :                                                                          \
                     : "r"(value))

static void protect_memory(void)
{
    uint32_t flash = (uint32_t)(uintptr_t)__flash;
    uint32_t ram = (uint32_t)(uintptr_t)__ram;
    uint32_t guard = (uint32_t)(uintptr_t)__stack - (uint32_t)(uintptr_t)__stack_size;
    /* The lowest-numbered matching entry wins: the guard comes before the RAM that contains it. */
    CSR_WRITE(pmpaddr0, guard >> 2);
    CSR_WRITE(pmpaddr1, (guard + STACK_GUARD_BYTES) >> 2);
    CSR_WRITE(pmpaddr2, flash >> 2);
    CSR_WRITE(pmpaddr3, (flash + (uint32_t)(uintptr_t)__flash_size) >> 2);
    CSR_WRITE(pmpaddr4, ram >> 2);
    CSR_WRITE(pmpaddr5, (ram + (uint32_t)(uintptr_t)__ram_size) >> 2);
    uint32_t config0 = (PMP_TOR | PMP_LOCK) << 8 |                 /* 1: guard, no access */
                       (PMP_TOR | PMP_LOCK | PMP_R | PMP_X) << 24; /* 3: flash */
    uint32_t config1 = (PMP_TOR | PMP_LOCK | PMP_R | PMP_W) << 8;  /* 5: RAM */
    CSR_WRITE(pmpcfg1, config1);
    CSR_WRITE(pmpcfg0, config0);
}

void rv_start(void)
{
    protect_memory();
    /* .data (and .tdata after it) from flash; .tbss and .bss zeroed: one block each in picolibc.ld. */
    memcpy(__data_start, __data_source, (size_t)__data_size);
    memset(__bss_start, 0, (size_t)__bss_size);
    _set_tls(__tls_base); /* errno and friends are thread-local in picolibc */
    console_in.handle = open_console(0);
    console_out.handle = open_console(4);
    console_err.handle = open_console(8);
    __libc_init_array();
    exit(main());
}

void _exit(int status)
{
    console_flush(stdout);
    console_flush(stderr);
    /* The device keeps 16 bits of the code; QEMU's exit status keeps the low 8 of those, so any
     * non-zero status must stay non-zero after both cuts. */
    uint32_t code = (uint32_t)status & 0xFFu;
    if (status != 0 && code == 0) code = 1;
    TEST_FINISHER = code == 0 ? FINISHER_PASS : (code << 16) | FINISHER_FAIL;
    for (;;) {
    }
}

/* picolibc's raise() (behind abort(), and so a failed assert()) signals the process through these:
 * one process, and a signal ends it with status 128 + signal, as a POSIX shell reports it. */
int getpid(void)
{
    return 1;
}

int kill(int pid, int signal)
{
    (void)pid;
    _exit(128 + signal);
}

/* Called from rv_trap_entry on its own stack. Formats without stdio (the trap may have hit inside
 * it) and exits with 70, the code the Cortex-M platform uses for a CPU fault. */
static char *append_hex(char *out, const char *label, uint32_t value)
{
    while (*label) *out++ = *label++;
    for (int shift = 28; shift >= 0; shift -= 4)
        *out++ = "0123456789abcdef"[(value >> shift) & 0xFu];
    return out;
}

void rv_trap(uint32_t cause, uint32_t pc, uint32_t value)
{
    char line[96];
    char *end = line;
    end = append_hex(end, "FATAL: CPU trap mcause=0x", cause);
    end = append_hex(end, " mepc=0x", pc);
    end = append_hex(end, " mtval=0x", value);
    *end++ = '\n';
    console_flush(stdout);
    console_write(console_out.handle, line, (size_t)(end - line));
    console_out.used = 0;
    console_err.used = 0;
    _exit(70);
}
