"""Flash and RAM of the qemu_m4 firmware (arm-none-eabi-size), split by what the bytes are.

    .venv/bin/python benchmarks/firmware_footprint.py [--env qemu_m4]

Attribution comes from the linker map: every input section kept by --gc-sections, by the object
file it came from: model weights (classifier_graph), vocabulary + Unicode tables (classifier_vocab,
textclf_unicode), code (all other .text), other constants, and RAM buffers (.data/.bss, which
hold the static tensor arena) plus the reserved stack. Figures go to
benchmarks/results/firmware_footprint.json as well.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_results  # noqa: E402
from toolchain import platformio  # noqa: E402

MODEL_SRC = ROOT / "firmware" / "models" / "default" / "classifier" / "src"

RAM_START = 0x20000000
_NOT_LOADED = (".debug", ".comment", ".ARM.attributes", ".note", ".stab", ".gnu")
_ENTRY = re.compile(r"^\s*(?P<section>\.\S+)?\s+0x(?P<address>[0-9a-f]+)\s+0x(?P<size>[0-9a-f]+)\s+(?P<object>\S+)$")


def map_entries(map_path: Path):
    """(input section, address, size, object file) for every kept input section."""
    lines = map_path.read_text(errors="replace").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Linker script and memory map"))
    pending = None
    for line in lines[start:]:
        if re.match(r"^ \.\S+$", line):
            pending = line.strip()
            continue
        match = _ENTRY.match(line)
        if match and (match.group("section") or pending):
            section = match.group("section") or pending
            if section.startswith(_NOT_LOADED):
                pending = None
                continue
            size = int(match.group("size"), 16)
            if size and not match.group("object").startswith("0x"):
                yield section, int(match.group("address"), 16), size, match.group("object")
        pending = None


def category(section: str, address: int, obj: str) -> str:
    name = Path(obj.split("(")[0]).name
    if address >= RAM_START:
        return "RAM buffers"
    if name.startswith("classifier_graph"):
        return "weights" if not section.startswith(".text") else "code"
    if name.startswith(("classifier_vocab", "textclf_unicode")):
        return "vocab + Unicode tables"
    if section.startswith((".text", ".init", ".fini", ".ARM", ".isr_vector")):
        return "code"
    return "other constants"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="qemu_m4")
    args = parser.parse_args()
    result = platformio.run_pio("run", "-e", args.env, project_dir=ROOT)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:])
        return 1
    build = ROOT / ".pio" / "build" / args.env
    size = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(build / "firmware.elf")],
                          capture_output=True, text=True, check=True).stdout
    text, data, bss = (int(v) for v in size.splitlines()[1].split()[:3])
    totals = defaultdict(int)
    for section, address, nbytes, obj in map_entries(build / "firmware.map"):
        totals[category(section, address, obj)] += nbytes
    sections = subprocess.run(["arm-none-eabi-size", "-A", str(build / "firmware.elf")],
                              capture_output=True, text=True, check=True).stdout
    stack = next(int(line.split()[1]) for line in sections.splitlines() if line.startswith(".stack"))
    totals["stack (reserved)"] = stack
    print(size.rstrip())
    flash = text + data
    ram = data + bss
    print(f"\nflash {flash:,} B ({flash / 1024:.1f} KiB) = text+rodata {text:,} + .data {data:,}")
    for name in ("weights", "vocab + Unicode tables", "code", "other constants"):
        print(f"  {name:<24}{totals[name]:>10,} B")
    print(f"RAM {ram:,} B ({ram / 1024:.1f} KiB) = .data + .bss (the .bss total includes the reserved stack)")
    for name in ("RAM buffers", "stack (reserved)"):
        print(f"  {name:<24}{totals[name]:>10,} B")
    arena = next(int(line.split()[2].rstrip("uU")) for line in (MODEL_SRC / "classifier_graph.h").read_text()
                 .splitlines() if line.startswith("#define CLASSIFIER_ARENA_BYTES"))
    print(f"  of which the static tensor arena: {arena:,} B (the rest: line buffers, newlib's stdio)")
    write_results("firmware_footprint", {
        "env": args.env, "flash_bytes": flash, "ram_bytes": ram, "arena_bytes": arena,
        "flash_split": {name: totals[name] for name in ("weights", "vocab + Unicode tables", "code", "other constants")},
        "stack_reserved_bytes": stack,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
