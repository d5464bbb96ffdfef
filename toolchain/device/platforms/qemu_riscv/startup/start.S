/* Entry point and trap entry for rv32 on QEMU's virt machine (machine mode, no interrupts).
 * picolibc.ld places .text.init.enter first, at the flash origin, where QEMU's reset code jumps
 * when run with -bios none. */

    /* CSR instructions: binutils 2.40 no longer implies Zicsr in rv32imc (and -march=rv32imc_zicsr
     * would select no picolibc multilib), so enable them for this file only. */
    .option arch, +zicsr

    .section .text.init.enter, "ax"
    .global _start
_start:
    /* gp must be set before any gp-relative access; the linker must not relax this into one. */
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, __stack
    la t0, rv_trap_entry
    csrw mtvec, t0          /* direct mode: every exception lands in rv_trap_entry */
    call rv_start           /* startup.c: RAM init, constructors, exit(main()) */
1:  j 1b                    /* not reached: rv_start ends through the test device */

/* Any exception (illegal instruction, misaligned or faulting access, ecall) is fatal: report it
 * and exit non-zero, so a crash fails a test run instead of hanging it. The trap may come from a
 * broken stack pointer, so the report runs on a stack of its own. */
    .section .text.rv_trap_entry, "ax"
    .balign 4
    .global rv_trap_entry
rv_trap_entry:
    la sp, rv_trap_stack_top
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call rv_trap            /* does not return */
2:  j 2b

    .section .bss.rv_trap_stack, "aw", @nobits
    .balign 16
rv_trap_stack:
    .space 512
rv_trap_stack_top:

/* One semihosting request: a0 = operation, a1 = parameter block; result in a0. QEMU recognises
 * the call by this exact uncompressed sequence around ebreak; the 16-byte alignment keeps the
 * three instructions on one page, as the RISC-V semihosting specification requires. */
    .section .text.semihost_call, "ax"
    .balign 16
    .global semihost_call
semihost_call:
    .option push
    .option norvc
    slli zero, zero, 0x1f
    ebreak
    srai zero, zero, 7
    .option pop
    ret
