"""LUT-compressed embedding on the default model: flash, RAM, accuracy and time.

    .venv/bin/python benchmarks/compression.py [--bits 2 3 4] [--core cortex-m4] [--test-split FILE]

For each index width b, the embedding table alone is clustered to 2^b values per value table (one
table for the whole tensor, or one per column where the model ships its embedding that way; the
zero point, which the [PAD] row holds, kept as a level) and compressed with
TFLite Micro's compressor (toolchain.compression.compress_model); the graph compiler compiles the
result, reading the table in place. Printed for the uncompressed model and each b:
- the .tflite size, the compiled backend's weight bytes (constants as emitted) and arena bytes;
- TFLite Micro's accuracy on the test split (--test-split, by default the one `make build` leaves
  in build/default/data; without one only the goldens' sentences are used), run on the compressed
  model itself, and how often its label equals the uncompressed model's;
- instructions per golden sentence (tokenizer included) on a microcontroller core in QEMU: the
  model library and the runtime built through cbuild with benchmarks/compression_bench.c, which
  also checks every golden sentence's logits against TFLM's on the compressed model.
Figures go to benchmarks/results/compression.json as well.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_results  # noqa: E402
from toolchain import cbuild, compression, emit, flatbuffer, model_info, tflm  # noqa: E402
from toolchain import tokenizer as wordpiece  # noqa: E402
from toolchain.emit.graph_compiler import compile_graph  # noqa: E402
from toolchain.resources import device_dir  # noqa: E402

MODEL = ROOT / "models" / "default"
TEST_SPLIT = ROOT / "build" / "default" / "data" / "test.jsonl"  # written by `make build`
SIDE_FILES = ("vocab.txt", "tokenizer.json", "metrics.json", "tokenizer_config.json", "special_tokens_map.json")
PREFIX = "classifier"


def embedding_table(model: flatbuffer.TfliteModel) -> int:
    gathers = [op for op in model.subgraph.operators if flatbuffer.op_name(model.model, op) == "GATHER"]
    if len(gathers) != 1:
        raise SystemExit(f"expected one GATHER (the embedding), found {len(gathers)}")
    return int(gathers[0].inputs[0])


def test_split(path: Path, goldens: dict) -> tuple[str, list[str], np.ndarray | None]:
    if path.is_file():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        return str(path), [r["text"] for r in rows], np.array([r["label"] for r in rows])
    return "goldens.json", [g["text"] for g in goldens["vectors"]], None


def tflm_logits(model_bytes: bytes, ids: np.ndarray) -> np.ndarray:
    model = flatbuffer.parse_model(model_bytes)
    arena = tflm.measure_arena(model_bytes, model_info.input_specs(model))
    interpreter = tflm.TflmInterpreter(model_bytes, arena)
    return np.stack([interpreter.run([row[np.newaxis, :].astype(np.int32)])[0].reshape(-1) for row in ids]), arena


def model_dir(source: Path, model_bytes: bytes, goldens: dict, logits: np.ndarray, work: Path) -> Path:
    """A model directory for the compressed model: the default one's side files, the goldens'
    logits and labels replaced by TFLM's on the compressed model."""
    work.mkdir(parents=True)
    for name in SIDE_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, work / name)
    (work / "student_int8.tflite").write_bytes(model_bytes)
    vectors = [dict(v, logits=[int(x) for x in row], label=int(np.argmax(row)))
               for v, row in zip(goldens["vectors"], logits)]
    (work / "goldens.json").write_text(json.dumps(dict(goldens, vectors=vectors), ensure_ascii=False))
    return work


