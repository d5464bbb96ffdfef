"""Trains the student candidates on the default task and prints accuracy (float and INT8 on TFLite
Micro), flash (INT8 .tflite bytes) and the measured TFLM arena, marking the accuracy/size front.

    .venv/bin/python benchmarks/student_candidates.py [--only bag,cnn] [--epochs N]

Shares the default build's data and teacher stages (build/default/...); each candidate's student,
convert and verify stages are cached under build/benchmarks/candidates/<candidate>/.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolchain import pipeline  # noqa: E402
from toolchain.config import load_config  # noqa: E402

CANDIDATES = {
    "bag-d32": {"architecture": "bag", "embedding_dim": 32, "hidden_dim": 64},
    "bag-d24-v10k": {"architecture": "bag", "embedding_dim": 24, "hidden_dim": 64, "vocab_size": 10000},
    "cnn-d32": {"architecture": "cnn", "embedding_dim": 32, "hidden_dim": 64},
    "transformer-d32": {"architecture": "transformer", "embedding_dim": 32, "hidden_dim": 64},
}


def pareto(rows: list[dict]) -> set[str]:
    """Candidates no other candidate beats on both accuracy (higher) and flash (lower)."""
    front = set()
    for row in rows:
        dominated = any(
            o["acc_tflm"] >= row["acc_tflm"] and o["int8_bytes"] <= row["int8_bytes"]
            and (o["acc_tflm"] > row["acc_tflm"] or o["int8_bytes"] < row["int8_bytes"])
            for o in rows
        )
        if not dominated:
            front.add(row["name"])
    return front


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated candidate names")
    parser.add_argument("--epochs", type=int, help="override student epochs")
    args = parser.parse_args()
    base = load_config(None)
    pipeline.run_until(base, "teacher")
    shared = pipeline.stage_dirs(base)
    names = args.only.split(",") if args.only else list(CANDIDATES)
    rows = []
    for name in names:
        student = dataclasses.replace(base.student, **CANDIDATES[name])
        if args.epochs:
            student.epochs = args.epochs
        config = dataclasses.replace(base, student=student)
        work = ROOT / "build" / "benchmarks" / "candidates" / name
        dirs = {**shared, "distill": work / "distill", "convert": work / "convert", "verify": work / "verify"}
        outcomes = pipeline.run_until(config, "verify", dirs, first="distill")
        student_metrics = json.loads((dirs["distill"] / "metrics.json").read_text())
        verify_metrics = json.loads((dirs["verify"] / "metrics.json").read_text())
        rows.append({
            "name": name,
            "params": student_metrics["parameters"],
            "acc_float": verify_metrics["accuracy_float_student"],
            "acc_tflm": verify_metrics["accuracy_int8_tflm"],
            "int8_bytes": verify_metrics["int8_bytes"],
            "arena": verify_metrics["arena_bytes"],
            "train_s": next(o.seconds for o in outcomes if o.name == "distill"),
        })
    teacher = json.loads((shared["teacher"] / "metrics.json").read_text())["accuracy"]["test"]
    front = pareto(rows)
    print(f"\nteacher test accuracy: {100 * teacher:.2f}%")
    print(f"{'candidate':<18}{'params':>9}{'float':>8}{'int8 TFLM':>11}{'vs teacher':>11}"
          f"{'flash B':>10}{'arena B':>9}{'train s':>9}  front")
    for r in rows:
        print(f"{r['name']:<18}{r['params']:>9,}{100 * r['acc_float']:>7.2f}%{100 * r['acc_tflm']:>10.2f}%"
              f"{100 * (r['acc_tflm'] - teacher):>+10.2f}{r['int8_bytes']:>10,}{r['arena']:>9,}"
              f"{r['train_s']:>9.0f}  {'*' if r['name'] in front else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
