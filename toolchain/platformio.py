"""Runs PlatformIO (`python -m platformio`, the one installed with this package) quietly: no
telemetry, no update checks, no colours. The core dir is PlatformIO's own choice, or
PLATFORMIO_CORE_DIR (this repository's Makefile points it into the checkout, seeded for offline
use)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def python() -> str:
    return sys.executable


def pio_environment() -> dict:
    env = dict(os.environ)
    env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] = "no"
    env["PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL"] = "36500"
    env["PLATFORMIO_NO_ANSI"] = "true"
    return env


def run_pio(*args: str, project_dir: Path, capture: bool = True,
            timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python(), "-m", "platformio", *args],
        cwd=project_dir,
        env=pio_environment(),
        capture_output=capture,
        text=True,
        timeout=timeout,
    )


def run_tests(project_dir: Path, envs, filters=(), ignores=(), json_path: Path | None = None,
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
    result = run_pio(*args, project_dir=project_dir, capture=capture)
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
