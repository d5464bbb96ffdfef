"""The pipeline: data -> teacher -> distill -> convert -> verify -> report.

Each stage runs through `stages.run_stage`, keyed by its settings and the content of what it
reads, so a re-run with nothing changed only checks hashes. Stages talk only through their
directories under `<build_dir>/<name>/` (named like the stages); `report` publishes
`<models_dir>/<name>/`. Exporting C for a device (`textclf export`) is not a stage: it reads a
published model directory and writes libraries where the user asks.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from toolchain import frameworks
from toolchain.config import BuildConfig
from toolchain.stages import StageOutcome, run_stage

PIPELINE = ("data", "teacher", "distill", "convert", "verify", "report")


def stage_dirs(config: BuildConfig) -> dict[str, Path]:
    work = config.work_dir
    return {name: work / name for name in PIPELINE if name != "report"}


def _settings(section, seed: int | None = None) -> dict:
    values = dataclasses.asdict(section)
    if seed is not None:
        values["seed"] = seed
    return values


def run_data(config: BuildConfig, dirs: dict[str, Path]) -> StageOutcome:
    from toolchain import data

    settings = _settings(config.data, config.seed)
    inputs = data.stage_inputs(config.data)
    if inputs:
        settings["source"] = "<content>"  # keyed by the file's bytes, not by where it is
    return run_stage("data", dirs["data"], data.VERSION, settings, inputs,
                     lambda out: data.produce(config.data, config.seed, out, config.cache_dir))


def run_teacher(config: BuildConfig, dirs: dict[str, Path]) -> StageOutcome:
    from toolchain import teacher

    settings = _settings(config.teacher, config.seed)
    inputs = {}
    if Path(config.teacher.model).is_dir():  # a local checkpoint: keyed by its content, not its path
        settings["model"], inputs = "<content>", {"checkpoint": Path(config.teacher.model)}
    return run_stage("teacher", dirs["teacher"], teacher.VERSION, settings, {"data": dirs["data"], **inputs},
                     lambda out: teacher.produce(config.teacher, config.seed, dirs["data"], out,
                                                 config.cache_dir / "teacher"))


def run_distill(config: BuildConfig, dirs: dict[str, Path]) -> StageOutcome:
    from toolchain import distill

    return run_stage("distill", dirs["distill"], distill.VERSION, _settings(config.student, config.seed),
                     {"data": dirs["data"], "teacher": dirs["teacher"]},
                     lambda out: distill.produce(config.student, config.seed, dirs["data"], dirs["teacher"], out))


def run_convert(config: BuildConfig, dirs: dict[str, Path]) -> StageOutcome:
    from toolchain import convert

    return run_stage("convert", dirs["convert"], convert.VERSION, _settings(config.convert),
                     {"distill": dirs["distill"], "teacher_model": dirs["teacher"] / "model"},
                     lambda out: convert.produce(config.convert, dirs["distill"], dirs["teacher"], out))


def run_verify(config: BuildConfig, dirs: dict[str, Path]) -> StageOutcome:
    from toolchain import verify

    return run_stage("verify", dirs["verify"], verify.VERSION, _settings(config.verify),
                     {"data": dirs["data"], "distill": dirs["distill"], "convert": dirs["convert"]},
                     lambda out: verify.produce(config.verify, dirs["data"], dirs["distill"], dirs["convert"], out))


def run_report(config: BuildConfig, dirs: dict[str, Path]) -> StageOutcome:
    from toolchain import report

    toml = config.to_toml()
    keyed = {k: v for k, v in config.to_dict().items() if k not in ("build_dir", "models_dir")}
    return run_stage("report", config.model_dir, report.VERSION, {"name": config.name, "config": keyed},
                     dict(dirs), lambda out: report.produce(config.name, toml, dirs, out))


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
    frameworks.configure()
    dirs = dirs or stage_dirs(config)
    from toolchain import teacher_dist

    if teacher_dist.external_world_size() > 1:  # under torchrun / accelerate launch
        return teacher_dist.run_pipeline_distributed(lambda: _run_stages(config, last, dirs, first), config)
    return _run_stages(config, last, dirs, first)


def _run_stages(config: BuildConfig, last: str, dirs: dict[str, Path], first: str) -> list[StageOutcome]:
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

