"""Where the benchmarks' figures are kept: one JSON file per benchmark, rewritten by each run."""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent


def write_results(name: str, figures: dict) -> Path:
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return path


def read_results(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None
