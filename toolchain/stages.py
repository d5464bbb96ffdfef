"""Cached pipeline stages: each writes one directory under the build dir, atomically.

A stage's key hashes its version, its settings and the content of what it reads: each input is
named by its role ("data", "teacher", ...) and hashed by the files in it and their paths relative
to it, never by where it lives, so a moved checkout or build directory reuses its cache. If
`<stage>/stage.json` holds the same key the stage is skipped; otherwise its directory is rebuilt in
a temp dir and swapped in, so an interrupted run never leaves a half-written stage (and the next
run removes what a killed one left behind).
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolchain.atomic import atomic_dir, clean_stale

STAMP = "stage.json"


@dataclass(frozen=True)
class StageOutcome:
    name: str
    directory: Path
    cached: bool
    seconds: float


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_digest(path: Path) -> str:
    """A file's bytes, or a directory's files (relative paths and bytes; stage stamps left out)."""
    path = Path(path)
    if not path.is_dir():
        return file_digest(path)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file() and p.name != STAMP):
        digest.update(str(child.relative_to(path)).encode())
        digest.update(file_digest(child).encode())
    return digest.hexdigest()


def stage_key(version: str, settings: dict, inputs: dict[str, Path]) -> str:
    payload = {
        "version": version,
        "settings": settings,
        "inputs": {role: content_digest(path) for role, path in sorted(inputs.items())},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def is_current(directory: Path, key: str) -> bool:
    stamp = directory / STAMP
    if not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text())["key"] == key
    except (ValueError, KeyError, TypeError):
        return False


def run_stage(
    name: str,
    directory: Path,
    version: str,
    settings: dict,
    inputs: dict[str, Path],
    produce: Callable[[Path], dict | None],
    log: Callable[[str], None] = print,
) -> StageOutcome:
    """Runs `produce(tmp_dir)` unless `directory` is current; returns where the outputs are."""
    clean_stale(directory.parent)
    key = stage_key(version, settings, inputs)
    if is_current(directory, key):
        log(f"[{name}] up to date ({directory})")
        return StageOutcome(name, directory, True, 0.0)
    log(f"[{name}] running")
    start = time.monotonic()
    with atomic_dir(directory) as tmp:
        summary = produce(tmp) or {}
        seconds = time.monotonic() - start
        stamp = {"key": key, "stage": name, "version": version, "settings": settings,
                 "seconds": round(seconds, 1), "summary": summary}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True, default=str) + "\n")
    log(f"[{name}] done in {seconds:.1f} s")
    return StageOutcome(name, directory, False, seconds)


def read_stamp(directory: Path) -> dict:
    return json.loads((directory / STAMP).read_text())
