"""C tables for the on-device tokenizer: the vocabulary and the Unicode normalization tables.

`vocab_source` renders a model library's `<prefix>_vocab.c`, `unicode_source` the runtime's
`textclf_unicode.c` (formats: textclf_tokenizer.h in the runtime).

Vocabulary: the pieces after the 5 special tokens, as `toolchain.tokenizer.order_vocab` lays them
out (word-initial pieces sorted by UTF-8 bytes, then continuation pieces sorted by their bytes without
"##"), front-coded in blocks of 2^block_shift pieces: each piece is stored as the number of bytes it
shares with the previous piece of its block and the rest of its bytes (one header byte for both
numbers when they are below 15), the first piece of a block whole. One uint16 start per block;
starts past 64 KiB are kept as 16-bit values plus a short list of the block indices where they wrap.
`benchmarks/vocabulary.py` measures the sizes and lookup cost that chose the block size.

Unicode tables: what the training tokenizer (HF `tokenizers`: `BertNormalizer` with clean_text,
handle_chinese_chars, accent stripping and lowercasing, then `BertPreTokenizer`) does with each code
point. They are PROBED FROM THAT REFERENCE, each code point on its own over 0..0x10FFFF (surrogates
excepted; batched between separators), not derived from Python's `unicodedata`, because the Rust
crates behind `tokenizers` 0.23.3 mix Unicode versions and none of them is Python 3.11's Unicode 14.
Comparing the reference with an NFD / category / str.lower derivation from `unicodedata` found:

- 829,834 code points unassigned in Unicode 14 (Cn) are kept, not removed as "other" (as word
  characters, or isolated inside the CJK ranges), and Rust's newer case tables lowercase a few of
  them (U+A7CB -> U+0264, U+A7DC -> U+019B, U+1C89 -> U+1C8A).
- The `unicode_categories` crate is at Unicode 8: 384 nonspacing marks (e.g. U+0898 ARABIC SMALL HIGH
  WORD AL-JUZ, U+1DF6) and 13 format characters (e.g. U+0890 ARABIC POUND MARK ABOVE, U+13430 EGYPTIAN
  HIEROGLYPH VERTICAL JOINER) are unassigned to it, so neither accent stripping nor clean_text drops
  them; U+1734 HANUNOO SIGN PAMUDPOD, a spacing mark since Unicode 14, is still dropped as a mark.
- The normalization crate is at Unicode 9: U+11938 DIVES AKURU VOWEL SIGN O is not decomposed, and
  only 83 of the characters that survive accent stripping are non-starters to it (e.g. U+1D165,
  U+1B44, U+08D4); newer marks such as U+07FD or U+1DF6 (classes 220 and 232 in Unicode 14) are
  starters to it, so they do not take part in canonical reordering.

A table derived from `unicodedata` would need all of these as exceptions, and Python cannot know
the Unicode 15/16 case mappings at all; probing gets them by construction and follows `tokenizers`
upgrades. `unicodedata` only supplies the combining class values of the 83 non-starters (the
reference shows which characters reorder, not the numbers); every pair of them is then checked
against the reference's canonical reordering. tests/test_tokenizer_tables.py checks the compiled C
lookups against the reference over all code points.

Per code point the tables give a class (see `CLASS_*`) and, for kept characters, the 1-3 code points
it becomes. Canonical reordering is the one place where characters interact: the reference decomposes
the whole text before it drops marks, so a surviving non-starter moves before earlier non-starters of
higher class in the same run; a dropped mark with class 0 ends such a run (`CLASS_RUN_BREAK`), while a
dropped non-starter or a character clean_text removes leaves it open (`CLASS_IGNORED`).
"""
from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from tokenizers import __version__ as tokenizers_version
from tokenizers import pre_tokenizers

from toolchain.contract import c_defines
from toolchain.emit.render import render
from toolchain.errors import ToolchainError
from toolchain.tokenizer import CLS_ID, CONTINUATION, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, bert_normalizer

