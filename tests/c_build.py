"""Compiles and runs small C programs for tests (host gcc, the same flags as the native env)."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STRICT_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]


def compile_program(sources, output: Path, include_dirs=(), extra_flags=(), compiler="gcc") -> Path:
    cmd = [compiler, *STRICT_FLAGS, *extra_flags]
    for directory in include_dirs:
        cmd += ["-I", str(directory)]
    cmd += [str(s) for s in sources] + ["-o", str(output), "-lm"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"compilation failed: {' '.join(cmd)}\n{result.stderr}")
    return output


def run_program(program: Path, stdin: bytes = b"", timeout: float = 120) -> bytes:
    result = subprocess.run([str(program)], input=stdin, capture_output=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{program} exited with {result.returncode}: {result.stderr.decode(errors='replace')}")
    return result.stdout
