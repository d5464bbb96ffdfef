"""The one recipe for building the device side outside PlatformIO: the runtime, a model library
and a program around them, compiled for this machine or cross-compiled for a microcontroller core,
and run natively or in QEMU.

`export` checks what it generates with it, the targets' fit check measures code with it, and the
tests, benchmarks and the fuzzer build through it. (The firmware a user flashes is built by
PlatformIO, through the platforms in toolchain/device/platforms, with the same core flags.)
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from toolchain.errors import ToolchainError
from toolchain.resources import device_dir

STRICT_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g")
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Core:
    """A compiler and, for a microcontroller core, how its programs link and run in QEMU. The
    microcontroller cores are read from the board JSONs of toolchain/device/boards, the same the
    PlatformIO platforms build with: one definition of each core's flags and memory map."""

    name: str
    cc: str
    arch_flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    memory: tuple[tuple[str, int | str], ...] = ()  # linker symbols of the memory map
    libs: tuple[str, ...] = ("-lm",)
    size_tool: str = "size"
    startup: tuple[str, ...] = ()  # sources under toolchain/device/platforms/ linked into programs
    qemu: tuple[str, ...] = ()  # the QEMU command before the image's path; () = runs natively
    dsp: bool = False  # has the DSP extension (SMLAD): the optimized kernels use it
    objcopy: tuple[str, ...] = ("objcopy", "-O", "elf64-x86-64", "-B", "i386:x86-64")
    defines: tuple[str, ...] = ()  # what the platform's builder defines (the app's counter reads them)

    @property
    def native(self) -> bool:
        return not self.qemu

    def binary_object(self, blob: Path) -> Path:
        """An object file holding `blob`'s bytes read-only, as _binary_<name>_start/_end (objcopy),
        to link data into a program without generating C text for it."""
        obj = blob.with_suffix(f".{self.name}.o")
        subprocess.run([*self.objcopy, "-I", "binary", "--rename-section",
                        ".data=.rodata,alloc,load,readonly,data,contents", blob.name, obj.name],
                       cwd=blob.parent, check=True, capture_output=True)
        return obj

    def unbounded(self) -> Core:
        """The same core with room for any image: fit checks measure overflows instead of failing."""
        sizes = {"__flash_size": 1 << 26, "__ram_size": 1 << 26}
        return dataclasses.replace(self, memory=tuple((k, sizes.get(k, v)) for k, v in self.memory))


def _board(name: str) -> dict:
    return json.loads((device_dir() / "boards" / f"{name}.json").read_text())


def _cortex_m(board_name: str) -> Core:
    board = _board(board_name)
    build, upload = board["build"], board["upload"]
    # As the qemu_arm builder: SysTick ticks at f_cpu, one tick = 1e9 / f_cpu instructions (reduced).
    hz = int(str(build["f_cpu"]).rstrip("L"))
    gcd = math.gcd(1_000_000_000, hz)
    flags = ("-mthumb", f"-mcpu={build['cpu']}", *build.get("fpu_flags", []))
    memory = (("__flash_start", build["flash_start"]), ("__flash_size", upload["maximum_size"]),
              ("__ram_start", build["ram_start"]), ("__ram_size", upload["maximum_ram_size"]),
              ("__stack_size", build["stack_size"]))
    if "heap_size" in build:
        memory += (("__heap_size", build["heap_size"]),)
    return Core(
        name=build["cpu"],
        cc="arm-none-eabi-gcc",
        arch_flags=(*flags, "-ffunction-sections", "-fdata-sections"),
        link_flags=(*flags, "--specs=nano.specs", "--specs=rdimon.specs", "-Wl,--gc-sections",
                    "-T", "{platforms}/qemu_arm/startup/cortex_m.ld"),
        memory=memory,
        libs=("-lm", "-lrdimon"),
        size_tool="arm-none-eabi-size",
        startup=("qemu_arm/startup/startup.c",),
        qemu=("qemu-system-arm", "-M", build["qemu_machine"], "-nographic", "-monitor", "none", "-serial", "none",
              "-icount", "shift=0", "-semihosting-config", "enable=on,target=native", "-kernel"),
        dsp=build["cpu"] in ("cortex-m4", "cortex-m7"),
        objcopy=("arm-none-eabi-objcopy", "-O", "elf32-littlearm", "-B", "arm"),
        defines=("TEXTCLF_QEMU_CORTEX_M", f"TEXTCLF_INSTRUCTIONS_PER_TICK_NUM={1_000_000_000 // gcd}u",
                 f"TEXTCLF_INSTRUCTIONS_PER_TICK_DEN={hz // gcd}u"),
    )


