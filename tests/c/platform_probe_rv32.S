/* spin: 2 instructions per iteration; fault: an illegal instruction (rv32). */
    .text
    .global spin
spin:
1:  addi a0, a0, -1
    bnez a0, 1b
    ret
    .global fault
fault:
    .word 0          /* all-zero: an illegal instruction by definition */
    ret
