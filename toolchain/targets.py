"""Board targets and the fit check: will this model, with the runtime around it, fit the board?

One table of targets, each with its core, flash and RAM budgets, DSP and FPU, and default backend.
The fit check measures rather than guesses: the model library and the runtime are compiled for the
target's core (toolchain/cbuild.py) into the smallest program that classifies
(toolchain/device/checks/fit.c), once with and once without the model; the difference in flash
(.text + .rodata + .data) is what they add to any firmware, split into weights, vocabulary,
Unicode tables and code. RAM is the model's context (the compiled graph's static arena) plus the
deepest call chain of `textclf_classify` in the compiler's call graph (-fcallgraph-info=su), plus
the runtime's own static data.

The TFLite Micro backend's interpreter cannot be built here (its sources are on no reachable
registry): for it the check counts the .tflite, the tokenizer side and the measured TFLM arena, and
says that the interpreter's code and bookkeeping come on top.
"""
from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from toolchain import cbuild
from toolchain.errors import ToolchainError
from toolchain.resources import device_dir

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Target:
    name: str
    board: str
    core: cbuild.Core  # the core the fit check compiles for (the target's own, or its proxy)
    isa: str
    flash_bytes: int | None  # None: no budget (the host)
    ram_bytes: int | None
    fpu: str  # "none", "single", "double"
    default_backend: str
    env: str | None  # the PlatformIO env of this repository that builds it
    note: str = ""

    @property
    def dsp(self) -> bool:
        return self.core.dsp


def _targets() -> dict[str, Target]:
    cores = cbuild.CORES
    rows = [
        Target("native", "this computer (gcc)", cores["host"], "host", None, None, "double", "compiled", "native"),
        Target("qemu_m3", "Arm MPS2 AN385 in QEMU", cores["cortex-m3"], "Cortex-M3", 4 * MIB, 4 * MIB,
               "none", "compiled", "qemu_m3"),
        Target("qemu_m4", "Arm MPS2 AN386 in QEMU", cores["cortex-m4"], "Cortex-M4F", 4 * MIB, 4 * MIB,
               "single", "compiled", "qemu_m4"),
        Target("qemu_m7", "Arm MPS2 AN500 in QEMU", cores["cortex-m7"], "Cortex-M7F", 4 * MIB, 4 * MIB,
               "double", "compiled", "qemu_m7"),
        Target("nano33ble", "Arduino Nano 33 BLE (nRF52840)", cores["cortex-m4"], "Cortex-M4F", 1 * MIB,
               256 * KIB, "single", "compiled", "nano33ble"),
        Target("qemu_m0", "BBC micro:bit v1 in QEMU (nRF51822)", cores["cortex-m0"], "Cortex-M0", 256 * KIB,
               16 * KIB, "none", "compiled", "qemu_m0"),
        Target("qemu_rv32", "RISC-V virt in QEMU", cores["rv32imc"], "RV32IMC", 4 * MIB, 1 * MIB, "none",
               "compiled", "qemu_rv32"),
        Target("nucleo_f746zg", "ST Nucleo-F746ZG (STM32F746)", cores["cortex-m7"], "Cortex-M7F", 1 * MIB,
               320 * KIB, "double", "compiled", "nucleo_f746zg"),
        Target("esp32dev", "ESP32 DevKit (ESP32, Xtensa LX6)", cores["cortex-m3"], "Xtensa LX6", 4 * MIB,
               320 * KIB, "single", "compiled", "esp32dev",
               "no Xtensa compiler is reachable here: code measured for Cortex-M3 as a proxy"),
        Target("esp32c3", "ESP32-C3 DevKitM (RISC-V)", cores["rv32imc"], "RV32IMC", 4 * MIB, 320 * KIB, "none",
               "compiled", "esp32c3"),
        Target("rpipico", "Raspberry Pi Pico (RP2040)", cores["cortex-m0"], "Cortex-M0+", 2 * MIB, 264 * KIB,
               "none", "compiled", "rpipico", "measured as Cortex-M0 code (the same ARMv6-M instruction set)"),
        Target("microbit", "BBC micro:bit v1 (nRF51822)", cores["cortex-m0"], "Cortex-M0", 256 * KIB, 16 * KIB,
               "none", "compiled", "microbit"),
    ]
    return {row.name: row for row in rows}


TARGETS = _targets()


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ToolchainError(f"unknown target {name!r} (see `textclf targets`: {', '.join(TARGETS)})") from None


