"""The libFuzzer target builds with clang + ASan/UBSan and survives a short run (the long run is
benchmarks/fuzz_classifier.py)."""
import importlib.util

from conftest import ROOT


def test_short_fuzz_run_finds_no_crash():
    spec = importlib.util.spec_from_file_location("fuzz_classifier", ROOT / "benchmarks" / "fuzz_classifier.py")
    fuzz_classifier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz_classifier)
    report = fuzz_classifier.fuzz(seconds=10, jobs=1)
    assert report["crashes"] == 0, report["log_tail"]
    assert report["exit_code"] == 0, report["log_tail"]
    assert report["executions"] > 100
