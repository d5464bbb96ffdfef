"""Stage 1, `textclf data`: labelled examples, a seeded split, and transfer text for distillation.

Outputs (in the stage directory):
  train.jsonl, validation.jsonl, test.jsonl   {"text": str, "label": int}
  transfer.jsonl                              {"text": str, "source": str}  (unlabelled)
  labels.json                                 ["negative", "positive"]
"""
from __future__ import annotations

import hashlib
import io
import json
import random
import re
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

from toolchain.config import DataConfig
from toolchain.errors import ToolchainError
from toolchain.readers import canonical_label, check_data_path, read_examples, read_user_file  # noqa: F401

# 2: user files read by toolchain.readers (TSV without quoting, canonical integer labels, ...).
VERSION = "2"

# The sdist (not the wheel) of vaderSentiment carries Hutto & Gilbert's ICWSM 2014 corpora.
VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
VADER_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
VADER_CORPORA = {
    "rotten-tomatoes": "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
    "tweets": "hutto_ICWSM_2014/tweets_GroundTruth.txt",
    "amazon": "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
    "nyt": "hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
}
MASK_TOKEN = "[MASK]"
SPLITS = ("train", "validation", "test")


def vader_archive(cache_dir: Path) -> Path:
    """The vaderSentiment sdist, fetched with pip into `cache_dir` once and checksum-checked."""
    cache_dir = Path(cache_dir) / "vader"
    path = cache_dir / VADER_SDIST
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "vaderSentiment==3.3.2", "-d", str(cache_dir)],
            capture_output=True, text=True,
        )
        if result.returncode != 0 or not path.is_file():
            raise ToolchainError("could not download the vaderSentiment==3.3.2 sdist from PyPI with pip")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != VADER_SHA256:
        raise ToolchainError(f"{path}: checksum mismatch (sha256 {digest}); delete it to fetch it again")
    return path


def read_vader_corpus(name: str, archive: Path) -> list[tuple[str, float]]:
    """(text, mean sentiment score in [-4, 4]) pairs of one ICWSM 2014 corpus (`vader_archive`)."""
    member = VADER_CORPORA[name]
    with tarfile.open(archive) as sdist:
        inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        with tarfile.open(fileobj=io.BytesIO(inner.read())) as corpora:
            raw = corpora.extractfile(member).read().decode("latin-1")
    rows = []
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].strip():
            rows.append((parts[2].strip(), float(parts[1])))
    return rows


