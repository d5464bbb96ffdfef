/* spin: 2 instructions per iteration; fault: a permanently undefined instruction (Thumb). */
    .syntax unified
    .thumb
    .text
    .global spin
    .thumb_func
spin:
1:  subs r0, r0, #1
    bne 1b
    bx lr
    .global fault
    .thumb_func
fault:
    udf #0           /* permanently undefined: HardFault on ARMv6-M */
    bx lr
