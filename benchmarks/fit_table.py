"""The fit check of a model for every target: flash and RAM against each board's budget, measured
on the target's core (or its proxy), as `textclf export --target` does before writing anything.

    .venv/bin/python benchmarks/fit_table.py [--model models/default]

Prints the table and writes benchmarks/results/fit_table.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_results  # noqa: E402
from toolchain import emit, targets  # noqa: E402
from toolchain.emit.ops.common import Options  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    args = parser.parse_args()
    model = emit.read_model_dir(Path(args.model))
    runtime = emit.runtime_library()
    rows = []
    print(f"{'target':<14}{'measured on':<12}{'flash':>10}{'of':>12}{'RAM':>9}{'of':>10}  fits")
    for target in targets.TARGETS.values():
        library = emit.model_library(model, "classifier", target.default_backend, Options(packed_filters=target.dsp))
        fit = targets.check_fit(target, library, runtime)
        row = targets.fit_dict(fit)
        rows.append(row)
        budget = (lambda v: f"{v:,}" if v else "-")
        print(f"{fit.target:<14}{fit.measured_on:<12}{fit.flash_bytes:>10,}{budget(fit.flash_budget):>12}"
              f"{fit.ram_bytes:>9,}{budget(fit.ram_budget):>10}  {'yes' if fit.fits else 'NO: ' + '; '.join(fit.overflows())}")
    write_results("fit_table", {"model": model.name, "model_sha256": model.sha256, "targets": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
