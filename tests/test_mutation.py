"""The mutation test of issue 9: a seeded campaign of at least 1,000 damaged models and model
directories (tests/mutants.py: the default model, three small classifiers, ten op models; bytes,
structure and side files) through `textclf inspect` and `textclf export`. Every mutant must end
with exit 0 or one `error:` line and exit 2, no traceback and no hang, and every accepted
generation must compile with -Werror under ASan/UBSan, run clean, and equal TensorFlow Lite
Micro's outputs on sample inputs (TFLM accepting the model). A longer run is
benchmarks/mutation.py.

The campaign runs in a child process: its workers fork, which is only safe away from the threads
TensorFlow leaves in a pytest process that built models.
"""
import json
import subprocess
import sys

import pytest
from conftest import ROOT

COUNT = 1000
CAMPAIGN = 0


@pytest.mark.fuzz
def test_every_mutant_is_refused_cleanly_or_compiled_bit_exact(tmp_path):
    report_path = tmp_path / "mutation.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "mutants.py"), "--count", str(COUNT), "--campaign", str(CAMPAIGN),
         "--json", str(report_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=3600,
    )
    assert report_path.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    counts = report["counts"]
    print(report["summary"])
    failures = "\n".join(f"{f['mutant']} ({f['detail'][:100]}): {f['failure'][:500]}" for f in report["failures"])
    assert report["failures"] == [], f"{len(report['failures'])} mutants failed:\n{failures}"
    assert result.returncode == 0, result.stderr[-3000:]
    assert counts["tried"] == COUNT
    assert counts["tracebacks"] == counts["hangs"] == counts["wrong_but_accepted"] == 0
    # Both sides of the toolchain were exercised: refusals, and exports checked against TFLM.
    assert counts["rejected_with_error"] >= COUNT // 4
    assert counts["accepted_and_verified_bit_exact"] >= COUNT // 10
    assert set(counts["by_seed"]) >= {"default", "pooling_classifier", "conv_classifier", "transformer_classifier"}