@dataclass(frozen=True)
class Fit:
    target: str
    measured_on: str
    flash_bytes: int
    flash_budget: int | None
    ram_bytes: int
    ram_budget: int | None
    weights_bytes: int
    vocab_bytes: int
    unicode_bytes: int
    code_bytes: int  # code and other constants of the runtime and the model
    context_bytes: int
    stack_bytes: int
    static_bytes: int  # the runtime's own .data/.bss
    note: str = ""

    @property
    def fits(self) -> bool:
        return not self.overflows()

    def overflows(self) -> list[str]:
        problems = []
        if self.flash_budget is not None and self.flash_bytes > self.flash_budget:
            problems.append(f"flash by {self.flash_bytes - self.flash_budget:,} bytes "
                            f"({self.flash_bytes:,} of {self.flash_budget:,})")
        if self.ram_budget is not None and self.ram_bytes > self.ram_budget:
            problems.append(f"RAM by {self.ram_bytes - self.ram_budget:,} bytes "
                            f"({self.ram_bytes:,} of {self.ram_budget:,})")
        return problems


def _sizes(program: Path, core: cbuild.Core) -> tuple[int, int]:
    """(flash, RAM) of a linked program: .text + .data, and .data + .bss (Berkeley format)."""
    output = cbuild.run_tool([core.size_tool, "-B", "-d", str(program)])
    text, data, bss = (int(v) for v in output.splitlines()[1].split()[:3])
    return text + data, data + bss


_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*\\n(\d+) bytes \((\w+)\)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def stack_bound(ci_dir: Path, root: str, indirect_targets: str) -> int:
    """Bytes of the deepest call chain from `root` in gcc's -fcallgraph-info=su graphs. Calls
    through a function pointer go to the functions defined in files ending in `indirect_targets`
    (the model descriptor's backend functions). C library leaf functions count as 0."""
    sizes: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    for path in sorted(ci_dir.glob("*.ci")):
        for line in path.read_text().splitlines():
            node = _NODE.match(line)
            if node:
                if node.group(3) != "static":
                    raise ToolchainError(f"{node.group(1)} has a dynamic stack frame ({node.group(3)})")
                sizes[node.group(1)] = int(node.group(2))
            edge = _EDGE.match(line)
            if edge:
                calls.setdefault(edge.group(1), set()).add(edge.group(2))
    pointer_targets = {name for name in sizes if name.rsplit(":", 1)[0].endswith(indirect_targets)}
    memo: dict[str, int] = {}

    def depth(function: str, chain: frozenset) -> int:
        if function in chain:
            raise ToolchainError(f"recursion through {function}: the stack has no bound")
        if function not in memo:
            callees = set(calls.get(function, ()))
            if "__indirect_call" in callees:
                callees = (callees - {"__indirect_call"}) | pointer_targets
            memo[function] = sizes.get(function, 0) + max(
                (depth(c, chain | {function}) for c in callees), default=0)
        return memo[function]

    return depth(root, frozenset())


