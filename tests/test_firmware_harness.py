"""The PlatformIO custom runner reports a failing C case as FAILED (the default run ignores it)."""
import pytest
from conftest import ROOT

from toolchain import platformio


# native, and the two QEMU platforms whose startup code carries the exit code differently
# (semihosting exit on Cortex-M, the SiFive test device on RISC-V).
@pytest.mark.qemu
@pytest.mark.parametrize("env", ["native", "qemu_m0", "qemu_rv32"])
def test_runner_reports_failed_case(tmp_path, env):
    report_path = tmp_path / "pio.json"
    # "-i none" replaces platformio.ini's test_ignore, which hides this suite from normal runs.
    result, report = platformio.run_tests(
        ROOT, [env], filters=["test_expected_failure"], ignores=["none"], json_path=report_path
    )
    assert result.returncode != 0, "a failing case must make `pio test` fail"
    (suite,) = [s for s in report["test_suites"] if s["status"] != "SKIPPED"]
    statuses = {case["name"]: case["status"] for case in suite["test_cases"]}
    assert statuses == {"passes": "PASSED", "fails_on_purpose": "FAILED"}
    failed = next(c for c in suite["test_cases"] if c["name"] == "fails_on_purpose")
    assert "expected 2, got 3" in failed["message"]
    assert failed["source"]["file"].endswith("test_expected_failure/test_main.c")


def test_default_run_ignores_the_failing_suite(tmp_path):
    result, report = platformio.run_tests(ROOT, ["native"], json_path=tmp_path / "pio.json")
    assert result.returncode == 0, result.stdout + result.stderr
    ran = {s["test_name"]: s["status"] for s in report["test_suites"] if s["status"] != "SKIPPED"}
    assert ran.get("test_harness") == "PASSED"
    assert "test_expected_failure" not in ran
