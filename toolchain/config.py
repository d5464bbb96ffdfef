"""One build = one config: TOML file (optional) overridden by command-line flags.

The resolved config is saved beside the model (`models/<name>/config.toml`) so a model directory
always says how it was made. Each stage hashes only its own section (plus what it reads from disk),
so changing a student setting does not re-train the teacher. The whole config is validated here,
before any stage runs: a bad value costs a second, not a trained teacher.

Directories resolve against the project directory: the current directory, or `--project-dir`.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from toolchain.errors import ToolchainError

OFFLINE_TEACHER = "minilm-l6-as-distilbert"
DEFAULT_DATA = "vader:rotten-tomatoes"
ARCHITECTURES = ("bag", "cnn", "transformer")
TRANSFER_CORPORA = ("tweets", "amazon", "nyt")


# What `textclf search` varies, in Candidate's order: the student's shape and embedding bits.
SEARCH_SPACE = {
    "architecture": ("cnn", "bag"),
    "vocab_size": (7600, 4000, 2500),
    "embedding_dim": (32, 24, 16),
    "hidden_dim": (64, 32),
    "embedding_bits": (0, 4, 3, 2),
}


@dataclass
class DataConfig:
    source: str = DEFAULT_DATA  # "vader:rotten-tomatoes", a CSV/TSV/JSONL path, or "hf:NAME[:CONFIG]"
    text_column: str = "text"
    label_column: str = "label"
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    max_examples: int = 0  # 0 = all; small values make quick experiments and tests
    # Unlabelled text for distillation: the other VADER corpora, labelled by the teacher.
    transfer_corpora: list[str] = field(default_factory=lambda: ["tweets", "amazon", "nyt"])
    max_transfer: int = 0  # 0 = all
    # Augmented copies of each training sentence (Tang et al. 2019: masking, n-gram sampling).
    augment_copies: int = 3
    mask_probability: float = 0.1
    ngram_probability: float = 0.25


@dataclass
class TeacherConfig:
    model: str = OFFLINE_TEACHER  # or a hub id / local directory of any DistilBERT checkpoint
    epochs: float = 2.0
    batch_size: int = 32
    learning_rate: float = 5e-5
    max_length: int = 64
    max_steps: int = 0  # 0 = no limit (tests use a few steps)
    processes: int = 1  # teacher processes (DDP through Accelerate; gloo on CPU, one per GPU)


@dataclass
class StudentConfig:
    architecture: str = "cnn"  # one of ARCHITECTURES
    vocab_size: int = 7600
    sequence_length: int = 64
    embedding_dim: int = 24  # the default model is the search's pick (README: "Students: the search that chose the default")
    hidden_dim: int = 64
    # Phase 1: the embedding table as a learned projection of the teacher's piece vectors.
    epochs: int = 10
    learning_rate: float = 1e-3
    # Phase 2: the multiplied-out table and everything else fine-tuned.
    finetune_epochs: int = 3
    finetune_learning_rate: float = 1e-4
    batch_size: int = 64
    temperature: float = 2.0
    # loss = distill_weight * T^2 * KL(teacher_T || student_T) + (1 - distill_weight) * CE(labels)
    distill_weight: float = 0.7
    # Phase 3 (when embedding_bits > 0): the embedding table clustered to 2^bits levels, per table
    # or per column ("per_tensor" / "per_channel"), fine-tuned with the levels tied, then stored in
    # TFLite Micro's LUT-compressed format (bits-bit indices + a value table).
    embedding_bits: int = 2
    embedding_lut: str = "per_channel"
    cluster_epochs: int = 2


@dataclass
class ConvertConfig:
    calibration_examples: int = 400


@dataclass
class VerifyConfig:
    golden_count: int = 40


@dataclass
class BuildConfig:
    name: str = "default"
    seed: int = 0
    build_dir: str = "build"
    models_dir: str = "models"
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    convert: ConvertConfig = field(default_factory=ConvertConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    # Where relative directories start: not a setting of the model (not saved, not hashed).
    project_dir: Path = field(default_factory=Path.cwd, compare=False)

    def _resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else Path(self.project_dir) / p

    @property
    def work_dir(self) -> Path:
        return self._resolve(self.build_dir) / self.name

    @property
    def model_dir(self) -> Path:
        return self._resolve(self.models_dir) / self.name

    @property
    def cache_dir(self) -> Path:
        """Downloads and content-keyed caches shared by every build of the project (or by every
        project: TEXTCLF_CACHE_DIR). A dot name: no build's own folder can be called that."""
        shared = os.environ.get("TEXTCLF_CACHE_DIR")
        return Path(shared) if shared else self._resolve(self.build_dir) / ".cache"

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values.pop("project_dir")
        return values

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


SECTIONS = {
    "data": DataConfig,
    "teacher": TeacherConfig,
    "student": StudentConfig,
    "convert": ConvertConfig,
    "verify": VerifyConfig,
}