def _riscv(board_name: str) -> Core:
    board = _board(board_name)
    build, upload = board["build"], board["upload"]
    flags = (f"-march={build['march']}", f"-mabi={build['mabi']}", "--specs=picolibc.specs")
    return Core(
        name=build["march"],
        cc="riscv64-unknown-elf-gcc",
        arch_flags=(*flags, "-ffunction-sections", "-fdata-sections"),
        link_flags=(*flags, "-nostartfiles", "-Wl,--gc-sections", "-Tpicolibc.ld"),
        memory=(("__flash", build["flash_start"]), ("__flash_size", upload["maximum_size"]),
                ("__ram", build["ram_start"]), ("__ram_size", upload["maximum_ram_size"]),
                ("__stack_size", build["stack_size"])),
        size_tool="riscv64-unknown-elf-size",
        startup=("qemu_riscv/startup/start.S", "qemu_riscv/startup/startup.c"),
        qemu=("qemu-system-riscv32", "-M", build["qemu_machine"], "-cpu", build["qemu_cpu"], "-bios", "none",
              "-nographic", "-monitor", "none", "-serial", "none", "-icount", "shift=0",
              "-semihosting-config", "enable=on,target=native", "-kernel"),
        objcopy=("riscv64-unknown-elf-objcopy", "-O", "elf32-littleriscv", "-B", "riscv"),
        defines=("TEXTCLF_QEMU_RISCV",),
    )


HOST = Core(name="host", cc="gcc")
CORES = {
    "host": HOST,
    "cortex-m0": _cortex_m("microbit_nrf51"),
    "cortex-m3": _cortex_m("mps2_an385"),
    "cortex-m4": _cortex_m("mps2_an386"),
    "cortex-m7": _cortex_m("mps2_an500"),
    "rv32imc": _riscv("qemu_virt_rv32"),
}


def core(name: str) -> Core:
    try:
        return CORES[name]
    except KeyError:
        raise ToolchainError(f"unknown core {name!r} (known: {', '.join(CORES)})") from None


def available(core_: Core) -> bool:
    """Whether this machine has the core's compiler (and QEMU, for a core that needs it)."""
    return shutil.which(core_.cc) is not None and (core_.native or shutil.which(core_.qemu[0]) is not None)


def write_sources(folder: Path, files: dict[str, bytes | str]) -> Path:
    """Writes a library's files (path relative to the library -> bytes or UTF-8 text) under
    `folder`, to be built from there; returns `folder`."""
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return folder


def c_sources(*roots: Path) -> list[Path]:
    """Every .c file under the given folders (or the files themselves), in a stable order."""
    found: list[Path] = []
    for root in roots:
        root = Path(root)
        found += [root] if root.is_file() else sorted(root.rglob("*.c"))
    return found


