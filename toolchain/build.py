"""The pipeline: data -> teacher -> distill -> convert -> verify -> report (-> emit).

Each stage runs through `stages.run_stage`, keyed by its settings and the files it reads, so a
re-run with nothing changed only checks hashes. Stages talk only through their directories under
`<build_dir>/<name>/`; `report` publishes `models/<name>/`.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from toolchain.config import BuildConfig
from toolchain.stages import StageOutcome, run_stage

PIPELINE = ("data", "teacher", "distill", "convert", "verify", "report")


def _quiet_frameworks() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def stage_dirs(config: BuildConfig) -> dict[str, Path]:
    work = config.work_dir
    return {
        "data": work / "data",
        "teacher": work / "teacher",
        "student": work / "student",
        "convert": work / "convert",
        "verify": work / "verify",
    }


def _settings(section, seed: int | None = None) -> dict:
    values = dataclasses.asdict(section)
    if seed is not None:
        values["seed"] = seed
    return values


def run_data(config: BuildConfig, dirs: dict[str, Path] | None = None) -> StageOutcome:
    from toolchain import data

    dirs = dirs or stage_dirs(config)
    source = Path(config.data.source)
    inputs = [source] if source.is_file() else []
    return run_stage("data", dirs["data"], data.VERSION, _settings(config.data, config.seed),
                     inputs, lambda out: data.produce(config.data, config.seed, out))


def run_teacher(config: BuildConfig, dirs: dict[str, Path] | None = None) -> StageOutcome:
    from toolchain import teacher

    dirs = dirs or stage_dirs(config)
    inputs = [dirs["data"]]
    if Path(config.teacher.model).is_dir():
        inputs.append(Path(config.teacher.model))
    cache_dir = teacher.cache_dir_for(config.work_dir.parent)
    return run_stage("teacher", dirs["teacher"], teacher.VERSION, _settings(config.teacher, config.seed),
                     inputs, lambda out: teacher.produce(config.teacher, config.seed, dirs["data"], out, cache_dir))


def run_distill(config: BuildConfig, dirs: dict[str, Path] | None = None) -> StageOutcome:
    from toolchain import student

    dirs = dirs or stage_dirs(config)
    return run_stage("distill", dirs["student"], student.VERSION, _settings(config.student, config.seed),
                     [dirs["data"], dirs["teacher"]],
                     lambda out: student.produce(config.student, config.seed, dirs["data"], dirs["teacher"], out))


def run_convert(config: BuildConfig, dirs: dict[str, Path] | None = None) -> StageOutcome:
    from toolchain import convert

    dirs = dirs or stage_dirs(config)
    return run_stage("convert", dirs["convert"], convert.VERSION, _settings(config.convert),
                     [dirs["student"], dirs["teacher"] / "model"],
                     lambda out: convert.produce(config.convert, dirs["student"], dirs["teacher"], out))


def run_verify(config: BuildConfig, dirs: dict[str, Path] | None = None) -> StageOutcome:
    from toolchain import verify

    dirs = dirs or stage_dirs(config)
    return run_stage("verify", dirs["verify"], verify.VERSION, _settings(config.verify),
                     [dirs["data"], dirs["student"], dirs["convert"]],
                     lambda out: verify.produce(config.verify, dirs["data"], dirs["student"], dirs["convert"], out))


def run_report(config: BuildConfig, dirs: dict[str, Path] | None = None) -> StageOutcome:
    from toolchain import report

    dirs = dirs or stage_dirs(config)
    toml = config.to_toml()
    return run_stage("report", config.model_dir, report.VERSION, {"name": config.name, "config": toml},
                     list(dirs.values()), lambda out: report.produce(config.name, toml, dirs, out))


RUNNERS = {
    "data": run_data,
    "teacher": run_teacher,
    "distill": run_distill,
    "convert": run_convert,
    "verify": run_verify,
    "report": run_report,
}


def run_until(config: BuildConfig, last: str, dirs: dict[str, Path] | None = None,
              first: str = PIPELINE[0]) -> list[StageOutcome]:
    """Runs the stages from `first` to `last` (cached ones only check their hashes)."""
    _quiet_frameworks()
    from toolchain import teacher_dist

    if teacher_dist.external_world_size() > 1:  # under torchrun / accelerate launch
        return teacher_dist.run_pipeline_distributed(lambda: _run_stages(config, last, dirs, first), config)
    return _run_stages(config, last, dirs, first)


def _run_stages(config: BuildConfig, last: str, dirs: dict[str, Path] | None, first: str) -> list[StageOutcome]:
    outcomes = []
    for name in PIPELINE[PIPELINE.index(first):]:
        outcomes.append(RUNNERS[name](config, dirs))
        if name == last:
            break
    return outcomes


def build(config: BuildConfig) -> tuple[list[StageOutcome], float]:
    start = time.monotonic()
    outcomes = run_until(config, "report")
    return outcomes, time.monotonic() - start