def instructions(model_path: Path, core_name: str, work: Path) -> list[int]:
    """Instructions of each golden classification on the core; every golden must match."""
    core = cbuild.core(core_name)
    library = emit.model_library(emit.read_model_dir(model_path), PREFIX)
    runtime = cbuild.write_sources(work / "textclf", emit.runtime_library())
    model_src = cbuild.write_sources(work / PREFIX, library.files)
    app = device_dir() / "app"
    build = cbuild.Build(core, include_dirs=[runtime, model_src, app],
                         defines=[f'BENCH_HEADER="{PREFIX}.h"', f"BENCH_PREFIX={PREFIX}"])
    sources = cbuild.c_sources(runtime, model_src) + [app / "counter.c", ROOT / "benchmarks" / "compression_bench.c"]
    program = build.program(sources, work / "bench.elf")
    lines = cbuild.run(program, core, timeout=900).stdout.decode().split("\n")
    rows = [line.split() for line in lines if line.strip()]
    if any(status != "ok" for status, _ in rows):
        raise SystemExit(f"{model_path.name}: the compiled graph's logits differ from TFLM's on {core_name}")
    return [int(count) for _, count in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--core", default="cortex-m4")
    parser.add_argument("--test-split", type=Path, default=TEST_SPLIT)
    parser.add_argument("--model", type=Path, default=MODEL, help="model directory (default: models/default)")
    args = parser.parse_args()
    plain_bytes = (args.model / "student_int8.tflite").read_bytes()
    shipped = compression.read(flatbuffer.parse_model(plain_bytes))
    shipped_compressed = bool(shipped)
    # Value tables as the model ships them (one per embedding column for a per-channel model);
    # one table for the whole tensor for a model shipped plain.
    axis = shipped[0].channel_axis if shipped else None
    if shipped_compressed:
        # A model trained and shipped compressed: the study starts from the plain INT8 model it stands for.
        plain_bytes = compression.decompress_model(plain_bytes)
    plain = flatbuffer.parse_model(plain_bytes)
    table = embedding_table(plain)
    goldens = json.loads((args.model / "goldens.json").read_text())
    source, texts, truth = test_split(args.test_split, goldens)
    tokenizer = wordpiece.load(args.model)
    ids = wordpiece.encode(tokenizer, texts)
    golden_ids = np.array([g["ids"] for g in goldens["vectors"]])

    variants = [("uncompressed", None, plain_bytes)]
    variants += [(f"b={b}", b, compression.compress_model(plain_bytes, [compression.TensorSpec(table, b, axis)]))
                 for b in args.bits]
    rows = []
    baseline_labels = None
    with tempfile.TemporaryDirectory(prefix="textclf-compression-") as tmp:
        for name, bits, model_bytes in variants:
            graph = compile_graph(flatbuffer.parse_model(model_bytes))
            logits, arena = tflm_logits(model_bytes, ids)
            labels = logits.argmax(1)
            if baseline_labels is None:
                baseline_labels = labels
            golden_logits, _ = tflm_logits(model_bytes, golden_ids)
            path = model_dir(args.model, model_bytes, goldens, golden_logits, Path(tmp) / name)
            counts = instructions(path, args.core, Path(tmp) / f"{name}-build")
            lut = compression.read(flatbuffer.parse_model(model_bytes))
            rows.append({
                "variant": name,
                "bits": bits,
                "tflite_bytes": len(model_bytes),
                "embedding_bytes": lut[0].flash_bytes if lut else int(plain.constant(table).nbytes),
                "weight_bytes": graph.weight_bytes,
                "arena_bytes": graph.arena_bytes,
                "tflm_arena_bytes": int(arena),
                "accuracy_tflm": float((labels == truth).mean()) if truth is not None else None,
                "labels_equal_uncompressed": float((labels == baseline_labels).mean()),
                "instructions_mean": float(np.mean(counts)),
                "instructions_max": int(np.max(counts)),
            })
    base = rows[0]
    form = " (its plain INT8 form)" if shipped_compressed else ""
    tables = "one value table" if axis is None else f"one value table per slice along axis {axis}"
    print(f"{args.model.name} model{form}, embedding {plain.constant(table).shape} compressed alone, {tables}, zero "
          f"point kept; texts: {source} ({len(texts)}); instructions on {args.core} over "
          f"{len(golden_ids)} golden sentences (tokenizer included)")
    header = (f"{'':<13}{'.tflite B':>10}{'embedding B':>13}{'weights B':>11}{'arena B':>9}{'TFLM arena':>12}"
              f"{'TFLM acc':>10}{'= labels':>10}{'instr mean':>12}{'vs plain':>10}{'instr max':>11}")
    print(header)
    for row in rows:
        accuracy = f"{row['accuracy_tflm']:.2%}" if row["accuracy_tflm"] is not None else "-"
        print(f"{row['variant']:<13}{row['tflite_bytes']:>10,}{row['embedding_bytes']:>13,}{row['weight_bytes']:>11,}"
              f"{row['arena_bytes']:>9,}{row['tflm_arena_bytes']:>12,}{accuracy:>10}"
              f"{row['labels_equal_uncompressed']:>10.2%}{row['instructions_mean']:>12,.0f}"
              f"{row['instructions_mean'] - base['instructions_mean']:>+10,.0f}{row['instructions_max']:>11,}")
    write_results("compression", {"model": args.model.resolve().name, "clustered_in_training": shipped_compressed,
                                  "table_axis": axis,
                                  "core": args.core, "texts": source, "text_count": len(texts),
                                  "golden_count": len(golden_ids), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
