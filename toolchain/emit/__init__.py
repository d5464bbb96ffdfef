"""C sources for the device: a model library from a model directory, and the runtime library.

A model directory (`models/<name>/`, or one a user got from elsewhere) is untrusted input. Before
anything is generated, `read_model_dir` checks the .tflite and its side files against each other:
the vocabulary against tokenizer.json and against the model's embedding table, the tokenizer's
configuration against what the C tokenizer implements, the goldens against the tokenizer (ids)
and the model (shapes and ranges), the labels against the model's output. A damaged or mismatched
file is one ToolchainError naming it.

Generated text is rendered from the Jinja templates in toolchain/templates and is deterministic:
the same model directory and options give byte-identical files.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain import compression, flatbuffer, model_info
from toolchain import tokenizer as wordpiece
from toolchain.contract import ABI_VERSION, MAX_LABELS
from toolchain.emit import op_resolver, tokenizer_tables
from toolchain.emit.graph_compiler import CompiledGraph, compile_graph, float_literal
from toolchain.emit.ops.common import Options
from toolchain.emit.render import render
from toolchain.errors import ToolchainError
from toolchain.resources import runtime_dir

REQUIRED = ("student_int8.tflite", "vocab.txt", "tokenizer.json", "goldens.json", "metrics.json")
BACKENDS = ("compiled", "tflm")
# The host measurement over-estimates 32-bit targets; the margin covers TFLM version drift.
TFLM_ARENA_MARGIN_PERCENT = 10
MAX_ARENA_BYTES = 256 * 1024 * 1024
MAX_SIDE_FILE_BYTES = 64 * 1024 * 1024
MAX_LABEL_CHARS = 64
PREFIX = re.compile(r"[a-z][a-z0-9_]{0,31}")
RESERVED_PREFIXES = ("tc_", "textclf")
UNICODE_FILE = "textclf_unicode.c"


@dataclass(frozen=True)
class Golden:
    text: str
    ids: tuple[int, ...]
    logits: tuple[int, ...]
    label: int


@dataclass(frozen=True)
class ModelDir:
    """A model directory whose files have been read and checked against each other."""

    path: Path
    name: str
    tflite: flatbuffer.TfliteModel
    sha256: str
    vocab: list[str]
    sequence_length: int
    labels: list[str]
    goldens: list[Golden]
    arena_measured: int  # TFLM's minimum arena as `verify` measured it

    @property
    def tflm_arena(self) -> int:
        # The measured minimum plus the margin, rounded up to 16 bytes, in integers (no float rounding).
        return -(-self.arena_measured * (100 + TFLM_ARENA_MARGIN_PERCENT) // (100 * 16)) * 16


@dataclass(frozen=True)
class ModelLibrary:
    """The sources of one model library: {file name: text} for its src/ folder."""

    prefix: str
    backend: str
    files: dict[str, str]
    model: ModelDir
    graph: CompiledGraph | None  # the compiled backend's graph (None for tflm)
    registrations: list[op_resolver.Registration]


def check_prefix(prefix: str) -> str:
    """A model's symbol prefix: a lowercase C identifier start that cannot meet the runtime's."""
    if not PREFIX.fullmatch(prefix or ""):
        raise ToolchainError(
            f"prefix {prefix!r} must be a lowercase letter then up to 31 letters, digits or '_'"
        )
    if prefix.startswith(RESERVED_PREFIXES):
        raise ToolchainError(f"prefix {prefix!r} may not start with 'tc_' or 'textclf' (the runtime's own symbols)")
    return prefix


def default_prefix(name: str) -> str:
    """The model directory's name as a prefix: lowercased, other characters as '_'."""
    prefix = re.sub(r"[^a-z0-9_]", "_", name.lower())[:32] or "model"
    if not prefix[0].isalpha():
        prefix = ("m_" + prefix)[:32]
    if prefix.startswith(RESERVED_PREFIXES):
        prefix = ("m_" + prefix)[:32]
    return prefix


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ToolchainError(f"{path}: not a file")
    if path.stat().st_size > MAX_SIDE_FILE_BYTES:
        raise ToolchainError(f"{path}: larger than {MAX_SIDE_FILE_BYTES} bytes")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolchainError(f"{path}: not UTF-8 text (byte {exc.start} is invalid)") from None


