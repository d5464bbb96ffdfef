"""The long mutation run (issue 9): a seeded campaign of damaged models and model directories
through `textclf inspect` and `textclf export` (tests/mutants.py), printing how many were tried,
refused with an error, accepted and verified bit-exact against TensorFlow Lite Micro, and failed
(tracebacks, hangs, wrong-but-accepted), with the wall time. `make test` runs 1,000 of campaign 0
(tests/test_mutation.py); this runs more, of another campaign.

    .venv/bin/python benchmarks/mutation.py [--count 5000] [--campaign 1] [--workers N]

Writes benchmarks/results/mutation.json; failing mutants are listed with their campaign and index
(tests/mutants.py make_mutant / write_mutant makes them again).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import mutants  # noqa: E402

from benchmarks.results import write_results  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description="mutation campaign over the toolchain's untrusted inputs")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--campaign", type=int, default=1)
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 1))
    args = parser.parse_args()

    def progress(result: dict) -> None:
        if result["verdict"] == "failure":
            print(f"FAILURE {result['mutant']} ({result['detail'][:120]}): {result['failure'][:400]}", flush=True)

    with tempfile.TemporaryDirectory(prefix="textclf-mutants-") as work:
        report = mutants.campaign(args.count, args.campaign, args.workers, Path(work), progress=progress)
    figures = mutants.report_dict(report, args.campaign)
    figures["workers"] = args.workers
    figures["cpus"] = os.cpu_count()
    counts = figures["counts"]
    print(figures["summary"])
    print(f"  tried {counts['tried']}, rejected {counts['rejected_with_error']} (of which by the export's "
          f"self-check {counts['rejected_by_export_self_check']}), accepted and verified bit-exact "
          f"{counts['accepted_and_verified_bit_exact']}, failures {counts['failures']}")
    print(f"  TFLM also rejects {counts['rejected_tflm_also_rejects']} of the {counts['rejected_tflm_checked']} "
          f"refused mutants it could load; {counts['seconds']} s with {args.workers} workers")
    for name, entry in sorted(counts["by_strategy"].items()):
        print(f"  {name:<16} {entry['tried']:>5} tried {entry['rejected']:>5} rejected {entry['verified']:>5} verified "
              f"{entry['failure']:>3} failed")
    print(f"wrote {write_results('mutation', figures)}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
