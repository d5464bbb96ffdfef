"""SCons builder for Cortex-M images run in qemu-system-arm (MPS2 boards, micro:bit; semihosting I/O).

The toolchain comes from Debian (arm-none-eabi-* on PATH), so nothing is downloaded.
Board JSON supplies `build.cpu`, `build.fpu_flags`, `build.qemu_machine`, `build.f_cpu` (the clock
QEMU gives SysTick) and the memory map: `build.flash_start`, `build.ram_start`, `build.stack_size`,
`build.heap_size` (optional), `upload.maximum_size` (flash bytes) and `upload.maximum_ram_size`
(RAM bytes).
"""
import math
import os
import sys

from SCons.Script import DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
platform_dir = env.PioPlatform().get_dir()

cpu_flags = ["-mthumb", "-mcpu={}".format(board.get("build.cpu"))] + board.get("build.fpu_flags", [])

# The linker script takes the board's memory map as symbols, so one script serves every board and
# an image too big for the board's flash or RAM is refused at link time.
memory_map = {
    "__flash_start": board.get("build.flash_start"),
    "__flash_size": board.get("upload.maximum_size"),
    "__ram_start": board.get("build.ram_start"),
    "__ram_size": board.get("upload.maximum_ram_size"),
    "__stack_size": board.get("build.stack_size"),
    "__heap_size": board.get("build.heap_size", None),
}

# With -icount shift=0 QEMU's virtual clock advances 1 ns per guest instruction, and it clocks
# SysTick at the board's f_cpu: one tick = 1e9 / f_cpu instructions, passed to counter.c as a
# reduced fraction (25 MHz: 40/1; the micro:bit's 16 MHz: 125/2).
systick_hz = int(str(board.get("build.f_cpu")).rstrip("L"))
ticks_gcd = math.gcd(1000000000, systick_hz)
env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-as",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    GDB="gdb-multiarch",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    SIZEPROGREGEXP=r"^(?:\.text|\.data|\.rodata|\.ARM\.exidx|\.ARM\.extab)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.noinit|\.heap|\.stack)\s+(\d+).*",
)
env.Append(
    ASFLAGS=cpu_flags,
    CCFLAGS=cpu_flags + ["-ffunction-sections", "-fdata-sections"],
    CPPDEFINES=[
        "TEXTCLF_QEMU_CORTEX_M",
        ("TEXTCLF_CORE", '\\"{}\\"'.format(board.get("build.cpu"))),
        ("TEXTCLF_CLOCK_HZ", "%dul" % systick_hz),
        ("TEXTCLF_INSTRUCTIONS_PER_TICK_NUM", "%du" % (1000000000 // ticks_gcd)),
        ("TEXTCLF_INSTRUCTIONS_PER_TICK_DEN", "%du" % (systick_hz // ticks_gcd)),
    ],
    LINKFLAGS=cpu_flags + [
        "--specs=nano.specs",
        "--specs=rdimon.specs",
        "-Wl,--gc-sections",
        "-Wl,-Map,${BUILD_DIR}/firmware.map",
        "-T", os.path.join(platform_dir, "startup", "cortex_m.ld"),
    ] + ["-Wl,--defsym={}={}".format(name, value) for name, value in memory_map.items() if value is not None],
    LIBS=["m", "rdimon"],
)
# Startup code (vector table, reset handler, fault exit) is part of the platform, like a framework.
env.BuildSources(os.path.join("$BUILD_DIR", "startup"), os.path.join(platform_dir, "startup"))

program = env.BuildProgram()

# build/<env>/program runs the image in QEMU (shared with the other QEMU platform).
sys.path.insert(0, os.path.dirname(os.path.realpath(platform_dir)))
from qemu_launcher import add_launcher  # noqa: E402

add_launcher(
    env,
    program,
    "qemu_arm",
    [
        "qemu-system-arm", "-M", board.get("build.qemu_machine"), "-nographic", "-monitor", "none",
        "-serial", "none", "-icount", "shift=0", "-semihosting-config", "enable=on,target=native",
    ],
)
