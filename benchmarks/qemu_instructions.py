"""Instructions per classified sentence on Cortex-M or RISC-V (QEMU, -icount shift=0: deterministic),
tokenizer included, over the golden sentences of the default model and, when `make build` has
left it in build/, the whole test split.

    .venv/bin/python benchmarks/qemu_instructions.py [--env qemu_m4|qemu_m3|qemu_m7|qemu_rv32]

The firmware reads the sentences on stdin (semihosting) and reports `instructions=N` per line:
from SysTick on Cortex-M (one tick per 40 instructions in QEMU's MPS2 at icount shift 0), from the
minstret CSR on RISC-V (exact).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TEST_SPLIT = ROOT / "build" / "default" / "data" / "test.jsonl"  # written by `make build`
sys.path.insert(0, str(ROOT))

from toolchain import platformio  # noqa: E402


def measure(env: str, texts: list[str]) -> list[dict]:
    result = platformio.run_pio("run", "-e", env, project_dir=ROOT)
    if result.returncode != 0:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])
    launcher = ROOT / ".pio" / "build" / env / "program"
    stdin = "".join(text.replace("\n", " ") + "\n" for text in texts).encode("utf-8")
    out = subprocess.run([str(launcher)], input=stdin, capture_output=True, timeout=600, check=True).stdout
    rows = []
    for line in out.decode("utf-8", "replace").splitlines():
        match = re.search(r"tokens=(\d+) instructions=(\d+)", line)
        if match:
            rows.append({"tokens": int(match.group(1)), "instructions": int(match.group(2))})
    if len(rows) != len(texts):
        raise SystemExit(f"expected {len(texts)} result lines, got {len(rows)}:\n{out[-2000:]!r}")
    return rows


# Counter resolution in instructions (see firmware/src/counter.c).
RESOLUTION = {"qemu_rv32": "1", "qemu_m0": "62.5"}


def summarize(env: str, what: str, texts: list[str]) -> None:
    rows = measure(env, texts)
    counts = np.array([r["instructions"] for r in rows])
    tokens = np.array([r["tokens"] for r in rows])
    print(f"{env}: {len(rows)} {what}, {tokens.mean():.1f} tokens on average, {tokens.max()} at most")
    print(f"  instructions per sentence: mean {counts.mean():,.0f}, median {np.median(counts):,.0f}, "
          f"min {counts.min():,}, max {counts.max():,} (resolution {RESOLUTION.get(env, '40')}); "
          f"over 1 M: {(counts > 1_000_000).sum()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="qemu_m4")
    args = parser.parse_args()
    goldens = json.loads((ROOT / "models" / "default" / "goldens.json").read_text())["vectors"]
    summarize(args.env, "golden sentences", [g["text"] for g in goldens])
    if TEST_SPLIT.is_file():
        lines = TEST_SPLIT.read_text(encoding="utf-8").splitlines()
        summarize(args.env, "test-split sentences", [json.loads(line)["text"] for line in lines if line])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
