"""The student's tokenizer: BERT-uncased normalization + WordPiece over a pruned vocabulary.

Built with HF `tokenizers` (the same normalizer and pre-tokenizer as the teacher's). The vocabulary
keeps every single-character piece of the teacher vocabulary and its `##` form, so any text still
segments, then the most frequent pieces of the training and transfer text.

Id layout (what the C tokenizer relies on): the 5 special tokens, then word-initial pieces sorted
by UTF-8 bytes, then continuation pieces sorted by their UTF-8 bytes without `##`. Each group is a
sorted table the device can binary-search with no runtime index.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from toolchain.contract import c_define
from toolchain.errors import ToolchainError

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
PAD_ID, UNK_ID, CLS_ID, SEP_ID = range(4)  # [MASK] only ever comes from training text (with_mask_token)
CONTINUATION = "##"
# Longer words become [UNK], as in BERT; the C tokenizer's limit is the one definition.
MAX_WORD_CHARS = c_define("textclf_tokenizer.h", "TC_MAX_WORD_CHARS")


def bert_normalizer():
    return normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )


def wordpiece_tokenizer(vocab: dict[str, int]) -> Tokenizer:
    tokenizer = Tokenizer(
        models.WordPiece(vocab=vocab, unk_token=UNK, continuing_subword_prefix=CONTINUATION,
                         max_input_chars_per_word=MAX_WORD_CHARS)
    )
    tokenizer.normalizer = bert_normalizer()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix=CONTINUATION)
    return tokenizer


def read_vocab_file(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def alphabet(teacher_vocab: list[str]) -> list[str]:
    """Every single character of the teacher vocabulary, word-initial and `##` continuation."""
    chars = set()
    for piece in teacher_vocab:
        bare = piece[len(CONTINUATION):] if piece.startswith(CONTINUATION) else piece
        if len(bare) == 1:
            chars.add(bare)
    return sorted(chars) + sorted(CONTINUATION + c for c in chars)


def _utf8_order(piece: str) -> bytes:
    return piece.encode("utf-8")


def order_vocab(pieces: set[str]) -> list[str]:
    """Special tokens, sorted word-initial pieces, sorted continuation pieces (the C layout)."""
    initial = sorted((p for p in pieces if not p.startswith(CONTINUATION)), key=_utf8_order)
    continuation = sorted(
        (p for p in pieces if p.startswith(CONTINUATION)), key=lambda p: _utf8_order(p[len(CONTINUATION):])
    )
    return list(SPECIAL_TOKENS) + initial + continuation


def prune_vocab(teacher_vocab: list[str], texts: list[str], size: int) -> list[str]:
    """The alphabet plus the most frequent teacher pieces in `texts`, `size` entries in all."""
    if not any(p.startswith(CONTINUATION) for p in teacher_vocab) or UNK not in teacher_vocab:
        raise ToolchainError("the teacher vocabulary is not a BERT WordPiece vocabulary (no ## pieces or [UNK])")
    letters = alphabet(teacher_vocab)
    minimum = len(letters) + len(SPECIAL_TOKENS)
    if size < minimum:
        raise ToolchainError(
            f"vocab size {size} is smaller than the alphabet: {len(letters)} single-character pieces "
            f"+ {len(SPECIAL_TOKENS)} special tokens = {minimum}"
        )
    teacher = wordpiece_tokenizer({piece: i for i, piece in enumerate(teacher_vocab)})
    counts = Counter()
    for encoding in teacher.encode_batch(texts, add_special_tokens=False):
        counts.update(encoding.tokens)
    keep = set(letters)
    for piece, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if len(keep) + len(SPECIAL_TOKENS) >= size:
            break
        if piece not in SPECIAL_TOKENS:
            keep.add(piece)
    return order_vocab(keep)


def build_tokenizer(vocab: list[str], sequence_length: int) -> Tokenizer:
    """The deployment tokenizer: [CLS] text [SEP], truncated and padded to `sequence_length`."""
    if list(vocab[: len(SPECIAL_TOKENS)]) != list(SPECIAL_TOKENS):
        raise ToolchainError(f"vocabulary must start with {', '.join(SPECIAL_TOKENS)}")
    tokenizer = wordpiece_tokenizer({piece: i for i, piece in enumerate(vocab)})
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}", special_tokens=[(CLS, CLS_ID), (SEP, SEP_ID)]
    )
    tokenizer.enable_truncation(max_length=sequence_length)
    tokenizer.enable_padding(length=sequence_length, pad_id=PAD_ID, pad_token=PAD)
    return tokenizer


def with_mask_token(tokenizer: Tokenizer) -> Tokenizer:
    """A copy that reads the literal "[MASK]" of augmented training text as the [MASK] id.

    Only training uses it: the deployed tokenizer (and the C one) never special-cases text."""
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.add_special_tokens([MASK])
    return copy


def encode(tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    return np.array([e.ids for e in tokenizer.encode_batch(texts)], dtype=np.int32)


def save(vocab: list[str], sequence_length: int, directory: Path) -> None:
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    build_tokenizer(vocab, sequence_length).save(str(directory / "tokenizer.json"))


def load(directory: Path) -> Tokenizer:
    path = directory / "tokenizer.json"
    if not path.is_file():
        raise ToolchainError(f"no tokenizer.json in {directory}")
    return Tokenizer.from_file(str(path))


def tokenizer_facts(tokenizer: Tokenizer) -> dict:
    """Sequence length and special ids as stored in tokenizer.json (for emission and checks)."""
    spec = json.loads(tokenizer.to_str())
    return {
        "sequence_length": spec["truncation"]["max_length"],
        "pad_id": spec["padding"]["pad_id"],
        "vocab_size": tokenizer.get_vocab_size(),
    }