def _read_json(path: Path) -> object:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ToolchainError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def _check_text(text: str, what: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolchainError(f"{what} holds a lone surrogate, which is not text") from None
    return text


def _labels(raw, source: Path) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise ToolchainError(f"{source}: 'labels' must be a non-empty list")
    labels = []
    for label in raw:
        if not isinstance(label, str) or not label.strip():
            raise ToolchainError(f"{source}: label {label!r} is not a non-empty string")
        _check_text(label, f"{source}: label {label!r}")
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in label) or len(label) > MAX_LABEL_CHARS:
            raise ToolchainError(
                f"{source}: label {label!r} has a control character or more than {MAX_LABEL_CHARS} characters"
            )
        labels.append(label)
    if len(set(labels)) != len(labels):
        raise ToolchainError(f"{source}: the labels are not distinct")
    if len(labels) < 2 or len(labels) > MAX_LABELS:
        raise ToolchainError(f"{source}: {len(labels)} labels; a model has 2 to {MAX_LABELS}")
    return labels


def _tokenizer_config(path: Path) -> dict:
    """tokenizer.json, checked to be exactly the configuration the C tokenizer implements."""
    spec = _read_json(path)

    def bad(what: str) -> ToolchainError:
        return ToolchainError(f"{path}: {what}; the C tokenizer implements BERT-uncased WordPiece as "
                              "`textclf build` saves it")

    if not isinstance(spec, dict):
        raise bad("not a tokenizer")
    model = spec.get("model") or {}
    normalizer = spec.get("normalizer") or {}
    if not isinstance(model, dict) or model.get("type") != "WordPiece":
        raise bad(f"the model is {model.get('type') if isinstance(model, dict) else model!r}, not WordPiece")
    expected_model = {"unk_token": wordpiece.UNK, "continuing_subword_prefix": wordpiece.CONTINUATION,
                      "max_input_chars_per_word": wordpiece.MAX_WORD_CHARS}
    for key, value in expected_model.items():
        if model.get(key) != value:
            raise bad(f"model.{key} is {model.get(key)!r}, not {value!r}")
    if not isinstance(normalizer, dict) or normalizer.get("type") != "BertNormalizer" or not (
        normalizer.get("clean_text") is True and normalizer.get("handle_chinese_chars") is True
        and normalizer.get("strip_accents") is None and normalizer.get("lowercase") is True
    ):
        raise bad("the normalizer is not BertNormalizer(clean_text, handle_chinese_chars, lowercase)")
    pre_tokenizer = spec.get("pre_tokenizer")
    if not isinstance(pre_tokenizer, dict) or pre_tokenizer.get("type") != "BertPreTokenizer":
        raise bad("the pre-tokenizer is not BertPreTokenizer")
    if spec.get("added_tokens") not in ([], None):
        raise bad("it adds tokens to the vocabulary (added_tokens), which the C tokenizer does not")
    if not _cls_sep_template(spec.get("post_processor")):
        raise bad(f"the post-processor does not wrap every text as {wordpiece.CLS} text {wordpiece.SEP}")
    truncation, padding = spec.get("truncation"), spec.get("padding")
    if not isinstance(truncation, dict) or not isinstance(padding, dict):
        raise bad("truncation and padding must both be set")
    length = truncation.get("max_length")
    if not isinstance(length, int) or isinstance(length, bool) or not 4 <= length <= 4096:
        raise bad(f"truncation.max_length {length!r} is not a sequence length (4 to 4096)")
    strategy = padding.get("strategy")
    if strategy != {"Fixed": length} or padding.get("pad_id") != wordpiece.PAD_ID:
        raise bad(f"padding must be fixed at {length} with pad id {wordpiece.PAD_ID}")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict):
        raise bad("the model has no vocabulary")
    return {"sequence_length": length, "vocab": vocab}


