"""One build = one config: TOML file (optional) overridden by command-line flags.

The resolved config is saved beside the model (`models/<name>/config.toml`) so a model directory
always says how it was made. Each stage hashes only its own section (plus what it reads from disk),
so changing a student setting does not re-train the teacher.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from toolchain.errors import ToolchainError

PROJECT_DIR = Path(__file__).resolve().parents[1]
OFFLINE_TEACHER = "minilm-l6-as-distilbert"
DEFAULT_DATA = "vader:rotten-tomatoes"


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
    architecture: str = "cnn"  # see toolchain.student.ARCHITECTURES
    vocab_size: int = 7600
    sequence_length: int = 64
    embedding_dim: int = 32
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

    @property
    def work_dir(self) -> Path:
        return _resolve(self.build_dir) / self.name

    @property
    def model_dir(self) -> Path:
        return _resolve(self.models_dir) / self.name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


SECTIONS = {
    "data": DataConfig,
    "teacher": TeacherConfig,
    "student": StudentConfig,
    "convert": ConvertConfig,
    "verify": VerifyConfig,
}


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else PROJECT_DIR / p


def _coerce(section: str, key: str, value, target_type):
    expected = target_type if isinstance(target_type, type) else None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is not None and not isinstance(value, expected):
        raise ToolchainError(
            f"config: {section}.{key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _apply(obj, values: dict, section: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(obj)}
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


def load_config(path: str | None, overrides: dict | None = None) -> BuildConfig:
    """Defaults, then the TOML file, then flag overrides ({"student.vocab_size": 4000, "name": ...})."""
    config = BuildConfig()
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
    d, s = config.data, config.student
    if not config.name or "/" in config.name or config.name.startswith("."):
        raise ToolchainError(f"config: invalid build name {config.name!r}")
    if not 0 <= d.validation_fraction < 0.5 or not 0 < d.test_fraction < 0.5:
        raise ToolchainError("config: validation/test fractions must be in [0, 0.5)")
    if s.sequence_length < 4:
        raise ToolchainError("config: student.sequence_length must be at least 4")
    if not 0.0 <= s.distill_weight <= 1.0:
        raise ToolchainError("config: student.distill_weight must be in [0, 1]")
    if config.teacher.processes < 1:
        raise ToolchainError("config: teacher.processes must be at least 1")
    if s.temperature <= 0:
        raise ToolchainError("config: student.temperature must be positive")
