"""SCons builder for rv32imc images run in qemu-system-riscv32 on the virt machine.

The toolchain and C library come from Debian (riscv64-unknown-elf-gcc, picolibc), so nothing is
downloaded. Board JSON supplies `build.march`, `build.mabi`, `build.qemu_machine`, `build.qemu_cpu`
and the memory map: `build.flash_start`, `build.ram_start`, `build.stack_size`,
`upload.maximum_size` (flash bytes) and `upload.maximum_ram_size` (RAM bytes).
I/O is semihosting (stdin/stdout); the run ends through the virt machine's SiFive test device, which
gives QEMU the program's exit code (startup/startup.c).
"""
import os
import sys

from SCons.Script import DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
platform_dir = env.PioPlatform().get_dir()

# rv32imc picks picolibc's rv32im multilib (compatible: the library just has no compressed code).
arch_flags = ["-march={}".format(board.get("build.march")), "-mabi={}".format(board.get("build.mabi"))]
# picolibc.specs gives picolibc's headers, libraries and its linker script picolibc.ld, which takes
# the memory map as symbols: an image too big for the board's flash or RAM (data + bss + stack)
# fails to link with "region `flash' overflowed" / "region `ram' overflowed".
libc_flags = ["--specs=picolibc.specs"]
memory_map = {
    "__flash": board.get("build.flash_start"),
    "__flash_size": board.get("upload.maximum_size"),
    "__ram": board.get("build.ram_start"),
    "__ram_size": board.get("upload.maximum_ram_size"),
    "__stack_size": board.get("build.stack_size"),
}

env.Replace(
    AR="riscv64-unknown-elf-gcc-ar",
    AS="riscv64-unknown-elf-as",
    CC="riscv64-unknown-elf-gcc",
    CXX="riscv64-unknown-elf-g++",
    GDB="gdb-multiarch",
    OBJCOPY="riscv64-unknown-elf-objcopy",
    RANLIB="riscv64-unknown-elf-gcc-ranlib",
    SIZETOOL="riscv64-unknown-elf-size",
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    SIZEPROGREGEXP=r"^(?:\.init|\.text|\.data|\.tdata)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.tdata|\.tbss|\.bss|\.stack)\s+(\d+).*",
)
env.Append(
    ASFLAGS=arch_flags + libc_flags,
    CCFLAGS=arch_flags + libc_flags + ["-ffunction-sections", "-fdata-sections"],
    CPPDEFINES=[
        "TEXTCLF_QEMU_RISCV",
        ("TEXTCLF_CORE", '\\"{}\\"'.format(board.get("build.march"))),
        ("TEXTCLF_CLOCK_HZ", "{}ul".format(str(board.get("build.f_cpu")).rstrip("L"))),
    ],
    LINKFLAGS=arch_flags + libc_flags + [
        "-nostartfiles",  # startup/ replaces picolibc's crt0 (see startup.c for why)
        "-Wl,--gc-sections",
        "-Wl,-Map,${BUILD_DIR}/firmware.map",
        "-Tpicolibc.ld",
    ] + ["-Wl,--defsym={}={}".format(name, value) for name, value in memory_map.items()],
    LIBS=["m"],
)
# Startup code (entry, trap exit, stdio over semihosting, exit through the test device) is part of
# the platform, like a framework.
env.BuildSources(os.path.join("$BUILD_DIR", "startup"), os.path.join(platform_dir, "startup"))

program = env.BuildProgram()

# build/<env>/program runs the image in QEMU (shared with the other QEMU platform).
sys.path.insert(0, os.path.dirname(os.path.realpath(platform_dir)))
from qemu_launcher import add_launcher  # noqa: E402

add_launcher(
    env,
    program,
    "qemu_riscv",
    [
        "qemu-system-riscv32", "-M", board.get("build.qemu_machine"), "-cpu", board.get("build.qemu_cpu"),
        "-bios", "none", "-nographic", "-monitor", "none", "-serial", "none", "-icount", "shift=0",
        "-semihosting-config", "enable=on,target=native",
    ],
)