# The C tokenizer's layout, defined in textclf_tokenizer.h (the one definition).
_C = c_defines("textclf_tokenizer.h")
CLASS_WORD, CLASS_ISOLATED, CLASS_SPACE, CLASS_IGNORED, CLASS_RUN_BREAK = (
    _C["TC_CLASS_WORD"], _C["TC_CLASS_ISOLATED"], _C["TC_CLASS_SPACE"], _C["TC_CLASS_IGNORED"],
    _C["TC_CLASS_RUN_BREAK"])
MAP_DELTA, MAP_ALTERNATE, MAP_CONSTANT, MAP_DENSE, MAP_MULTI = (
    _C["TC_MAP_DELTA"], _C["TC_MAP_ALTERNATE"], _C["TC_MAP_CONSTANT"], _C["TC_MAP_DENSE"], _C["TC_MAP_MULTI"])
CLASS_BLOCK_BITS = _C["TC_CLASS_BLOCK_BITS"]  # class runs are indexed per block of 2^bits code points
CLASS_BLOCKS = 0x110000 >> CLASS_BLOCK_BITS
MAX_GROUP = 256  # code points per mapping group (8 bits of count - 1)
MAX_MAPPED = _C["TC_MAX_MAPPED"]  # code points one code point normalizes to
INT16 = range(-(1 << 15), 1 << 15)
PLANE2 = 0x20000  # dense results are in the BMP or in plane 2 (CJK compatibility targets)
HANGUL_FIRST, HANGUL_COUNT = 0xAC00, 11172  # decomposed by the C code (Unicode's algorithm)

# Probes for canonical reordering: surviving non-starters of a high and a low combining class.
HIGH_NON_STARTER, LOW_NON_STARTER = "\U0001D16D", "\u1B44"  # classes 226 and 9

WORD, PUNCT, SPACE = "word", "punct", "space"
PROBE_CHUNK = 4096
# Batched probes are joined with a starter that no other code point normalizes into, so canonical
# reordering never crosses it and the results split apart again.
SEPARATOR = "\u2603"


