"""Runs PlatformIO for the project's firmware, offline, with the checkout's own core dir."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
# qemu_m0 runs test_harness only: the default model does not fit the micro:bit (platformio.ini).
OFFLINE_ENVS = ("native", "native_sanitize", "qemu_m3", "qemu_m4", "qemu_m7", "qemu_m0", "qemu_rv32")


def pio_environment() -> dict:
    env = dict(os.environ)
    env.setdefault("PLATFORMIO_CORE_DIR", str(PROJECT_DIR / ".pio-core"))
    env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] = "no"
    env["PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL"] = "36500"
    env["PLATFORMIO_NO_ANSI"] = "true"
    return env


def run_pio(*args: str, capture: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "platformio", *args],
        cwd=PROJECT_DIR,
        env=pio_environment(),
        capture_output=capture,
        text=True,
        timeout=timeout,
    )


def run_tests(envs, filters=(), ignores=(), json_path: Path | None = None,
              capture: bool = True) -> tuple[subprocess.CompletedProcess, dict | None]:
    """`pio test` on the given envs; returns the process and PlatformIO's JSON report if asked."""
    args = ["test"]
    for env in envs:
        args += ["-e", env]
    for pattern in filters:
        args += ["-f", pattern]
    for pattern in ignores:
        args += ["-i", pattern]
    if json_path is not None:
        args += ["--json-output-path", str(json_path)]
    result = run_pio(*args, capture=capture)
    report = json.loads(Path(json_path).read_text()) if json_path and Path(json_path).exists() else None
    return result, report


def case_counts(report: dict) -> dict[str, int]:
    """passed / failed / errored / skipped test cases in a `pio test --json-output-path` report."""
    counts = {"passed": 0, "failed": 0, "errored": 0, "skipped": 0}
    for suite in report.get("test_suites", []):
        for case in suite.get("test_cases", []):
            status = case.get("status", "").lower()
            counts[status] = counts.get(status, 0) + 1
    return counts
