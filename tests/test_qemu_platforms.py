"""The QEMU platforms' own code, run in QEMU: the rv32 startup (firmware/platforms/qemu_riscv) and
the Cortex-M startup + linker script on the micro:bit map (firmware/platforms/qemu_arm), each with
the instruction counter of firmware/src/counter.c.

Checked: the exit code reaches the shell, stdin is read to EOF (last line without '\\n' included),
a CPU trap or fault ends the run with 70 instead of hanging, the counter measures a loop of known
length, and an image too big for the board's flash or RAM is refused by the linker.

Images are built here with the compiler and QEMU options of the platforms' builders (memory map and
QEMU machine from the board JSON); the PlatformIO envs run the firmware's own suites."""
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ROOT / "firmware" / "platforms"
BOARDS = ROOT / "firmware" / "boards"
COUNTER = ROOT / "firmware" / "src" / "counter.c"
STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections"]
FAULT_EXIT = 70  # both platforms' code for a CPU trap / fault

# One program for both targets: the first stdin line picks what it does.
PROGRAM = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"

void spin(uint32_t iterations);  /* a loop of exactly 2 instructions per iteration (asm below) */
void fault(void);                /* an instruction the core must refuse */

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
"""

RV32_ASM = r"""
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
"""

THUMB_ASM = r"""
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
"""


def _board(name: str) -> dict:
    return json.loads((BOARDS / f"{name}.json").read_text())


def _run(command, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, **kwargs)


def _compile(cc, flags, sources, work: Path) -> list[Path]:
    objects = []
    for source in sources:
        obj = work / f"{source.parent.name}_{source.name}.o"
        result = _run([cc, *flags, "-I", COUNTER.parent, "-c", source, "-o", obj], text=True)
        assert result.returncode == 0, result.stderr
        objects.append(obj)
    return objects


def _oversized(declaration: str) -> str:
    """Extra C for the program: an array kept by the linker (a constructor touches it)."""
    return (declaration + "\n__attribute__((constructor)) static void touch(void)\n"
            "{ ((volatile unsigned char *)big)[1] = ((volatile unsigned char *)big)[0]; }\n")


def _write_program(work: Path, asm: str, extra_c: str = "") -> list[Path]:
    (work / "program.c").write_text(PROGRAM + extra_c)
    (work / "asm.S").write_text(asm)
    return [work / "program.c", work / "asm.S"]


# --- RISC-V rv32imc on QEMU virt ---------------------------------------------------------------

RV32 = _board("qemu_virt_rv32")
needs_rv32 = pytest.mark.skipif(
    shutil.which("riscv64-unknown-elf-gcc") is None or shutil.which("qemu-system-riscv32") is None,
    reason="riscv64-unknown-elf-gcc or qemu-system-riscv32 is not installed",
)


def _rv32_link(work: Path, extra_c: str = "") -> subprocess.CompletedProcess:
    build, upload = RV32["build"], RV32["upload"]
    arch = [f"-march={build['march']}", f"-mabi={build['mabi']}", "--specs=picolibc.specs"]
    startup = PLATFORMS / "qemu_riscv" / "startup"
    sources = [startup / "start.S", startup / "startup.c", COUNTER, *_write_program(work, RV32_ASM, extra_c)]
    objects = _compile("riscv64-unknown-elf-gcc", [*arch, *STRICT, "-DTEXTCLF_QEMU_RISCV"], sources, work)
    symbols = {"__flash": build["flash_start"], "__flash_size": upload["maximum_size"],
               "__ram": build["ram_start"], "__ram_size": upload["maximum_ram_size"],
               "__stack_size": build["stack_size"]}
    return _run(["riscv64-unknown-elf-gcc", *arch, "-nostartfiles", "-Wl,--gc-sections", "-Tpicolibc.ld",
                 *[f"-Wl,--defsym={k}={v}" for k, v in symbols.items()], *objects, "-lm",
                 "-o", work / "program.elf"], text=True)


@pytest.fixture(scope="module")
def rv32_elf(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("rv32")
    result = _rv32_link(work)
    assert result.returncode == 0, result.stderr
    return work / "program.elf"


def _run_rv32(elf: Path, stdin: bytes) -> subprocess.CompletedProcess:
    build = RV32["build"]
    return _run(["qemu-system-riscv32", "-M", build["qemu_machine"], "-cpu", build["qemu_cpu"], "-bios", "none",
                 "-nographic", "-monitor", "none", "-serial", "none", "-icount", "shift=0",
                 "-semihosting-config", "enable=on,target=native", "-kernel", elf], input=stdin, timeout=120)


@needs_rv32
@pytest.mark.parametrize("code", [0, 3, 42])
def test_rv32_exit_code_reaches_the_shell(rv32_elf, code):
    assert _run_rv32(rv32_elf, f"exit {code}\n".encode()).returncode == code


@needs_rv32
def test_rv32_exit_code_that_is_zero_mod_256_stays_a_failure(rv32_elf):
    assert _run_rv32(rv32_elf, b"exit 256\n").returncode == 1


@needs_rv32
def test_rv32_reads_stdin_to_eof(rv32_elf):
    result = _run_rv32(rv32_elf, b"echo\nfirst line\n\nlast line without newline")
    assert result.returncode == 0
    assert result.stdout.decode() == "1:first line\n2:\n3:last line without newline\nend after 3\n"


@needs_rv32
def test_rv32_empty_stdin_is_eof(rv32_elf):
    assert _run_rv32(rv32_elf, b"").returncode == 99


@needs_rv32
@pytest.mark.parametrize("mode, cause", [
    ("fault", 2),            # illegal instruction
    ("write-code", 7),       # store access fault: the PMP keeps flash read + execute only
    ("stack-overflow", 7),   # store access fault on the guard band below the stack
])
def test_rv32_trap_exits_70_with_a_report(rv32_elf, mode, cause):
    result = _run_rv32(rv32_elf, f"{mode}\n".encode())
    assert result.returncode == FAULT_EXIT, result.stdout
    assert f"FATAL: CPU trap mcause=0x{cause:08x}" in result.stdout.decode()
    assert "still running" not in result.stdout.decode()


@needs_rv32
def test_rv32_counter_counts_every_instruction(rv32_elf):
    """minstret under -icount: the loop costs exactly 2 instructions per iteration, run to run."""
    counts = {}
    for n in (1000, 3000):
        outputs = {_run_rv32(rv32_elf, f"count {n}\n".encode()).stdout for _ in range(2)}
        assert len(outputs) == 1, outputs  # identical run to run
        counts[n] = int(outputs.pop().decode().strip().split("instructions=")[1])
    assert counts[3000] - counts[1000] == 2 * 2000
    assert 2000 <= counts[1000] < 2000 + 50  # the loop plus a few instructions of call overhead


@needs_rv32
def test_rv32_image_over_the_boards_flash_or_ram_does_not_link(tmp_path):
    for region, declaration in [
        ("flash", "const unsigned char big[%d] = {1};" % RV32["upload"]["maximum_size"]),
        ("ram", "unsigned char big[%d];" % RV32["upload"]["maximum_ram_size"]),
    ]:
        (tmp_path / region).mkdir()
        result = _rv32_link(tmp_path / region, _oversized(declaration))
        assert result.returncode != 0 and f"region `{region}' overflowed" in result.stderr, result.stderr


# --- Cortex-M0 on QEMU microbit ----------------------------------------------------------------

MICROBIT = _board("microbit_nrf51")
needs_arm = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm is not installed",
)


def _m0_link(work: Path, extra_c: str = "") -> subprocess.CompletedProcess:
    build, upload = MICROBIT["build"], MICROBIT["upload"]
    cpu = ["-mthumb", f"-mcpu={build['cpu']}"]
    hz = int(build["f_cpu"].rstrip("L"))
    gcd = math.gcd(1_000_000_000, hz)  # as the builder reduces 1e9 / f_cpu: 125/2 at 16 MHz
    counter = ["-DTEXTCLF_QEMU_CORTEX_M", f"-DTEXTCLF_INSTRUCTIONS_PER_TICK_NUM={1_000_000_000 // gcd}u",
               f"-DTEXTCLF_INSTRUCTIONS_PER_TICK_DEN={hz // gcd}u"]
    startup = PLATFORMS / "qemu_arm" / "startup"
    sources = [startup / "startup.c", COUNTER, *_write_program(work, THUMB_ASM, extra_c)]
    objects = _compile("arm-none-eabi-gcc", [*cpu, *STRICT, *counter], sources, work)
    symbols = {"__flash_start": build["flash_start"], "__flash_size": upload["maximum_size"],
               "__ram_start": build["ram_start"], "__ram_size": upload["maximum_ram_size"],
               "__stack_size": build["stack_size"], "__heap_size": build["heap_size"]}
    return _run(["arm-none-eabi-gcc", *cpu, "--specs=nano.specs", "--specs=rdimon.specs", "-Wl,--gc-sections",
                 "-T", startup / "cortex_m.ld", *[f"-Wl,--defsym={k}={v}" for k, v in symbols.items()],
                 *objects, "-lm", "-lrdimon", "-o", work / "program.elf"], text=True)


@pytest.fixture(scope="module")
def m0_elf(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("m0")
    result = _m0_link(work)
    assert result.returncode == 0, result.stderr
    return work / "program.elf"


def _run_m0(elf: Path, stdin: bytes) -> subprocess.CompletedProcess:
    return _run(["qemu-system-arm", "-M", MICROBIT["build"]["qemu_machine"], "-nographic", "-monitor", "none",
                 "-serial", "none", "-icount", "shift=0", "-semihosting-config", "enable=on,target=native",
                 "-kernel", elf], input=stdin, timeout=120)


@needs_arm
@pytest.mark.parametrize("code", [0, 3])
def test_m0_exit_code_reaches_the_shell(m0_elf, code):
    assert _run_m0(m0_elf, f"exit {code}\n".encode()).returncode == code


@needs_arm
def test_m0_reads_stdin_to_eof(m0_elf):
    result = _run_m0(m0_elf, b"echo\nfirst line\nlast line without newline")
    assert result.returncode == 0
    assert result.stdout.decode() == "1:first line\n2:last line without newline\nend after 2\n"


@needs_arm
def test_m0_fault_exits_70(m0_elf):
    result = _run_m0(m0_elf, b"fault\n")
    assert result.returncode == FAULT_EXIT
    assert "FATAL: CPU fault" in result.stdout.decode()


@needs_arm
def test_m0_systick_counts_instructions_at_16_mhz(m0_elf):
    """SysTick ticks at 16 MHz under -icount shift=0: 62.5 instructions per tick, run to run."""
    counts = {}
    for n in (10000, 30000):
        outputs = {_run_m0(m0_elf, f"count {n}\n".encode()).stdout for _ in range(2)}
        assert len(outputs) == 1, outputs
        counts[n] = int(outputs.pop().decode().strip().split("instructions=")[1])
    assert abs(counts[30000] - counts[10000] - 2 * 20000) <= 63  # one tick of resolution
    assert 20000 - 63 <= counts[10000] <= 20000 + 200


@needs_arm
def test_m0_image_over_256k_flash_or_16k_ram_does_not_link(tmp_path):
    # 16 KB of RAM minus the 2 KB stack and 1 KB heap reservations: a 14 KB buffer no longer fits.
    for region, declaration in [("FLASH", "const unsigned char big[256 * 1024] = {1};"),
                                ("RAM", "unsigned char big[14 * 1024];")]:
        (tmp_path / region).mkdir()
        result = _m0_link(tmp_path / region, _oversized(declaration))
        assert result.returncode != 0 and f"region `{region}' overflowed" in result.stderr, result.stderr