def rotten_tomatoes_examples(archive: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """Binary sentiment: score > 0 positive, < 0 negative, exactly 0 dropped."""
    examples = [
        (text, "positive" if score > 0 else "negative")
        for text, score in read_vader_corpus("rotten-tomatoes", archive)
        if score != 0
    ]
    return examples, ["negative", "positive"]


def read_hub_dataset(spec: str, text_column: str, label_column: str) -> list[tuple[str, object]]:
    """`hf:NAME[:CONFIG]` through `datasets` (for machines that reach the Hugging Face hub)."""
    name, _, config = spec[3:].partition(":")
    try:
        import datasets
    except ImportError:
        raise ToolchainError("hf: data needs the `datasets` package (pip install '.[hub]')") from None
    try:
        loaded = datasets.load_dataset(name, config or None)
    except Exception as exc:
        raise ToolchainError(f"cannot load dataset {name!r} from the Hugging Face hub: {exc}") from None
    rows = []
    for split_name, split in loaded.items():
        if text_column not in split.column_names or label_column not in split.column_names:
            raise ToolchainError(f"dataset {name!r} has no column {text_column!r} or {label_column!r}")
        feature = split.features[label_column]
        names = getattr(feature, "names", None)
        for number, record in enumerate(split):
            label = record[label_column]
            if names is not None and isinstance(label, int) and label >= 0:
                label = names[label]
            if isinstance(label, int) and not isinstance(label, bool) and label < 0:
                continue  # unlabelled (e.g. GLUE test splits)
            where = f"dataset {name!r}, split {split_name!r}, row {number}"
            rows.append((str(record[text_column]).strip(), canonical_label(label, where)))
    return rows


def label_names(rows: list[tuple[str, object]], source: str) -> list[str]:
    raw = {str(label).strip() for _, label in rows}
    # Integer labels (canonical decimals, see toolchain.readers) keep numeric order; others sort as text.
    if all(re.fullmatch(r"-?[0-9]+", v) for v in raw):
        names = sorted(raw, key=int)
    else:
        names = sorted(raw)
    if len(names) < 2:
        raise ToolchainError(f"{source}: only one class ({names[0]!r}); a classifier needs two or more")
    return names


def deduplicate_counting(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int, int]:
    """deduplicate(), plus how many repeats were dropped and how many texts had conflicting labels."""
    labels_of: dict[str, set] = {}
    for text, label in rows:
        labels_of.setdefault(text, set()).add(label)
    seen, result = set(), []
    for text, label in rows:
        if len(labels_of[text]) == 1 and text not in seen:
            seen.add(text)
            result.append((text, label))
    conflicting = sum(1 for labels in labels_of.values() if len(labels) > 1)
    repeats = sum(1 for text, _ in rows if len(labels_of[text]) == 1) - len(result)
    return result, repeats, conflicting


def deduplicate(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drops repeated texts; a text seen with two different labels is dropped entirely."""
    return deduplicate_counting(rows)[0]


def split_sizes(n: int, config: DataConfig) -> tuple[int, int]:
    """(test, validation) examples taken from a class of n; the rest is training data."""
    return round(n * config.test_fraction), round(n * config.validation_fraction)


def min_class_size(config: DataConfig) -> int:
    """The fewest examples with which a class lands in both the train and the test split."""
    if not (config.test_fraction > 0 and config.test_fraction + config.validation_fraction < 1):
        raise ToolchainError("config: test_fraction must be positive and leave room for training data")
    n = 1
    while True:
        n_test, n_val = split_sizes(n, config)
        if n_test >= 1 and n - n_test - n_val >= 1:
            return n
        n += 1


def stratified_split(rows, n_labels, config: DataConfig, seed: int):
    rng = random.Random(seed)
    by_label = [[r for r in rows if r[1] == k] for k in range(n_labels)]
    parts = {name: [] for name in SPLITS}
    for group in by_label:
        rng.shuffle(group)
        n_test, n_val = split_sizes(len(group), config)
        parts["test"] += group[:n_test]
        parts["validation"] += group[n_test : n_test + n_val]
        parts["train"] += group[n_test + n_val :]
    for name in SPLITS:
        rng.shuffle(parts[name])
    return parts


def augment(text: str, rng: random.Random, config: DataConfig) -> str:
    """One Tang et al. (2019) style variant: words masked, then maybe an n-gram sampled."""
    words = text.split()
    words = [MASK_TOKEN if rng.random() < config.mask_probability else w for w in words]
    if len(words) > 2 and rng.random() < config.ngram_probability:
        n = rng.randint(1, min(5, len(words) - 1))
        start = rng.randrange(0, len(words) - n + 1)
        words = words[start : start + n]
    return " ".join(words)


def transfer_text(train_texts, held_out: set[str], config: DataConfig, seed: int, cache_dir: Path) -> list[dict]:
    rng = random.Random(seed + 1)
    rows, seen = [], set(held_out) | set(train_texts)
    for corpus in config.transfer_corpora:
        if corpus not in VADER_CORPORA or corpus == "rotten-tomatoes":
            raise ToolchainError(f"unknown transfer corpus {corpus!r} (choose from tweets, amazon, nyt)")
        texts = [t for t, _ in read_vader_corpus(corpus, vader_archive(cache_dir))]
        for text in texts:
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "source": corpus})
    rng.shuffle(rows)
    if config.max_transfer:
        rows = rows[: config.max_transfer]
    for text in train_texts:
        for _ in range(config.augment_copies):
            variant = augment(text, rng, config)
            if variant and variant != text and variant not in seen:
                seen.add(variant)
                rows.append({"text": variant, "source": "augmented"})
    return rows


def stage_inputs(config: DataConfig) -> dict[str, Path]:
    """The file the data stage reads, by role (hashed into its key). A user's path is checked
    first, so a directory, FIFO or unreadable file is an error here rather than a traceback (or a
    hang) while the stage key is computed."""
    if config.source.startswith(("vader:", "hf:")):
        return {}
    path = Path(config.source)
    check_data_path(path)
    return {"source": path}


def load_examples(config: DataConfig, cache_dir: Path) -> tuple[list[tuple[str, str]], list[str], str, int]:
    """(text, label) pairs, the sorted class names, the source, and rows skipped for an empty text."""
    source = config.source
    if source == "vader:rotten-tomatoes":
        rows, names = rotten_tomatoes_examples(vader_archive(cache_dir))
        return rows, names, source, 0
    if source.startswith("vader:"):
        raise ToolchainError(f"unknown built-in data {source!r} (the built-in task is vader:rotten-tomatoes)")
    skipped = 0
    if source.startswith("hf:"):
        rows = read_hub_dataset(source, config.text_column, config.label_column)
        if not rows:
            raise ToolchainError(f"{source}: no labelled examples")
    else:
        rows, skipped = read_examples(Path(source), config.text_column, config.label_column)
    names = label_names(rows, source)
    return [(text, str(label).strip()) for text, label in rows], names, source, skipped


def write_jsonl(path: Path, records) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _check_classes(source: str, names: list[str], counts: Counter, cleaning: list[str], config: DataConfig):
    """One message per cause: nothing left, one class left, a class too small for the split."""
    after = f" after {' and '.join(cleaning)}" if cleaning else ""
    if not counts:
        raise ToolchainError(f"{source}: no examples left{after}")
    if len(counts) < 2:
        (only,) = counts
        raise ToolchainError(f"{source}: only one class ({names[only]!r}) left{after}; "
                             "a classifier needs two or more")
    need = min_class_size(config)
    for k, name in enumerate(names):
        if counts.get(k, 0) < need:
            raise ToolchainError(
                f"{source}: class {name!r} has {counts.get(k, 0)} example(s){after}; with test_fraction "
                f"{config.test_fraction} and validation_fraction {config.validation_fraction} a class needs "
                f"at least {need} to appear in both the train and the test split"
            )


def produce(config: DataConfig, seed: int, out: Path, cache_dir: Path) -> dict:
    rows, names, source, skipped_empty = load_examples(config, cache_dir)
    index = {name: i for i, name in enumerate(names)}
    rows, repeats, conflicting = deduplicate_counting(rows)
    cleaning = [f"dropping {conflicting} text(s) seen with different labels"] if conflicting else []
    if config.max_examples and len(rows) > config.max_examples:
        cleaning.append(f"keeping {config.max_examples} (max_examples) of {len(rows)}")
    if config.max_examples:
        random.Random(seed).shuffle(rows)
        rows = rows[: config.max_examples]
    indexed = [(text, index[label]) for text, label in rows]
    counts = Counter(label for _, label in indexed)
    _check_classes(source, names, counts, cleaning, config)
    parts = stratified_split(indexed, len(names), config, seed)
    for name in ("train", "test"):
        if not parts[name]:  # unreachable after _check_classes; a guard, not a message users should see
            raise ToolchainError(f"{source}: the split leaves the {name} set empty")
    for name in SPLITS:
        write_jsonl(out / f"{name}.jsonl", ({"text": t, "label": y} for t, y in parts[name]))
    held_out = {t for name in ("validation", "test") for t, _ in parts[name]}
    transfer = transfer_text([t for t, _ in parts["train"]], held_out, config, seed, cache_dir)
    write_jsonl(out / "transfer.jsonl", transfer)
    (out / "labels.json").write_text(json.dumps(names) + "\n")
    return {
        "source": source,
        "labels": names,
        "examples": {name: len(parts[name]) for name in SPLITS},
        "class_counts": {names[k]: v for k, v in sorted(counts.items())},
        "dropped": {"empty_text": skipped_empty, "repeated_text": repeats, "conflicting_labels": conflicting},
        "transfer": dict(Counter(r["source"] for r in transfer)),
    }
