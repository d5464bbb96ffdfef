"""`textclf validate` over the whole test split on the QEMU cores: every test sentence classified by
the firmware on the core, each int8 logit compared with TFLite Micro's, each sentence's token ids with
the Python tokenizer's, instructions per sentence counted (QEMU -icount), and the wall time.

    .venv/bin/python benchmarks/validate_targets.py [--env qemu_m4 --env qemu_rv32] [--model models/default]

Needs the build's test split (`make build`). Prints the reports and writes
benchmarks/results/validate_<env>.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_results  # noqa: E402
from toolchain import validate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="offline env (repeatable; default qemu_m4 and qemu_rv32)")
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--data", help="texts and labels (default: the build's test split)")
    args = parser.parse_args()
    for env in args.env or ["qemu_m4", "qemu_rv32"]:
        start = time.monotonic()
        report = validate.validate(Path(args.model), env=env, port=None, baud=115200,
                                   data=Path(args.data) if args.data else None, limit=None,
                                   work=ROOT / "build" / "validate" / Path(args.model).name)
        report["wall_seconds"] = round(time.monotonic() - start, 1)
        print(f"== {env} ({report['wall_seconds']:.0f} s)")
        print(validate.format_report(report))
        write_results(f"validate_{env}", {k: v for k, v in report.items() if k != "per_text"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
