"""Fuzzes the on-device tokenizer + compiled classifier (the firmware's exported runtime and model)
with libFuzzer (clang, ASan + UBSan) for a set time and prints executions, coverage and crashes.

    .venv/bin/python benchmarks/fuzz_classifier.py [--seconds 300] [--jobs 1]

Seeds: the golden sentences of the emitted model plus invalid UTF-8 and NUL-laden inputs.
Findings (crash-*, leak-*, timeout-* files) land in build/fuzz/findings/.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_results  # noqa: E402
from toolchain import cbuild  # noqa: E402

RUNTIME = ROOT / "firmware" / "lib" / "textclf" / "src"
MODEL = ROOT / "firmware" / "models" / "default" / "classifier" / "src"
WORK = ROOT / "build" / "fuzz"
SEEDS = [b"", b"a great film", b"\xff\xfe\x00\x80 bad \xc3(", b"\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x99\x82",
         b"!!!" * 40, b"x" * 300, b"caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 d\xc3\xa9j\xc3\xa0 vu"]


def build_fuzzer() -> Path:
    clang = cbuild.Core(name="host-clang", cc="clang")
    build = cbuild.Build(clang, include_dirs=[RUNTIME, MODEL], optimize="-O1",
                         extra_flags=["-g", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"])
    sources = cbuild.c_sources(RUNTIME, MODEL, ROOT / "firmware" / "fuzz" / "fuzz_classify.c")
    return build.program(sources, WORK / "fuzz_classify")


def seed_corpus() -> Path:
    corpus = WORK / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    goldens = json.loads((ROOT / "models" / "default" / "goldens.json").read_text())["vectors"]  # the firmware's
    texts = SEEDS + [v["text"].encode("utf-8") for v in goldens]
    for index, text in enumerate(texts):
        (corpus / f"seed-{index:03d}").write_bytes(text)
    return corpus


def fuzz(seconds: int, jobs: int) -> dict:
    binary = build_fuzzer()
    corpus = seed_corpus()
    findings = WORK / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(binary), str(corpus), f"-max_total_time={seconds}", "-max_len=4096", "-timeout=10",
         f"-artifact_prefix={findings}/", "-print_final_stats=1", f"-jobs={jobs}", f"-workers={jobs}"],
        capture_output=True, text=True, cwd=WORK,  # libFuzzer writes its job logs (fuzz-N.log) here
    )
    log = result.stdout + result.stderr
    stats = {key: int(value) for key, value in re.findall(r"^stat::(\w+):\s+(\d+)", log, re.M)}
    crashes = sorted(p.name for p in findings.iterdir())
    coverage = re.findall(r"cov: (\d+)", log)
    return {
        "seconds": seconds,
        "executions": stats.get("number_of_executed_units", 0),
        "executions_per_second": stats.get("average_exec_per_sec", 0),
        "coverage_edges": int(coverage[-1]) if coverage else 0,
        "crashes": len(crashes),
        "crash_files": crashes,
        "exit_code": result.returncode,
        "log_tail": "\n".join(log.strip().splitlines()[-5:]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="libFuzzer run over tokenizer + classifier")
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    report = fuzz(args.seconds, args.jobs)
    write_results("fuzz", {k: report[k] for k in ("seconds", "executions", "executions_per_second",
                                                  "coverage_edges", "crashes")})
    print(f"fuzzed {report['seconds']} s: {report['executions']:,} executions "
          f"({report['executions_per_second']:,}/s), {report['coverage_edges']} coverage edges, "
          f"{report['crashes']} crashes")
    if report["crashes"] or report["exit_code"] != 0:
        print(report["log_tail"])
        print("findings:", ", ".join(report["crash_files"]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
