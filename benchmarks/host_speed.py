"""Host comparison on the same machine and model: the compiled backend (C, -O2) against the
official TFLite Micro interpreter (pip tflite-micro) — time per sentence and working memory.

    .venv/bin/python benchmarks/host_speed.py [--repeats 200]

Both run the emitted default model over its golden vectors. TFLM is timed around invoke() alone
(inputs set beforehand), so Python's call overhead is the only extra it pays.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_results  # noqa: E402
from toolchain import cbuild, tflm  # noqa: E402

RUNTIME = ROOT / "firmware" / "lib" / "textclf" / "src"
MODEL_SRC = ROOT / "firmware" / "models" / "default" / "classifier" / "src"
MODEL = ROOT / "models" / "default"


def compiled_backend(repeats: int) -> tuple[float, float]:
    build = cbuild.Build(include_dirs=[RUNTIME, MODEL_SRC])
    sources = cbuild.c_sources(RUNTIME, MODEL_SRC, ROOT / "benchmarks" / "host_bench.c")
    binary = build.program(sources, ROOT / "build" / "benchmarks" / "host_bench")
    out = subprocess.run([str(binary), str(repeats)], capture_output=True, text=True, check=True).stdout
    invoke_ns, classify_ns, _ = out.split()
    return float(invoke_ns), float(classify_ns)


def tflm_interpreter(repeats: int) -> float:
    goldens = json.loads((MODEL / "goldens.json").read_text())["vectors"]
    arena = json.loads((MODEL / "metrics.json").read_text())["verify"]["arena_bytes"]
    interpreter = tflm.TflmInterpreter((MODEL / "student_int8.tflite").read_bytes(), arena)
    raw = interpreter._interpreter
    inputs = [np.array([g["ids"]], dtype=np.int32) for g in goldens]
    total = 0.0
    for _ in range(repeats):
        for ids in inputs:
            raw.set_input(ids, 0)
            start = time.perf_counter()
            raw.invoke()
            total += time.perf_counter() - start
    return total / (repeats * len(inputs)) * 1e9


def plan_bytes() -> int:
    """The compiled graph's arena, as the compiler plans it (not scraped from generated C)."""
    from toolchain import emit

    return emit.model_library(emit.read_model_dir(MODEL), "classifier").graph.arena_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    invoke_ns, classify_ns = compiled_backend(args.repeats)
    tflm_ns = tflm_interpreter(max(1, args.repeats // 4))
    arena = json.loads((MODEL / "metrics.json").read_text())["verify"]["arena_bytes"]
    plan = plan_bytes()
    print(f"{'':<34}{'time / sentence':>16}{'working memory':>16}")
    print(f"{'TFLM interpreter (pip), invoke':<34}{tflm_ns / 1000:>13.1f} us{arena:>14,} B")
    print(f"{'compiled backend, invoke':<34}{invoke_ns / 1000:>13.1f} us{plan:>14,} B")
    print(f"{'compiled backend, tokenize+invoke':<34}{classify_ns / 1000:>13.1f} us")
    print(f"speed-up (invoke): {tflm_ns / invoke_ns:.1f}x; memory: {plan / arena:.2f} x TFLM's arena")
    write_results("host_speed", {"tflm_invoke_us": round(tflm_ns / 1000, 1), "compiled_invoke_us": round(invoke_ns / 1000, 1),
                                 "compiled_classify_us": round(classify_ns / 1000, 1), "tflm_arena_bytes": arena,
                                 "compiled_arena_bytes": plan, "speedup": round(tflm_ns / invoke_ns, 2)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
