"""Stage 7, `toolchain emit`: C sources for the firmware from a model directory (`models/<name>/`).

Everything is rendered from Jinja templates in `templates/` and is deterministic (same model
directory -> byte-identical files). Two generated folders, each replaced as a whole:
  firmware/lib/textclf_model/src/      compiled graph + weights, vocabulary and Unicode tables,
                                       model facts, golden vectors (native, QEMU and any board)
  firmware/lib/textclf_tflm/src/generated/
                                       the .tflite as an aligned C array and the op resolver
                                       (boards that run TFLite Micro itself)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from toolchain import flatbuffer
from toolchain import tokenizer as wordpiece
from toolchain.atomic import atomic_dir
from toolchain.config import PROJECT_DIR
from toolchain.emit import graph_compiler, op_resolver, tokenizer_tables
from toolchain.emit.render import render
from toolchain.errors import ToolchainError

FIRMWARE_LIB = PROJECT_DIR / "firmware" / "lib"
MODEL_SRC = Path("textclf_model") / "src"
TFLM_GENERATED = Path("textclf_tflm") / "src" / "generated"
# The host measurement over-estimates 32-bit targets; the margin covers TFLM version drift.
TFLM_ARENA_MARGIN_PERCENT = 10
REQUIRED = ("student_int8.tflite", "vocab.txt", "tokenizer.json", "goldens.json", "metrics.json")


@dataclass
class Emission:
    files: dict[Path, str]  # relative to firmware/lib
    graph: graph_compiler.CompiledGraph
    resolver: op_resolver.Resolver


def _source_name(model_dir: Path, file: str) -> str:
    try:
        return str((model_dir / file).resolve().relative_to(PROJECT_DIR))
    except ValueError:
        return f"{model_dir.name}/{file}"


def generate(model_dir: Path) -> Emission:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ToolchainError(f"model directory not found: {model_dir}")
    for required in REQUIRED:
        if not (model_dir / required).is_file():
            raise ToolchainError(f"{model_dir}: missing {required} (run `toolchain build` first)")
    tflite_path = model_dir / "student_int8.tflite"
    tflite_source = _source_name(model_dir, "student_int8.tflite")
    model = flatbuffer.read_model(tflite_path)
    vocab = wordpiece.read_vocab_file(model_dir / "vocab.txt")
    facts = wordpiece.tokenizer_facts(wordpiece.load(model_dir))
    goldens = json.loads((model_dir / "goldens.json").read_text(encoding="utf-8"))
    metrics = json.loads((model_dir / "metrics.json").read_text())

    graph = graph_compiler.compile_graph(tflite_path, tflite_source)
    resolver = op_resolver.model_resolver(model)
    if (len(graph.inputs) != 1 or graph.inputs[0].length != facts["sequence_length"]
            or len(graph.outputs) != 1 or graph.outputs[0].length != len(goldens["labels"])):
        raise ToolchainError(f"{model_dir}: model input/output shapes do not match its tokenizer and labels")

    measured = int(metrics["verify"]["arena_bytes"])
    arena = math.ceil(measured * (100 + TFLM_ARENA_MARGIN_PERCENT) / 100 / 16) * 16
    config_context = {
        "name": model_dir.name,
        "labels": goldens["labels"],
        "sequence_length": facts["sequence_length"],
        "vocab_size": len(vocab),
        "special": {"pad": wordpiece.PAD_ID, "unk": wordpiece.UNK_ID, "cls": wordpiece.CLS_ID,
                    "sep": wordpiece.SEP_ID},
        "arena_measured": measured,
        "arena_margin_percent": TFLM_ARENA_MARGIN_PERCENT,
        "arena_bytes": arena,
    }
    metrics_source = _source_name(model_dir, "metrics.json")
    vectors = [
        {**v, "text_length": len(v["text"].encode("utf-8"))} for v in goldens["vectors"]
    ]
    model_files = {
        **tokenizer_tables.generate(vocab, _source_name(model_dir, "vocab.txt")),
        **graph.files,
        "tc_model_config.h": render("tc_model_config.h.j2", metrics_source, **config_context),
        "tc_model_config.c": render("tc_model_config.c.j2", metrics_source, **config_context),
        "tc_goldens.h": render("tc_goldens.h.j2", _source_name(model_dir, "goldens.json"), vectors=vectors),
        "tc_goldens.c": render("tc_goldens.c.j2", _source_name(model_dir, "goldens.json"), vectors=vectors),
    }
    tflm_files = {
        **op_resolver.generate(model, tflite_source),
        "tc_model_tflite.h": render("tc_model_tflite.h.j2", tflite_source, size=len(model.data)),
        "tc_model_tflite.cc": render("tc_model_tflite.cc.j2", tflite_source, size=len(model.data),
                                     data=model.data),
    }
    files = {MODEL_SRC / name: text for name, text in model_files.items()}
    files.update({TFLM_GENERATED / name: text for name, text in tflm_files.items()})
    return Emission(files=files, graph=graph, resolver=resolver)


def write(emission: Emission, lib_dir: Path = FIRMWARE_LIB) -> list[Path]:
    """Replaces each generated folder as a whole (atomically), so stale files cannot linger."""
    written = []
    for folder in sorted({path.parent for path in emission.files}):
        with atomic_dir(lib_dir / folder) as tmp:
            for path, text in sorted(emission.files.items()):
                if path.parent == folder:
                    (tmp / path.name).write_text(text, encoding="utf-8")
                    written.append(lib_dir / path)
    return written


def differences(emission: Emission, lib_dir: Path = FIRMWARE_LIB) -> list[str]:
    """Generated files that are missing, different, or extra on disk (empty when up to date)."""
    problems = []
    for path, text in sorted(emission.files.items()):
        on_disk = lib_dir / path
        if not on_disk.is_file():
            problems.append(f"missing {on_disk}")
        elif on_disk.read_text(encoding="utf-8") != text:
            problems.append(f"differs {on_disk}")
    for folder in {path.parent for path in emission.files}:
        expected = {path.name for path in emission.files if path.parent == folder}
        if (lib_dir / folder).is_dir():
            problems += [f"extra {p}" for p in sorted((lib_dir / folder).iterdir()) if p.name not in expected]
    return problems