@dataclass
class Build:
    """Compiles sources into a program for one core. Objects are cached by content (source, flags
    and headers of the include folders), so the runtime compiles once per session and flags."""

    core: Core = HOST
    include_dirs: list[Path] = field(default_factory=list)
    defines: list[str] = field(default_factory=list)
    optimize: str = "-O2"
    sanitize: bool = False
    extra_flags: list[str] = field(default_factory=list)

    def flags(self) -> list[str]:
        flags = [*STRICT_FLAGS, self.optimize, *self.core.arch_flags, *self.extra_flags]
        flags += [f"-D{d}" for d in (*self.core.defines, *self.defines)]
        flags += list(SANITIZE_FLAGS) if self.sanitize else []
        for directory in self.include_dirs:
            flags += ["-I", str(directory)]
        return flags

    def _headers_digest(self) -> str:
        digest = hashlib.sha256()
        for directory in self.include_dirs:
            for header in sorted(Path(directory).rglob("*.h")):
                digest.update(str(header).encode())
                digest.update(header.read_bytes())
        return digest.hexdigest()

    def objects(self, sources: list[Path], work: Path) -> list[Path]:
        work.mkdir(parents=True, exist_ok=True)
        flags = self.flags()
        headers = self._headers_digest()
        objects = []
        for source in sources:
            key = hashlib.sha256("\0".join([str(source), source.read_text(errors="replace"), headers, *flags])
                                 .encode()).hexdigest()[:20]
            obj = work / f"{source.stem}-{key}.o"
            if not obj.exists():
                _run([self.core.cc, *flags, "-c", str(source), "-o", str(obj)])
            objects.append(obj)
        return objects

    def program(self, sources: list[Path], output: Path, objects: list[Path] = ()) -> Path:
        """Compiles and links `sources` (plus ready `objects`, plus the core's startup code)."""
        work = output.parent / "objects"
        startup = [device_dir() / "platforms" / path for path in self.core.startup]
        if startup:
            # The platform's startup code is built as the PlatformIO builder builds it.
            startup_build = Build(self.core, optimize="-O2")
            objects = [*objects, *startup_build._startup_objects(startup, work)]
        built = self.objects(list(sources), work) + list(objects)
        platforms = str(device_dir() / "platforms")
        link = [flag.replace("{platforms}", platforms) for flag in self.core.link_flags]
        link += [f"-Wl,--defsym={name}={value}" for name, value in self.core.memory]
        # Flags that change code generation (sanitizers) must reach the link as well.
        sanitize = list(SANITIZE_FLAGS) if self.sanitize else []
        sanitize += [flag for flag in self.extra_flags if flag.startswith("-fsanitize")]
        _run([self.core.cc, *link, *sanitize, *map(str, built), *self.core.libs, "-o", str(output)])
        return output

    def _startup_objects(self, sources: list[Path], work: Path) -> list[Path]:
        work.mkdir(parents=True, exist_ok=True)
        objects = []
        for source in sources:
            obj = work / f"startup-{self.core.name}-{source.stem}.o"
            if not obj.exists():
                _run([self.core.cc, "-O2", *self.core.arch_flags, "-c", str(source), "-o", str(obj)])
            objects.append(obj)
        return objects


def run(program: Path, core_: Core = HOST, stdin: bytes = b"", timeout: float = RUN_TIMEOUT_S,
        check: bool = True) -> subprocess.CompletedProcess:
    """Runs a program natively or, for a microcontroller core, in QEMU (semihosting I/O; the exit
    code is the program's)."""
    command = [str(program)] if core_.native else [*core_.qemu, str(program)]
    result = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout)
    if check and result.returncode != 0:
        raise ToolchainError(
            f"{program.name} exited with {result.returncode}: "
            f"{(result.stdout[-600:] + result.stderr[-600:]).decode(errors='replace').strip()}"
        )
    return result


def run_tool(command: list[str]) -> str:
    """Output of a binutils-style tool (size, nm); a failure is a CompileError."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompileError(command, result.stderr)
    return result.stdout


class CompileError(ToolchainError):
    """A compiler refused the sources: one line for the user, the whole log in `log`."""

    def __init__(self, command: list[str], log: str):
        first = next((line for line in log.splitlines() if "error" in line), log.strip()[:200])
        super().__init__(f"{Path(command[0]).name} failed: {first}")
        self.command = command
        self.log = log


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompileError(command, result.stderr)