def check_fit(target_: Target, library, runtime: dict[str, bytes]) -> Fit:
    """Measures the model library and the runtime on the target's core (see the module's doc)."""
    from toolchain.emit import tokenizer_tables

    core = target_.core.unbounded()
    if not cbuild.available(core):
        raise ToolchainError(f"the fit check for {target_.name} needs {core.cc}, which is not installed")
    vocab = tokenizer_tables.vocab_tables(library.model.vocab).size_bytes()
    unicode = tokenizer_tables.unicode_tables().size_bytes()
    prefix = library.prefix
    with tempfile.TemporaryDirectory(prefix="textclf-fit-") as tmp:
        root = Path(tmp)
        runtime_src = cbuild.write_sources(root / "textclf", runtime)
        model_src = cbuild.write_sources(root / prefix, library.files)
        fit_main = device_dir() / "checks" / "fit.c"
        if library.backend == "compiled":
            model_sources = cbuild.c_sources(model_src)
        else:  # the tokenizer side only: the interpreter is C++ against TFLM, not buildable here
            model_sources = [p for p in cbuild.c_sources(model_src) if p.name.endswith("_vocab.c")]
        model_sources = [p for p in model_sources if not p.name.endswith("_goldens.c")]
        build = cbuild.Build(core, include_dirs=[runtime_src, model_src], optimize="-O2",
                             defines=[f'FIT_HEADER="{prefix}.h"', f"FIT_PREFIX={prefix}"],
                             extra_flags=["-fcallgraph-info=su"])
        if library.backend == "compiled":
            program = build.program(cbuild.c_sources(runtime_src) + model_sources + [fit_main], root / "fit")
            baseline = cbuild.Build(core, optimize="-O2", defines=["FIT_BASELINE"]).program([fit_main], root / "base")
            (flash, ram), (base_flash, base_ram) = _sizes(program, core), _sizes(baseline, core)
            flash -= base_flash
            context = library.graph.arena_bytes
            static = ram - base_ram - context
            stack = stack_bound(root / "objects", "textclf_classify", "_model.c")
            weights = library.graph.weight_bytes
        else:
            objects = build.objects(cbuild.c_sources(runtime_src / "tokenizer") + model_sources +
                                    [runtime_src / "textclf_unicode.c"], root / "objects")
            flash = sum(_sizes(obj, core)[0] for obj in objects) + len(library.model.tflite.data)
            context, static, weights = library.model.tflm_arena, 0, len(library.model.tflite.data)
            stack = stack_bound(root / "objects", "tc_tokenize", "_model.c")
    note = target_.note
    if library.backend != "compiled":
        note = "; ".join(filter(None, [note, "TFLite Micro's interpreter code and bookkeeping come on top"]))
    return Fit(
        target=target_.name,
        measured_on=core.name,
        flash_bytes=flash,
        flash_budget=target_.flash_bytes,
        ram_bytes=context + stack + static,
        ram_budget=target_.ram_bytes,
        weights_bytes=weights,
        vocab_bytes=vocab,
        unicode_bytes=unicode,
        code_bytes=max(0, flash - weights - vocab - unicode),
        context_bytes=context,
        stack_bytes=stack,
        static_bytes=static,
        note=note,
    )


def require_fit(fit: Fit) -> None:
    problems = fit.overflows()
    if problems:
        raise ToolchainError(f"the model does not fit {fit.target}: it overflows " + " and ".join(problems))


def _kib(value: int | None) -> str:
    return "-" if value is None else f"{value / KIB:,.0f} KiB"


def table() -> list[dict]:
    return [
        {"name": t.name, "board": t.board, "isa": t.isa, "flash_bytes": t.flash_bytes, "ram_bytes": t.ram_bytes,
         "dsp": t.dsp, "fpu": t.fpu, "default_backend": t.default_backend, "measured_on": t.core.name,
         "env": t.env, "note": t.note}
        for t in TARGETS.values()
    ]


def format_table(rows: list[dict]) -> str:
    lines = [f"{'target':<14}{'core':<12}{'flash':>10}{'RAM':>10}  {'DSP':<4}{'FPU':<7}{'backend':<9}board"]
    for row in rows:
        lines.append(f"{row['name']:<14}{row['isa']:<12}{_kib(row['flash_bytes']):>10}{_kib(row['ram_bytes']):>10}  "
                     f"{'yes' if row['dsp'] else 'no':<4}{row['fpu']:<7}{row['default_backend']:<9}{row['board']}")
    notes = [f"  {row['name']}: {row['note']}" for row in rows if row["note"]]
    return "\n".join(lines + (["notes:"] + notes if notes else []))


def fit_dict(fit: Fit) -> dict:
    values = dataclasses.asdict(fit)
    values["fits"] = fit.fits
    return values


def format_fit(fit: Fit) -> str:
    def budget(value: int, limit: int | None) -> str:
        if limit is None:
            return f"{value:>10,} B"
        return f"{value:>10,} B of {limit:>10,} B ({100 * value / limit:5.1f}%)"

    lines = [
        f"fit for {fit.target} (measured on {fit.measured_on}): {'fits' if fit.fits else 'DOES NOT FIT'}",
        f"  flash {budget(fit.flash_bytes, fit.flash_budget)}",
        f"    weights {fit.weights_bytes:,} B, vocabulary {fit.vocab_bytes:,} B, Unicode tables "
        f"{fit.unicode_bytes:,} B, code and other constants {fit.code_bytes:,} B",
        f"  RAM   {budget(fit.ram_bytes, fit.ram_budget)}",
        f"    context (arena) {fit.context_bytes:,} B, stack (deepest call chain) {fit.stack_bytes:,} B, "
        f"static {fit.static_bytes:,} B",
    ]
    if fit.note:
        lines.append(f"  note: {fit.note}")
    return "\n".join(lines)