def _coerce(section: str, key: str, value, target_type):
    expected = target_type if isinstance(target_type, type) else None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected in (int, float) and isinstance(value, bool):
        raise ToolchainError(f"config: {section}.{key} must be {expected.__name__}, got a boolean {value!r}")
    if expected is not None and not isinstance(value, expected):
        raise ToolchainError(
            f"config: {section}.{key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _apply(obj, values: dict, section: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(obj) if f.name != "project_dir"}
    for key, value in values.items():
        if key not in fields:
            raise ToolchainError(f"config: unknown setting {section}.{key}" if section else f"config: unknown setting {key}")
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ToolchainError(f"config: [{key}] must be a table")
            _apply(getattr(obj, key), value, key)
            continue
        field_type = {"str": str, "int": int, "float": float, "bool": bool}.get(
            str(fields[key].type), list if str(fields[key].type).startswith("list") else None
        )
        setattr(obj, key, _coerce(section or "build", key, value, field_type))


def load_config(path: str | None, overrides: dict | None = None, project_dir: Path | None = None) -> BuildConfig:
    """Defaults, then the TOML file, then flag overrides ({"student.vocab_size": 4000, "name": ...})."""
    config = BuildConfig(project_dir=Path(project_dir) if project_dir else Path.cwd())
    if path:
        p = Path(path)
        if not p.is_file():
            raise ToolchainError(f"config file not found: {p}")
        try:
            values = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ToolchainError(f"config file {p} is not valid TOML: {exc}") from None
        _apply(config, values, "")
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.rpartition(".")
        _apply(getattr(config, section) if section else config, {key: value}, section)
    validate(config)
    return config


def validate(config: BuildConfig) -> None:
    """Every setting in range, before any stage runs (ranges generous, but no value that would
    silently mean something else, train nothing, or exhaust the machine)."""
    d, t, s = config.data, config.teacher, config.student

    def bad(key: str, message: str) -> ToolchainError:
        return ToolchainError(f"config: {key} {message}")

    def number(key: str, value, low, high, integer: bool = False) -> None:
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            raise bad(key, f"must be {'an integer' if integer else 'a number'}, not {value!r}")
        if not math.isfinite(value) or not low <= value <= high:
            raise bad(key, f"must be between {low} and {high}, not {value!r}")

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", config.name or ""):
        raise bad("name", f"{config.name!r} must be a letter or digit then up to 63 of letters, digits, '.', '_', '-'")
    number("seed", config.seed, 0, 2**31 - 1, integer=True)
    for key in ("build_dir", "models_dir"):
        if not getattr(config, key):
            raise bad(key, "must not be empty")
    if not d.source:
        raise bad("data.source", "must not be empty")
    for key in ("text_column", "label_column"):
        if not getattr(d, key):
            raise bad(f"data.{key}", "must not be empty")
    number("data.validation_fraction", d.validation_fraction, 0.0, 0.49)
    number("data.test_fraction", d.test_fraction, 0.01, 0.49)
    number("data.max_examples", d.max_examples, 0, 10**8, integer=True)
    number("data.max_transfer", d.max_transfer, 0, 10**8, integer=True)
    number("data.augment_copies", d.augment_copies, 0, 20, integer=True)
    number("data.mask_probability", d.mask_probability, 0.0, 1.0)
    number("data.ngram_probability", d.ngram_probability, 0.0, 1.0)
    unknown = [c for c in d.transfer_corpora if c not in TRANSFER_CORPORA]
    if unknown:
        raise bad("data.transfer_corpora", f"has {unknown[0]!r}; choose from {', '.join(TRANSFER_CORPORA)}")
    if not t.model:
        raise bad("teacher.model", "must not be empty")
    number("teacher.epochs", t.epochs, 0.01, 100.0)
    number("teacher.batch_size", t.batch_size, 1, 4096, integer=True)
    number("teacher.learning_rate", t.learning_rate, 1e-8, 1.0)
    number("teacher.max_length", t.max_length, 8, 512, integer=True)
    number("teacher.max_steps", t.max_steps, 0, 10**8, integer=True)
    number("teacher.processes", t.processes, 1, 4096, integer=True)
    if s.architecture not in ARCHITECTURES:
        raise bad("student.architecture", f"{s.architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    number("student.vocab_size", s.vocab_size, 64, 200_000, integer=True)
    number("student.sequence_length", s.sequence_length, 4, 512, integer=True)
    number("student.embedding_dim", s.embedding_dim, 1, 1024, integer=True)
    number("student.hidden_dim", s.hidden_dim, 1, 4096, integer=True)
    number("student.epochs", s.epochs, 0, 1000, integer=True)
    number("student.finetune_epochs", s.finetune_epochs, 0, 1000, integer=True)
    if s.epochs + s.finetune_epochs == 0:
        raise bad("student.epochs", "and student.finetune_epochs are both 0: the student would not be trained")
    number("student.learning_rate", s.learning_rate, 1e-8, 1.0)
    number("student.finetune_learning_rate", s.finetune_learning_rate, 1e-8, 1.0)
    number("student.batch_size", s.batch_size, 1, 4096, integer=True)
    number("student.temperature", s.temperature, 0.01, 100.0)
    number("student.distill_weight", s.distill_weight, 0.0, 1.0)
    if s.embedding_bits != 0:
        number("student.embedding_bits", s.embedding_bits, 1, 7, integer=True)
    if s.embedding_lut not in ("per_tensor", "per_channel"):
        raise bad("student.embedding_lut", f"{s.embedding_lut!r} is not 'per_tensor' or 'per_channel'")
    number("student.cluster_epochs", s.cluster_epochs, 0, 1000, integer=True)
    if s.architecture == "transformer" and s.embedding_dim % 2:
        raise bad("student.embedding_dim", "must be even for the transformer (2 attention heads)")
    number("convert.calibration_examples", config.convert.calibration_examples, 1, 100_000, integer=True)
    # At least one: `textclf export` checks the C it writes against the goldens.
    number("verify.golden_count", config.verify.golden_count, 1, 1000, integer=True)
