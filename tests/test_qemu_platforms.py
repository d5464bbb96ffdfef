"""The QEMU platforms' own code, run in QEMU: the rv32 startup (toolchain/device/platforms/
qemu_riscv) and the Cortex-M startup + linker script on the micro:bit map (qemu_arm), each with the
instruction counter of the firmware's app (toolchain/device/app/counter.c).

Checked: the exit code reaches the shell, stdin is read to EOF (last line without '\\n' included),
a CPU trap or fault ends the run with 70 instead of hanging, the counter measures a loop of known
length, and an image too big for the board's flash or RAM is refused by the linker.

The probe (tests/c/platform_probe.c) is built through toolchain.cbuild, whose cores take their
flags, memory map and QEMU machine from the same board JSONs as the PlatformIO platforms."""
from pathlib import Path

import pytest

from toolchain import cbuild
from toolchain.resources import device_dir

pytestmark = pytest.mark.qemu

C = Path(__file__).parent / "c"
COUNTER = device_dir() / "app" / "counter.c"
FAULT_EXIT = 70  # both platforms' code for a CPU trap / fault
RV32 = cbuild.core("rv32imc")
M0 = cbuild.core("cortex-m0")
ASM = {"rv32imc": C / "platform_probe_rv32.S", "cortex-m0": C / "platform_probe_thumb.S"}


def link(core: cbuild.Core, work: Path, defines=()) -> Path:
    build = cbuild.Build(core, include_dirs=[COUNTER.parent], defines=list(defines))
    return build.program([C / "platform_probe.c", ASM[core.name], COUNTER], work / "probe.elf")


def run(core: cbuild.Core, elf: Path, stdin: bytes):
    return cbuild.run(elf, core, stdin=stdin, timeout=120, check=False)


@pytest.fixture(scope="module")
def rv32_elf(tmp_path_factory) -> Path:
    return link(RV32, tmp_path_factory.mktemp("rv32"))


@pytest.fixture(scope="module")
def m0_elf(tmp_path_factory) -> Path:
    return link(M0, tmp_path_factory.mktemp("m0"))


# --- RISC-V rv32imc on QEMU virt ---------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 3, 42])
def test_rv32_exit_code_reaches_the_shell(rv32_elf, code):
    assert run(RV32, rv32_elf, f"exit {code}\n".encode()).returncode == code


def test_rv32_exit_code_that_is_zero_mod_256_stays_a_failure(rv32_elf):
    assert run(RV32, rv32_elf, b"exit 256\n").returncode == 1


def test_rv32_reads_stdin_to_eof(rv32_elf):
    result = run(RV32, rv32_elf, b"echo\nfirst line\n\nlast line without newline")
    assert result.returncode == 0
    assert result.stdout.decode() == "1:first line\n2:\n3:last line without newline\nend after 3\n"


def test_rv32_empty_stdin_is_eof(rv32_elf):
    assert run(RV32, rv32_elf, b"").returncode == 99


@pytest.mark.parametrize("mode, cause", [
    ("fault", 2),            # illegal instruction
    ("write-code", 7),       # store access fault: the PMP keeps flash read + execute only
    ("stack-overflow", 7),   # store access fault on the guard band below the stack
])
def test_rv32_trap_exits_70_with_a_report(rv32_elf, mode, cause):
    result = run(RV32, rv32_elf, f"{mode}\n".encode())
    assert result.returncode == FAULT_EXIT, result.stdout
    assert f"FATAL: CPU trap mcause=0x{cause:08x}" in result.stdout.decode()
    assert "still running" not in result.stdout.decode()


def test_rv32_counter_counts_every_instruction(rv32_elf):
    """minstret under -icount: the loop costs exactly 2 instructions per iteration, run to run."""
    counts = {}
    for n in (1000, 3000):
        outputs = {run(RV32, rv32_elf, f"count {n}\n".encode()).stdout for _ in range(2)}
        assert len(outputs) == 1, outputs  # identical run to run
        counts[n] = int(outputs.pop().decode().strip().split("instructions=")[1])
    assert counts[3000] - counts[1000] == 2 * 2000
    assert 2000 <= counts[1000] < 2000 + 50  # the loop plus a few instructions of call overhead


@pytest.mark.parametrize("region, define", [("flash", "BIG_FLASH"), ("ram", "BIG_RAM")])
def test_rv32_image_over_the_boards_flash_or_ram_does_not_link(region, define, tmp_path):
    size = dict(RV32.memory)["__flash_size" if region == "flash" else "__ram_size"]
    with pytest.raises(cbuild.CompileError) as failure:
        link(RV32, tmp_path, [f"{define}={size}"])
    assert f"region `{region}' overflowed" in failure.value.log


# --- Cortex-M0 on QEMU microbit ----------------------------------------------------------------


@pytest.mark.parametrize("code", [0, 3])
def test_m0_exit_code_reaches_the_shell(m0_elf, code):
    assert run(M0, m0_elf, f"exit {code}\n".encode()).returncode == code


def test_m0_reads_stdin_to_eof(m0_elf):
    result = run(M0, m0_elf, b"echo\nfirst line\nlast line without newline")
    assert result.returncode == 0
    assert result.stdout.decode() == "1:first line\n2:last line without newline\nend after 2\n"


def test_m0_fault_exits_70(m0_elf):
    result = run(M0, m0_elf, b"fault\n")
    assert result.returncode == FAULT_EXIT
    assert "FATAL: CPU fault" in result.stdout.decode()


def test_m0_systick_counts_instructions_at_16_mhz(m0_elf):
    """SysTick ticks at 16 MHz under -icount shift=0: 62.5 instructions per tick, run to run."""
    counts = {}
    for n in (10000, 30000):
        outputs = {run(M0, m0_elf, f"count {n}\n".encode()).stdout for _ in range(2)}
        assert len(outputs) == 1, outputs
        counts[n] = int(outputs.pop().decode().strip().split("instructions=")[1])
    assert abs(counts[30000] - counts[10000] - 2 * 20000) <= 63  # one tick of resolution
    assert 20000 - 63 <= counts[10000] <= 20000 + 200


# 16 KB of RAM minus the 2 KB stack and 1 KB heap reservations: a 14 KB buffer no longer fits.
@pytest.mark.parametrize("region, define", [("FLASH", "BIG_FLASH=262144"), ("RAM", "BIG_RAM=14336")])
def test_m0_image_over_256k_flash_or_16k_ram_does_not_link(region, define, tmp_path):
    with pytest.raises(cbuild.CompileError) as failure:
        link(M0, tmp_path, [define])
    assert f"region `{region}' overflowed" in failure.value.log