@dataclass
class UnicodeTables:
    """The arrays of tc_unicode_tables (tokenizer.h), ready to render."""
    class_block_starts: list[int]
    classes: list[int]
    map_heads: list[int]
    map_params: list[int]
    dense: list[int]
    multi: list[int]
    non_starters: list[int]

    @property
    def dense_low(self) -> list[int]:
        return [value & 0xFFFF for value in self.dense]

    @property
    def dense_plane2(self) -> bytes:
        bits = bytearray((len(self.dense) + 7) // 8)
        for index, value in enumerate(self.dense):
            if value >= PLANE2:
                bits[index >> 3] |= 1 << (index & 7)
        return bytes(bits)

    def size_bytes(self) -> int:
        return (2 * (len(self.class_block_starts) + len(self.classes)) + 6 * len(self.map_heads)
                + 2 * len(self.dense) + len(self.dense_plane2) + 4 * (len(self.multi) + len(self.non_starters)))


def code_points() -> list[int]:
    return [cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000]


def reference_normalized() -> dict[int, str]:
    """What BertNormalizer makes of each code point on its own (probed in batches between separators)."""
    normalizer = bert_normalizer()
    normalized = {ord(SEPARATOR): normalizer.normalize_str(SEPARATOR)}
    probes = [chr(cp) for cp in code_points() if chr(cp) != SEPARATOR]
    for begin in range(0, len(probes), PROBE_CHUNK):
        part = probes[begin:begin + PROBE_CHUNK]
        results = normalizer.normalize_str(SEPARATOR.join(part)).split(SEPARATOR)
        if len(results) != len(part):
            raise ToolchainError("a code point normalizes into the probe separator U+2603")
        normalized.update(zip(map(ord, part), results))
    return normalized


def reference_kinds(chars: set[str]) -> dict[str, str]:
    """How BertPreTokenizer treats each character: WORD, PUNCT (isolated) or SPACE (dropped split)."""
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    chars = list(chars)
    kinds = {}
    for begin in range(0, len(chars), PROBE_CHUNK):
        part = chars[begin:begin + PROBE_CHUNK]
        # Every probed character sits between two 'a's (odd offsets): a word character joins them
        # into a longer piece, punctuation is a piece of its own, whitespace is in no piece.
        found = [SPACE] * len(part)
        for _, (start, end) in pre_tokenizer.pre_tokenize_str("a" + "a".join(part) + "a"):
            for offset in range(start | 1, end, 2):
                found[offset // 2] = PUNCT if end - start == 1 else WORD
        kinds.update(zip(part, found))
    return kinds


def _run_breaks(dropped: list[int]) -> set[int]:
    """The dropped code points that end a canonical-ordering run: between a high and a low
    non-starter, they keep the two from trading places."""
    normalizer = bert_normalizer()
    breaks = set()
    for begin in range(0, len(dropped), PROBE_CHUNK):
        part = dropped[begin:begin + PROBE_CHUNK]
        probes = SEPARATOR.join(HIGH_NON_STARTER + chr(cp) + LOW_NON_STARTER for cp in part)
        for cp, result in zip(part, normalizer.normalize_str(probes).split(SEPARATOR)):
            if result != LOW_NON_STARTER + HIGH_NON_STARTER:
                breaks.add(cp)
    return breaks


def _classify(normalized: dict[int, str]) -> tuple[dict[int, int], dict[int, str]]:
    """The class of each code point, and what the kept ones that change become; raises if the C
    model cannot express a code point."""
    kinds = reference_kinds({c for text in normalized.values() for c in text})
    breaks = _run_breaks([cp for cp, text in normalized.items() if text == ""])
    classes, changed = {}, {}
    for cp, text in normalized.items():
        if len(text) == 1 and kinds[text] != SPACE:
            classes[cp] = CLASS_WORD if kinds[text] == WORD else CLASS_ISOLATED
        elif text == "":
            classes[cp] = CLASS_RUN_BREAK if cp in breaks else CLASS_IGNORED
            continue
        elif text == " ":
            classes[cp] = CLASS_SPACE
            continue
        elif len(text) == 3 and text[0] == text[2] == " " and kinds[text[1]] == WORD:
            classes[cp], text = CLASS_ISOLATED, text[1]  # handle_chinese_chars
        elif len(text) <= MAX_MAPPED and all(kinds[c] == WORD for c in text):
            classes[cp] = CLASS_WORD
        else:
            raise ToolchainError(f"U+{cp:04X} normalizes to {text!r}, which the C tokenizer cannot express")
        if text != chr(cp):
            changed[cp] = text
    return classes, changed


def _class_runs(classes: dict[int, int]) -> tuple[list[int], list[int]]:
    """Per 8192-code-point block, where each run of one class starts: (offset << 3) | class."""
    block_starts, runs = [], []
    for block in range(CLASS_BLOCKS):
        block_starts.append(len(runs))
        previous = None
        for offset in range(1 << CLASS_BLOCK_BITS):
            cp = (block << CLASS_BLOCK_BITS) | offset
            value = classes.get(cp, CLASS_IGNORED)  # surrogates never come out of the UTF-8 decoder
            if value != previous:
                runs.append(offset << 3 | value)
                previous = value
    block_starts.append(len(runs))
    return block_starts, runs


def _non_starters(normalized: dict[int, str]) -> list[int]:
    """(code point << 8) | combining class of every kept character the reference reorders."""
    normalizer = bert_normalizer()
    found = {}
    for char in sorted({c for text in normalized.values() for c in text if unicodedata.combining(c)}):
        high = normalizer.normalize_str(HIGH_NON_STARTER + char) == char + HIGH_NON_STARTER
        low = normalizer.normalize_str(char + LOW_NON_STARTER) == LOW_NON_STARTER + char
        if high or low:
            found[char] = unicodedata.combining(char)
    for first in found:
        for second in found:
            expected = sorted(first + second, key=lambda c: found[c])  # stable: ties keep their order
            if normalizer.normalize_str(first + second) != "".join(expected):
                raise ToolchainError(
                    f"canonical order of U+{ord(first):04X} U+{ord(second):04X} differs from unicodedata")
    return [ord(char) << 8 | ccc for char, ccc in sorted(found.items())]


def _group(start: int, kind: int, count: int, param: int = 0, values: list | None = None) -> dict:
    return {"start": start, "kind": kind, "count": count, "param": param, "values": values or []}


def _mapping_groups(changed: dict[int, str]) -> list[dict]:
    """Runs of code points whose result follows one rule, cheapest first; leftovers become dense."""
    changed = {cp: text for cp, text in changed.items() if not HANGUL_FIRST <= cp < HANGUL_FIRST + HANGUL_COUNT}
    groups: list[dict] = []
    for cp in sorted(changed):
        text = changed[cp]
        last = groups[-1] if groups else None
        end = last["start"] + last["count"] if last else -1
        if len(text) > 1:
            if last and last["kind"] == MAP_MULTI and cp == end and last["count"] < MAX_GROUP:
                last["count"] += 1
                last["values"].append(text)
            else:
                groups.append(_group(cp, MAP_MULTI, 1, values=[text]))
            continue
        target = ord(text)
        if last and last["kind"] != MAP_MULTI and last["count"] < MAX_GROUP - 1:
            delta_matches = target - cp == last["param"]
            if last["count"] == 1 and last["kind"] == MAP_DELTA:
                first_target = last["start"] + last["param"]
                if cp == end and target == first_target:
                    last.update(kind=MAP_CONSTANT, count=2)
                    continue
                if cp == end + 1 and delta_matches:
                    last.update(kind=MAP_ALTERNATE, count=3)
                    continue
            if last["kind"] == MAP_DELTA and cp == end and delta_matches:
                last["count"] += 1
                continue
            if last["kind"] == MAP_CONSTANT and cp == end and target == last["start"] + last["param"]:
                last["count"] += 1
                continue
            if last["kind"] == MAP_ALTERNATE and cp == end + 1 and delta_matches:
                last["count"] += 2
                continue
        groups.append(_group(cp, MAP_DELTA, 1, target - cp))
    return _with_dense(groups, changed)


def _dense_encodable(values: list[int]) -> bool:
    return all(value >> 16 in (0, PLANE2 >> 16) for value in values)


def _with_dense(groups: list[dict], changed: dict[int, str]) -> list[dict]:
    """Single code points and out-of-range parameters as dense runs: 2 bytes + 1 bit per result where
    a group costs 6 bytes."""
    result: list[dict] = []
    for group in groups:
        if group["kind"] == MAP_MULTI or (group["count"] > 1 and group["param"] in INT16):
            result.append(group)
            continue
        span = range(group["start"], group["start"] + group["count"])
        values = [ord(changed[cp]) if cp in changed else cp for cp in span]
        if not _dense_encodable(values):
            result.append(group)
            continue
        last = result[-1] if result else None
        if (last and last["kind"] == MAP_DENSE and last["start"] + last["count"] == group["start"]
                and last["count"] + group["count"] <= MAX_GROUP):
            last["count"] += group["count"]
            last["values"] += values
            continue
        result.append(_group(group["start"], MAP_DENSE, group["count"], values=values))
    for group in result:  # a lone dense result is cheaper as a delta, when that fits
        if group["kind"] == MAP_DENSE and group["count"] == 1 and group["values"][0] - group["start"] in INT16:
            group.update(kind=MAP_DELTA, param=group["values"][0] - group["start"], values=[])
    return result


def _encode_groups(groups: list[dict]) -> tuple[list[int], list[int], list[int], list[int]]:
    heads, params, dense, multi = [], [], [], []
    for group in groups:
        if group["kind"] == MAP_DENSE:
            group["param"] = len(dense)
            dense += group["values"]
        elif group["kind"] == MAP_MULTI:
            group["param"] = len(multi) // MAX_MAPPED
            for text in group["values"]:
                multi += [ord(c) for c in text] + [0] * (MAX_MAPPED - len(text))
        if group["param"] not in INT16:
            raise ToolchainError(f"mapping parameter {group['param']} does not fit 16 bits")
        heads.append(group["start"] << 11 | group["kind"] << 8 | (group["count"] - 1))
        params.append(group["param"])
    return heads, params, dense, multi


def _hangul(cp: int) -> str:
    index = cp - HANGUL_FIRST
    jamo = chr(0x1100 + index // 588) + chr(0x1161 + index % 588 // 28)
    return jamo + (chr(0x11A7 + index % 28) if index % 28 else "")


@functools.lru_cache(maxsize=1)
def unicode_tables() -> UnicodeTables:
    """Probes the reference normalizer and pre-tokenizer (about 4 s) and encodes the tables."""
    normalized = reference_normalized()
    classes, changed = _classify(normalized)
    for cp in range(HANGUL_FIRST, HANGUL_FIRST + HANGUL_COUNT):
        if classes[cp] != CLASS_WORD or changed.get(cp) != _hangul(cp):
            raise ToolchainError(f"Hangul syllable U+{cp:04X} does not decompose as Unicode's algorithm says")
    block_starts, runs = _class_runs(classes)
    heads, params, dense, multi = _encode_groups(_mapping_groups(changed))
    return UnicodeTables(
        class_block_starts=block_starts, classes=runs, map_heads=heads, map_params=params,
        dense=dense, multi=multi, non_starters=_non_starters(normalized),
    )


VOCAB_ESCAPE = _C["TC_VOCAB_ESCAPE"]  # a header nibble this large: the number follows in 2 bytes
MAX_PIECE_BYTES = 0xFFFF  # what 2 bytes hold
# 16 pieces per block: the default 7,600-piece vocabulary takes 25,129 B (51,271 B stored whole) and
# tokenizes in 0.7% fewer Cortex-M4 instructions than before; 32 would save 1.1 KB more for 7% more
# instructions, 8 cost 2.2 KB more for 3% fewer (benchmarks/vocabulary.py).
DEFAULT_BLOCK_SHIFT = 4
MAX_BLOCK_SHIFT = 15


def _shared_prefix(first: bytes, second: bytes) -> int:
    count = 0
    for a, b in zip(first, second):
        if a != b:
            break
        count += 1
    return count


def _entry(previous: bytes | None, piece: bytes) -> tuple[bytes, bytes]:
    """A piece's entry as (header, suffix): the header byte (shared << 4 | suffix length, each
    escaped to 2 more bytes when it does not fit a nibble), and the bytes the piece does not share
    with the previous piece of its block."""
    shared = 0 if previous is None else _shared_prefix(previous, piece)
    suffix = piece[shared:]
    header = bytearray([min(shared, VOCAB_ESCAPE) << 4 | min(len(suffix), VOCAB_ESCAPE)])
    for value in (shared, len(suffix)):
        if value >= VOCAB_ESCAPE:
            header += value.to_bytes(2, "little")
    return bytes(header), suffix


@dataclass
class VocabTables:
    """The arrays of tc_vocab (textclf_tokenizer.h), ready to render."""
    pieces: list[bytes]  # in table order, continuation pieces without "##"
    entries: list[tuple[bytes, bytes]]  # each piece's front-coded entry (header, suffix), in table order
    block_starts: list[int]  # byte offset of each block's first entry: word-initial blocks, then continuation
    initial_count: int
    continuation_count: int
    block_shift: int

    @property
    def entry_bytes(self) -> bytes:
        return b"".join(header + suffix for header, suffix in self.entries)

    @property
    def starts_low(self) -> list[int]:
        return [start & 0xFFFF for start in self.block_starts]

    @property
    def start_wraps(self) -> list[int]:
        """start_wraps[k]: the first block index whose start is >= (k + 1) * 65536."""
        wraps = []
        for index, start in enumerate(self.block_starts):
            while start >> 16 > len(wraps):
                wraps.append(index)
        return wraps

    def size_bytes(self) -> int:
        return len(self.entry_bytes) + 2 * len(self.block_starts) + 4 * len(self.start_wraps)


def vocab_tables(vocab: list[str], block_shift: int = DEFAULT_BLOCK_SHIFT) -> VocabTables:
    """The front-coded piece tables; raises unless `vocab` has the layout of `order_vocab`."""
    if list(vocab[: len(SPECIAL_TOKENS)]) != list(SPECIAL_TOKENS):
        raise ToolchainError(f"vocabulary must start with {', '.join(SPECIAL_TOKENS)}")
    if not 0 <= block_shift <= MAX_BLOCK_SHIFT:
        raise ToolchainError(f"vocabulary block shift must be 0..{MAX_BLOCK_SHIFT}, not {block_shift}")
    pieces = vocab[len(SPECIAL_TOKENS):]
    initial_count = next((i for i, p in enumerate(pieces) if p.startswith(CONTINUATION)), len(pieces))
    initial = [p.encode("utf-8") for p in pieces[:initial_count]]
    continuation = [p.encode("utf-8") for p in pieces[initial_count:]]
    for index, piece in enumerate(pieces[initial_count:], initial_count + len(SPECIAL_TOKENS)):
        if not piece.startswith(CONTINUATION):
            raise ToolchainError(f"vocabulary id {index} ({piece!r}) is a word-initial piece after the ## pieces")
    continuation = [p[len(CONTINUATION):] for p in continuation]
    for table in (initial, continuation):
        for first, second in zip(table, table[1:]):
            if not first < second:
                raise ToolchainError(
                    f"vocabulary pieces are not in strictly increasing UTF-8 order: {first!r}, {second!r}")
        for piece in table:
            if len(piece) > MAX_PIECE_BYTES:
                raise ToolchainError(f"vocabulary piece {piece[:20]!r}... is longer than {MAX_PIECE_BYTES} bytes")
    entries, block_starts, offset = [], [], 0
    for table in (initial, continuation):
        for position, piece in enumerate(table):
            if position % (1 << block_shift) == 0:
                block_starts.append(offset)
                previous = None
            header, suffix = _entry(previous, piece)
            entries.append((header, suffix))
            offset += len(header) + len(suffix)
            previous = piece
    return VocabTables(initial + continuation, entries, block_starts, len(initial), len(continuation), block_shift)


def vocab_source(vocab: list[str], prefix: str, source: str, block_shift: int = DEFAULT_BLOCK_SHIFT) -> str:
    """The model library's `<prefix>_vocab.c`: the vocabulary tables for the C tokenizer."""
    tables = vocab_tables(vocab, block_shift)
    first_id = len(SPECIAL_TOKENS)
    block_size = 1 << block_shift
    initial_blocks = -(-tables.initial_count // block_size)
    rows = []
    for index, (header, suffix) in enumerate(tables.entries):
        position = index if index < tables.initial_count else index - tables.initial_count
        block = position // block_size + (0 if index < tables.initial_count else initial_blocks)
        rows.append({"header": header, "suffix": suffix, "id": first_id + index,
                     "token": vocab[first_id + index],
                     "block": block if position % block_size == 0 else None})
    special = {"pad": PAD_ID, "unk": UNK_ID, "cls": CLS_ID, "sep": SEP_ID}
    return render("vocab.c.j2", source, prefix=prefix, vocab=tables, rows=rows, special=special,
                  first_piece=first_id, escape=VOCAB_ESCAPE, size_bytes=tables.size_bytes())


def unicode_source() -> str:
    """The runtime's `textclf_unicode.c`: the Unicode tables, the same for every model."""
    unicode = unicode_tables()
    unicode_source_name = (f"tokenizers {tokenizers_version} (BertNormalizer, BertPreTokenizer), "
                           "probed over every code point")
    return render("unicode_tables.c.j2", unicode_source_name, tables=unicode, size_bytes=unicode.size_bytes())