def _cls_sep_template(processor) -> bool:
    """Whether a tokenizer.json post-processor is the TemplateProcessing `textclf build` saves:
    [CLS] $A [SEP], with [CLS] and [SEP] at their fixed ids."""
    if not isinstance(processor, dict) or processor.get("type") != "TemplateProcessing":
        return False
    single = [{"SpecialToken": {"id": wordpiece.CLS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
              {"SpecialToken": {"id": wordpiece.SEP, "type_id": 0}}]
    specials = processor.get("special_tokens")
    return processor.get("single") == single and isinstance(specials, dict) and all(
        isinstance(specials.get(token), dict) and specials[token].get("ids") == [index]
        and specials[token].get("tokens") == [token]
        for token, index in ((wordpiece.CLS, wordpiece.CLS_ID), (wordpiece.SEP, wordpiece.SEP_ID))
    )


def _load_tokenizer(path: Path):
    """The HF tokenizer of a model directory; what the `tokenizers` library cannot load (its
    errors are plain Exceptions from Rust) is one ToolchainError."""
    try:
        return wordpiece.load(path)
    except ToolchainError:
        raise
    except Exception as exc:  # the tokenizers library raises bare Exceptions
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ToolchainError(f"{path / 'tokenizer.json'}: the tokenizers library cannot load it ({message})") from None


def read_model_dir(path: Path) -> ModelDir:
    """Reads and cross-checks a model directory (cheap: no compilation, no TFLM)."""
    path = Path(path)
    if not path.is_dir():
        raise ToolchainError(f"model directory not found: {path}")
    for required in REQUIRED:
        if not (path / required).is_file():
            raise ToolchainError(f"{path}: missing {required} (run `textclf build` first)")
    tflite = flatbuffer.read_model(path / "student_int8.tflite")
    model_info.check_structure(tflite)  # inputs, outputs, an order TFLM can run: for either backend
    model_info.check_tflm_types(tflite)

    vocab = _read_text(path / "vocab.txt").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    if any("\r" in piece for piece in vocab):
        raise ToolchainError(f"{path / 'vocab.txt'}: has CR line ends")
    config = _tokenizer_config(path / "tokenizer.json")
    if config["vocab"] != {piece: index for index, piece in enumerate(vocab)} or len(set(vocab)) != len(vocab):
        raise ToolchainError(f"{path}: vocab.txt and tokenizer.json hold different vocabularies")
    tokenizer_tables.vocab_tables(vocab)  # the sorted layout the C tokenizer searches
    tokenizer = _load_tokenizer(path)

    goldens_raw = _read_json(path / "goldens.json")
    metrics = _read_json(path / "metrics.json")
    if not isinstance(goldens_raw, dict) or not isinstance(goldens_raw.get("vectors"), list):
        raise ToolchainError(f"{path / 'goldens.json'}: must be an object with 'labels' and 'vectors'")
    labels = _labels(goldens_raw.get("labels"), path / "goldens.json")
    verify = metrics.get("verify") if isinstance(metrics, dict) else None
    arena = verify.get("arena_bytes") if isinstance(verify, dict) else None
    if not isinstance(arena, int) or isinstance(arena, bool) or not 0 < arena <= MAX_ARENA_BYTES:
        raise ToolchainError(f"{path / 'metrics.json'}: verify.arena_bytes {arena!r} is not a positive arena size")

    sequence_length = config["sequence_length"]
    _io_quantization(tflite, sequence_length, len(labels), path)
    tables = _embedding_rows(tflite)
    if not tables:
        raise ToolchainError(f"{path}: the model does not look the token ids up in an embedding table (GATHER)")
    if any(rows != len(vocab) for rows in tables):
        raise ToolchainError(
            f"{path}: the model's embedding table has {tables[0]} rows but the vocabulary {len(vocab)} pieces"
        )
    goldens = _goldens(goldens_raw["vectors"], path / "goldens.json", len(vocab), sequence_length, len(labels))
    if not goldens:
        # The export's self-check replays them; a C array of none is not C either.
        raise ToolchainError(f"{path / 'goldens.json'}: no golden vectors (build with --golden-count 1 or more)")
    ids = wordpiece.encode(tokenizer, [g.text for g in goldens]) if goldens else np.zeros((0,))
    for golden, row in zip(goldens, ids):
        if tuple(int(i) for i in row) != golden.ids:
            raise ToolchainError(
                f"{path / 'goldens.json'}: the ids of {golden.text[:40]!r} are not what tokenizer.json gives"
            )
    return ModelDir(
        path=path,
        name=path.resolve().name,
        tflite=tflite,
        sha256=hashlib.sha256(tflite.data).hexdigest(),
        vocab=vocab,
        sequence_length=sequence_length,
        labels=labels,
        goldens=goldens,
        arena_measured=arena,
    )


RENAMING_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")


def _embedding_rows(model: flatbuffer.TfliteModel) -> list[int]:
    """The row count of every embedding table the token ids index: a constant table of a GATHER
    (along its axis) or EMBEDDING_LOOKUP whose indices are the graph's input, directly or renamed
    (RESHAPE, EXPAND_DIMS, SQUEEZE). The C tokenizer's ids run over the whole vocabulary, so each
    table must have exactly one row per piece; a LUT-compressed table counts as the constant it
    decodes to."""
    subgraph = model.subgraph
    tensors = subgraph.tensors or []
    ids = set(flatbuffer.ints(subgraph.inputs))
    decoded = {lut.decoded_tensor for lut in compression.read(model)}  # LUT-compressed constants
    rows = []
    for op in subgraph.operators or []:
        name = flatbuffer.op_name(model.model, op)
        inputs, outputs = flatbuffer.ints(op.inputs), flatbuffer.ints(op.outputs)
        if name in RENAMING_OPS and inputs and inputs[0] in ids:
            ids.update(outputs)
            continue
        if name == "GATHER" and len(inputs) >= 2 and inputs[1] in ids:
            table, options = inputs[0], op.builtinOptions
            axis = int(options.axis) if isinstance(options, flatbuffer.schema.GatherOptionsT) else 0
        elif name == "EMBEDDING_LOOKUP" and len(inputs) >= 2 and inputs[0] in ids:
            table, axis = inputs[1], 0
        else:
            continue
        if table == -1 or (model.buffer_data(tensors[table]) is None and table not in decoded):
            continue
        shape = flatbuffer.ints(tensors[table].shape)
        if -len(shape) <= axis < len(shape):
            rows.append(shape[axis])
    return rows


def _int_list(value, length: int, low: int, high: int) -> tuple[int, ...] | None:
    if not isinstance(value, list) or len(value) != length:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in value):
        return None
    return tuple(value)


def _goldens(vectors: list, source: Path, vocab_size: int, length: int, num_labels: int) -> list[Golden]:
    goldens = []
    for number, vector in enumerate(vectors):
        where = f"{source}: vector {number}"
        if not isinstance(vector, dict) or not isinstance(vector.get("text"), str):
            raise ToolchainError(f"{where}: needs a string 'text'")
        text = _check_text(vector["text"], where)
        ids = _int_list(vector.get("ids"), length, 0, vocab_size - 1)
        logits = _int_list(vector.get("logits"), num_labels, -128, 127)
        label = vector.get("label")
        if ids is None:
            raise ToolchainError(f"{where}: 'ids' must be {length} ids in 0..{vocab_size - 1}")
        if logits is None:
            raise ToolchainError(f"{where}: 'logits' must be {num_labels} int8 values")
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < num_labels:
            raise ToolchainError(f"{where}: 'label' must be a label index")
        goldens.append(Golden(text, ids, logits, label))
    return goldens


def model_library(model: ModelDir, prefix: str, backend: str = "compiled",
                  options: Options = Options()) -> ModelLibrary:
    """The model library's sources for one backend, with every symbol prefixed by `prefix`."""
    check_prefix(prefix)
    if backend not in BACKENDS:
        raise ToolchainError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    source = f"{model.name}/student_int8.tflite"
    output_scale, output_zero_point = _check_io(model)
    graph = compile_graph(model.tflite, options) if backend == "compiled" else None
    registrations = op_resolver.registrations(model.tflite)
    context = {
        "prefix": prefix,
        "name": model.name,
        "backend": backend,
        "backend_name": "compiled graph" if backend == "compiled" else "TensorFlow Lite Micro",
        "labels": model.labels,
        "sequence_length": model.sequence_length,
        "vocab_size": len(model.vocab),
        "golden_count": len(model.goldens),
        "model_sha256": model.sha256,
        "abi_version": ABI_VERSION,
        "output_scale": output_scale,
        "output_zero_point": output_zero_point,
        "arena_measured": model.arena_measured,
        "arena_margin_percent": TFLM_ARENA_MARGIN_PERCENT,
        "arena_bytes": model.tflm_arena,
        "registrations": registrations,
        "float_literal": float_literal,
    }
    vectors = [{"text": g.text, "text_length": len(g.text.encode("utf-8")), "ids": list(g.ids),
                "logits": list(g.logits), "label": g.label} for g in model.goldens]
    files = {
        f"{prefix}.h": render("model.h.j2", source, **context),
        f"{prefix}_vocab.c": tokenizer_tables.vocab_source(model.vocab, prefix, f"{model.name}/vocab.txt"),
    }
    if vectors:
        files[f"{prefix}_goldens.c"] = render("goldens.c.j2", f"{model.name}/goldens.json", prefix=prefix,
                                              vectors=vectors)
    if backend == "compiled":
        files.update(graph.render(prefix, source))
        files[f"{prefix}_model.c"] = render("model.c.j2", source, **context)
    else:
        headers = sorted({r.header for r in registrations if r.header})
        files[f"{prefix}_model.cpp"] = render("model_tflm.cpp.j2", source, size=len(model.tflite.data),
                                              data=model.tflite.data, kernel_headers=headers, **context)
    return ModelLibrary(prefix, backend, dict(sorted(files.items())), model, graph, registrations)


def _check_io(model: ModelDir) -> tuple[float, int]:
    """The model maps sequence_length int32 ids to one int8 logit per label; returns the logits'
    scale and zero point."""
    return _io_quantization(model.tflite, model.sequence_length, len(model.labels), model.path)


def _io_quantization(tflite: flatbuffer.TfliteModel, sequence_length: int, labels: int, path: Path):
    subgraph = tflite.subgraph
    inputs = flatbuffer.ints(subgraph.inputs)
    outputs = flatbuffer.ints(subgraph.outputs)
    message = f"{path}: the model must map {sequence_length} int32 token ids to {labels} quantized int8 logits"
    if len(inputs) != 1 or len(outputs) != 1:
        raise ToolchainError(message)
    ids, logits = subgraph.tensors[inputs[0]], subgraph.tensors[outputs[0]]
    quant = flatbuffer.quantization(logits)
    count = (lambda t: int(np.prod(t.shape)) if t.shape is not None and len(t.shape) else 1)
    if (ids.type != flatbuffer.schema.TensorType.INT32 or count(ids) != sequence_length
            or logits.type != flatbuffer.schema.TensorType.INT8 or count(logits) != labels
            or quant is None or quant.per_channel or not np.isfinite(quant.scales[0]) or quant.scales[0] <= 0
            or not -128 <= quant.zero_points[0] <= 127):
        raise ToolchainError(message)
    float_literal(quant.scales[0])
    return quant.scales[0], quant.zero_points[0]


def runtime_library() -> dict[str, bytes]:
    """The runtime library's src/ folder: the package's C runtime and the generated Unicode tables."""
    root = runtime_dir()
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and p.suffix in (".c", ".h")}
    files[UNICODE_FILE] = tokenizer_tables.unicode_source().encode("utf-8")
    return dict(sorted(files.items()))
