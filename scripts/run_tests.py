"""Runs every test (pytest, then `pio test` in the offline envs) and prints one closing line,
`N passed, N failed`, summing both. Exit status is non-zero on any failure or if nothing ran."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolchain import platformio  # noqa: E402

RESULTS = ROOT / "build" / "test-results"
# The firmware's envs that build and run on this machine (platformio.ini).
OFFLINE_ENVS = ("native", "native_sanitize", "qemu_m3", "qemu_m4", "qemu_m7", "qemu_m0", "qemu_rv32")


def pytest_counts(junit: Path) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    if not junit.exists():
        return counts
    root = ET.parse(junit).getroot()
    for suite in root.iter("testsuite"):
        tests = int(suite.get("tests", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        counts["failed"] += failed
        counts["skipped"] += skipped
        counts["passed"] += tests - failed - skipped
    return counts


def main() -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    junit = RESULTS / "pytest.xml"
    pio_json = RESULTS / "pio.json"
    for stale in (junit, pio_json):
        stale.unlink(missing_ok=True)

    print("== pytest", flush=True)
    py = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", f"--junitxml={junit}", *sys.argv[1:]], cwd=ROOT
    )
    py_counts = pytest_counts(junit)
    if py.returncode not in (0, 1):  # 1 = some tests failed; other codes = pytest itself broke
        py_counts["failed"] += 1

    print("== pio test " + " ".join(OFFLINE_ENVS), flush=True)
    pio, report = platformio.run_tests(ROOT, OFFLINE_ENVS, json_path=pio_json, capture=False)
    pio_counts = platformio.case_counts(report) if report else {"passed": 0, "failed": 0, "errored": 1}
    pio_failed = pio_counts.get("failed", 0) + pio_counts.get("errored", 0)
    if pio.returncode != 0 and pio_failed == 0:
        pio_failed = 1  # PlatformIO failed without reporting a case (build error, crash)

    passed = py_counts["passed"] + pio_counts.get("passed", 0)
    failed = py_counts["failed"] + pio_failed
    print(f"pytest: {py_counts['passed']} passed, {py_counts['failed']} failed, {py_counts['skipped']} skipped")
    print(f"pio test: {pio_counts.get('passed', 0)} passed, {pio_failed} failed")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
