"""Damaged models and model directories, made reproducibly from a seed, and the campaign that runs
them through the toolchain. Library code of tests/test_mutation.py (>= 1,000 mutants in `make
test`) and benchmarks/mutation.py (longer runs).

Seeds (`load_seeds`): the default model directory (models/default), three small classifier model
directories (the student architectures of tests/op_models.py with a 300-piece vocabulary, their
goldens and arena from TFLite Micro) and ten op models of tests/op_models.py (every operator the
compiled backend lowers). Built once with TensorFlow in a child process and cached under
build/.cache/mutation-seeds (keyed by the builders' source).

A mutant (`make_mutant(seeds, campaign, index)`) is one seed with one damage, chosen by a random
generator seeded with (campaign, index), so any mutant can be made again from its two numbers:
- bytes: bit flips, bytes and 32-bit words set to edge values (vector lengths, offsets),
  truncations, zeroed regions, splices, insertions and deletions; mostly outside the weight data;
- structure (the schema's object API, unpacked and packed again): shapes, types, buffers,
  quantization, operator inputs/outputs, opcodes, options (missing, another operator's, fields at
  edge values), operator order, graph inputs/outputs, names holding C syntax, constants, extra
  subgraphs;
- side files (model directories): vocab.txt, tokenizer.json, goldens.json, metrics.json damaged,
  truncated, or edited to disagree with each other or with the model.

The campaign (`Campaign.run`) hands mutants to worker processes, each running for a mutant:
1. `textclf inspect --no-arena` in-process through toolchain.cli.main (a sample with the TFLM
   arena search);
2. generation: `textclf export --no-verify --prefix model` for model directories (into a folder
   named `m*`, whose name reaches every generated header); for op models what export runs on a
   .tflite without the side files: read_model_dir's checks of the model, the graph compiler and
   its renderer;
3. TFLite Micro (the oracle) on the mutant in a child process (it can crash on bad models);
4. for every accepted generation: each generated C file compiled with -Werror under ASan/UBSan
   (once per content: the runtime library once into build/.cache/mutation-c, the generated files
   per worker), the graph run on sample inputs and compared with TFLM byte for byte; for a model
   directory whose .tflite is the seed's (a side file was damaged), also the export's self-check
   program (the goldens replayed through the C tokenizer and model): if it fails, the default
   `textclf export` (self-check on) refuses the directory, which counts as refused.
A mutant fails if an exception escapes main() (a traceback), if an exit code is not 0 or 2, if a
refusal is not one `error:` line or leaves files behind, if a step outlives its timeout (a hang),
a worker dies, or if an accepted generation does not compile, trips a sanitizer, is refused by
TFLM, or differs from TFLM's outputs.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import hashlib
import io
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DEFAULT_MODEL_DIR = ROOT / "models" / "default"
SIDE_FILES = ("vocab.txt", "tokenizer.json", "goldens.json", "metrics.json")
MODEL_FILE = "student_int8.tflite"
# A model directory's name reaches every generated file's header comment: this one would end a
# C comment if it were pasted in unescaped.
MODEL_DIR_NAME = "m*"
PREFIX = "model"
CLASSIFIERS = ("pooling_classifier", "conv_classifier", "transformer_classifier")
OP_MODELS = ("gather_model", "fully_connected_model", "conv_model", "reduce_model", "elementwise_binary_model",
             "unary_model", "softmax_model", "matmul_transpose_model", "shape_ops_model", "renaming_model")
SEED_FORMAT = 1  # bump when the seed builders change what they write


# ------------------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seed:
    """A model the mutants start from: an op model (files None) or a model directory."""

    name: str
    model: bytes
    files: dict[str, bytes] | None = None
    weight: float = 1.0  # share of the campaign's mutants

    @property
    def is_model_dir(self) -> bool:
        return self.files is not None


def _seed_key() -> str:
    """The cache key of the built seeds: the builders' sources."""
    import inspect

    digest = hashlib.sha256(f"{SEED_FORMAT}".encode())
    digest.update((TESTS / "op_models.py").read_bytes())
    for builder in (build_seeds, _small_vocab):
        digest.update(inspect.getsource(builder).encode())
    digest.update(repr(GOLDEN_TEXTS).encode())
    return digest.hexdigest()[:16]


def seed_cache(cache_root: Path) -> Path:
    return cache_root / "mutation-seeds" / _seed_key()


def load_seeds(cache_root: Path) -> list[Seed]:
    """The seeds; builds the small models in a child process (TensorFlow) if they are not cached."""
    cache = seed_cache(cache_root)
    if not (cache / "done").exists():
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
        result = subprocess.run([sys.executable, "-c", f"import mutants; mutants.build_seeds({str(cache)!r})"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            raise RuntimeError(f"building the mutation seeds failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    seeds = [Seed("default", (DEFAULT_MODEL_DIR / MODEL_FILE).read_bytes(),
                  {name: (DEFAULT_MODEL_DIR / name).read_bytes() for name in SIDE_FILES}, weight=0.75)]
    for name in CLASSIFIERS:
        folder = cache / name
        seeds.append(Seed(name, (folder / MODEL_FILE).read_bytes(),
                          {f: (folder / f).read_bytes() for f in SIDE_FILES}, weight=1.1))
    for name in OP_MODELS:
        seeds.append(Seed(name, (cache / f"{name}.tflite").read_bytes(), None, weight=0.5))
    return seeds


# Sentences for the small classifiers' goldens: ASCII, accents, CJK, emoji, a long word.
GOLDEN_TEXTS = (
    "a good film , well made !",
    "the plot is bad and the acting is worse .",
    "Café crème and naïve résumé",
    "東京 tokyo 123",
    "what ? no ... never again !!!",
    "supercalifragilisticexpialidociouslyextraordinarilyprolonged word",
)


def _small_vocab(size: int) -> list[str]:
    """A WordPiece vocabulary in the C layout: the specials, single characters (word-initial and
    ## forms) and short words, `size` pieces."""
    from toolchain import tokenizer

    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-") + ["é", "è", "ï", "東", "京"]
    words = ("the good bad film movie plot act ing is and a well made worse never again no what "
             "on of to in it for with as was but be this that are not all like just so one more "
             "about too very can out up if has have make than some time only story see even "
             "much funny love way best life most characters its comedy little director great "
             "performance work end people long may really new first nothing should could also "
             "any script ever seems look every through while through enough how why where who "
             "well work year years").split()
    pieces = set(letters) | {"##" + c for c in letters}
    for word in words:
        if len(pieces) + len(tokenizer.SPECIAL_TOKENS) >= size:
            break
        pieces.add(word)
    suffixes = ("ly", "ed", "er", "est", "ness", "ful", "less", "ous", "ive", "al", "ic", "ment", "tion", "ity",
                "able", "ise", "ize", "ist", "ism", "en", "ing", "s", "es", "y", "ies", "ry", "ary")
    for suffix in suffixes:
        if len(pieces) + len(tokenizer.SPECIAL_TOKENS) >= size:
            break
        pieces.add("##" + suffix)
    counter = 0
    while len(pieces) + len(tokenizer.SPECIAL_TOKENS) < size:
        pieces.add(f"w{counter}")
        counter += 1
    return tokenizer.order_vocab(pieces)


def build_seeds(out: str) -> None:
    """Builds and caches the small seeds (run in a child: imports TensorFlow)."""
    import op_models

    from toolchain import flatbuffer as fb
    from toolchain import frameworks, model_info, tflm
    from toolchain import tokenizer as wordpiece

    frameworks.configure()
    cache = Path(out)
    tmp = cache.with_name(cache.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in OP_MODELS:
        (tmp / f"{name}.tflite").write_bytes(getattr(op_models, name)())
    vocab = _small_vocab(op_models.VOCAB)
    for name in CLASSIFIERS:
        folder = tmp / name
        folder.mkdir()
        data = getattr(op_models, name)()
        (folder / MODEL_FILE).write_bytes(data)
        wordpiece.save(vocab, op_models.SEQUENCE, folder)
        ids = wordpiece.encode(wordpiece.load(folder), list(GOLDEN_TEXTS))
        interpreter = tflm.TflmInterpreter(data, arena_size=4 * 1024 * 1024)
        vectors = []
        for text, row in zip(GOLDEN_TEXTS, ids):
            (logits,) = interpreter.run([row.reshape(1, -1).astype(np.int32)])
            logits = [int(v) for v in np.asarray(logits).reshape(-1)]
            vectors.append({"text": text, "ids": [int(i) for i in row], "logits": logits,
                            "label": int(np.argmax(logits))})
        goldens = {"labels": ["negative", "positive"], "vectors": vectors}
        (folder / "goldens.json").write_text(json.dumps(goldens, indent=1), encoding="utf-8")
        arena = tflm.measure_arena(data, model_info.input_specs(fb.parse_model(data)))
        (folder / "metrics.json").write_text(json.dumps({"name": name, "verify": {"arena_bytes": arena}}))
    (tmp / "done").write_text("ok\n")
    shutil.rmtree(cache, ignore_errors=True)
    tmp.rename(cache)


# ----------------------------------------------------------------------------------- mutants


@dataclass(frozen=True)
class Mutant:
    campaign: int
    index: int
    seed: str
    strategy: str
    detail: str
    model: bytes
    files: dict[str, bytes] | None  # all side files of a model directory, None for an op model

    @property
    def name(self) -> str:
        return f"{self.campaign}:{self.index} {self.seed} {self.strategy}"


class Skip(Exception):
    """This damage does not apply to this seed (or cannot be packed): draw another."""


def _schema():
    from toolchain.flatbuffer import schema

    return schema


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    try:
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    except (struct.error, OverflowError, TypeError, ValueError, AttributeError) as exc:
        raise Skip(f"cannot pack: {exc}") from None
    return bytes(builder.Output())


def _unpack(data: bytes):
    return _schema().ModelT.InitFromPackedBuf(data, 0)


def data_regions(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of the buffers' data vectors longer than 64 bytes: the weights."""
    import flatbuffers

    schema = _schema()
    root = schema.Model.GetRootAsModel(data, 0)
    regions = []
    for i in range(root.BuffersLength()):
        buffer = root.Buffers(i)
        offset = flatbuffers.number_types.UOffsetTFlags.py_type(buffer._tab.Offset(4))
        if offset:
            start, length = buffer._tab.Vector(offset), buffer._tab.VectorLen(offset)
            if length > 64:
                regions.append((start, start + length))
    return sorted(regions)


EDGE_INT32 = (0, 1, -1, 2, 3, 4, 7, 64, 255, 256, 65535, 65536, 1 << 24, (1 << 30), (1 << 31) - 1, -(1 << 31),
              -2, -129, 128, 127, -128)
EDGE_FLOAT = (math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 1e30, 1e-30, 1e-45, 3.4e38, 1e-8, 0.5, 2.0, 1.0,
              0.00390625, 1e10)
HOSTILE_TEXT = (
    b"*/ int injected = 1; /*",
    b'"; int injected; char *s = "',
    b"\\\n#include <stdlib.h>\n",
    b"??/ ??= trigraphs",
    b"\x00nul",
    b"\xff\xfe\xfd not utf-8",
    "\u202e right-to-left \u2028 line separator".encode(),
    b"%s%n%x",
    b"",
    b"x" * 5000,
    "\ud800".encode("utf-8", "surrogatepass"),
)


class _Mutator:
    """One mutant's damage: picks from the strategies with the mutant's own random generator."""

    def __init__(self, seeds: list[Seed], seed: Seed, rng: random.Random):
        self.seeds = seeds
        self.seed = seed
        self.rng = rng

    # ---------------------------------------------------------------- byte level

    def _offset(self, data: bytes, structure_share: float) -> int:
        regions = _cached_regions(self.seed)
        if regions and self.rng.random() > structure_share:
            start, end = self.rng.choice(regions)
            return self.rng.randrange(start, end)
        for _ in range(100):
            offset = self.rng.randrange(8, len(data))
            if not any(start <= offset < end for start, end in regions):
                return offset
        return self.rng.randrange(8, len(data))

    def bytes_level(self) -> tuple[str, str, bytes]:
        data = bytearray(self.seed.model)
        rng = self.rng
        share = 0.97 if self.seed.name == "default" else 0.85
        kind = rng.choice(["bitflip", "bitflip", "byte", "int32", "int32", "truncate", "zero", "splice", "insert",
                           "delete", "duplicate", "foreign"])
        if kind == "bitflip":
            flips = [(self._offset(data, share), rng.randrange(8)) for _ in range(rng.choice((1, 1, 2, 4, 8)))]
            for offset, bit in flips:
                data[offset] ^= 1 << bit
            return kind, f"bits {flips}", bytes(data)
        if kind == "byte":
            offset = self._offset(data, share)
            value = rng.choice((0, 0xFF, 0x80, 0x7F, 1, rng.randrange(256)))
            data[offset] = value
            return kind, f"byte {offset} = {value:#x}", bytes(data)
        if kind == "int32":
            offset = self._offset(data, share) & ~3
            offset = max(8, min(offset, len(data) - 4))
            value = rng.choice((0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFF, len(data), len(data) + 4,
                                len(data) // 2, rng.getrandbits(32), struct.unpack_from("<I", data, offset)[0] + 1))
            struct.pack_into("<I", data, offset, value & 0xFFFFFFFF)
            return kind, f"word {offset} = {value:#x}", bytes(data)
        if kind == "truncate":
            cut = rng.choice((rng.randrange(8, len(data)), self._offset(data, 1.0), len(data) - rng.randrange(1, 64)))
            return kind, f"cut at {cut} of {len(data)}", bytes(data[:cut])
        if kind == "zero":
            offset, length = self._offset(data, share), rng.choice((4, 16, 64, 256))
            data[offset:offset + length] = bytes(len(data[offset:offset + length]))
            return kind, f"{length} bytes zeroed at {offset}", bytes(data)
        if kind == "splice":
            source, target, length = self._offset(data, share), self._offset(data, share), rng.choice((4, 8, 32, 128))
            chunk = bytes(data[source:source + length])
            data[target:target + len(chunk)] = chunk
            return kind, f"{length} bytes {source} -> {target}", bytes(data[:len(self.seed.model)])
        if kind == "insert":
            offset = self._offset(data, share)
            chunk = bytes(rng.randrange(256) for _ in range(rng.choice((1, 4, 16))))
            return kind, f"{len(chunk)} bytes inserted at {offset}", bytes(data[:offset] + chunk + data[offset:])
        if kind == "delete":
            offset, length = self._offset(data, share), rng.choice((1, 4, 16))
            return kind, f"{length} bytes deleted at {offset}", bytes(data[:offset] + data[offset + length:])
        if kind == "duplicate":
            offset, length = self._offset(data, share), rng.choice((8, 64, 512))
            chunk = bytes(data[offset:offset + length])
            return kind, f"{length} bytes at {offset} doubled", bytes(data[:offset] + chunk + data[offset:])
        other = rng.choice(self.seeds).model
        start = rng.randrange(8, len(other))
        length = rng.choice((16, 256, 4096))
        offset = self._offset(data, share)
        chunk = other[start:start + length]
        data[offset:offset + len(chunk)] = chunk
        return "foreign", f"{len(chunk)} bytes of another model at {offset}", bytes(data)

    # ---------------------------------------------------------------- structure level

    def structure_level(self) -> tuple[str, str, bytes]:
        model = _unpack(self.seed.model)
        strategies = [
            ("shape", 3), ("type", 2), ("buffer", 2), ("scale", 3), ("zero_point", 2), ("quant_shape", 2),
            ("op_inputs", 3), ("op_outputs", 2), ("opcode", 2), ("builtin", 2), ("options_missing", 1),
            ("options_swap", 2), ("options_field", 5), ("order", 2), ("graph_io", 2), ("buffer_data", 2),
            ("name", 2), ("constant", 3), ("subgraphs", 1), ("several", 2),  # (these two last)
        ]
        names, weights = zip(*strategies)
        kind = self.rng.choices(names, weights)[0]
        if kind == "several":
            details = []
            for _ in range(self.rng.choice((2, 3))):
                sub = self.rng.choices(names[:-2], weights[:-2])[0]  # (not the subgraphs themselves)
                with contextlib.suppress(Skip):
                    details.append(f"{sub}: {getattr(self, '_s_' + sub)(model)}")
            if not details:
                raise Skip("nothing applied")
            return kind, "; ".join(details), _pack(model)
        detail = getattr(self, "_s_" + kind)(model)
        return kind, detail, _pack(model)

    def _tensor(self, model, predicate=lambda t: True) -> tuple[int, object]:
        tensors = model.subgraphs[0].tensors or []
        choices = [(i, t) for i, t in enumerate(tensors) if predicate(t)]
        if not choices:
            raise Skip("no such tensor")
        return self.rng.choice(choices)

    def _op(self, model, predicate=lambda op: True) -> tuple[int, object]:
        ops = model.subgraphs[0].operators or []
        choices = [(i, op) for i, op in enumerate(ops) if predicate(op)]
        if not choices:
            raise Skip("no such operator")
        return self.rng.choice(choices)

    def _s_shape(self, model) -> str:
        index, tensor = self._tensor(model)
        shape = [int(d) for d in (tensor.shape if tensor.shape is not None else [])]
        rng = self.rng
        how = rng.choice(["dim", "dim", "drop", "add", "none", "swap"])
        if how == "dim" and shape:
            axis = rng.randrange(len(shape))
            shape[axis] = rng.choice((0, -1, 1, 2, shape[axis] + 1, shape[axis] * 2, max(1, shape[axis] // 2),
                                      65536, (1 << 31) - 1))
        elif how == "drop" and shape:
            shape.pop(rng.randrange(len(shape)))
        elif how == "add":
            shape.insert(rng.randrange(len(shape) + 1), rng.choice((1, 1, 2, 0)))
        elif how == "swap" and len(shape) > 1:
            a, b = rng.sample(range(len(shape)), 2)
            shape[a], shape[b] = shape[b], shape[a]
        else:
            tensor.shape = None
            return f"tensor {index} shape removed"
        tensor.shape = shape
        return f"tensor {index} shape {shape}"

    def _s_type(self, model) -> str:
        index, tensor = self._tensor(model)
        tensor.type = self.rng.choice(list(range(23)) + [0, 2, 9, 7, 3, 100])
        return f"tensor {index} type {tensor.type}"

    def _s_buffer(self, model) -> str:
        index, tensor = self._tensor(model)
        count = len(model.buffers or [])
        tensor.buffer = self.rng.choice((0, self.rng.randrange(max(count, 1)), count, count + 5, -1))
        return f"tensor {index} buffer {tensor.buffer}"

    def _quantized(self, model):
        return self._tensor(model, lambda t: t.quantization is not None and t.quantization.scale is not None
                            and len(t.quantization.scale) > 0)

    def _s_scale(self, model) -> str:
        index, tensor = self._quantized(model)
        scales = [float(s) for s in tensor.quantization.scale]
        value = self.rng.choice(EDGE_FLOAT + (scales[0] * self.rng.choice((0.5, 2.0, 1.0001, 256.0, 1 / 256)),))
        if self.rng.random() < 0.5:
            scales[self.rng.randrange(len(scales))] = value
        else:
            scales = [value] * len(scales)
        tensor.quantization.scale = scales
        return f"tensor {index} scales {value!r}"

    def _s_zero_point(self, model) -> str:
        index, tensor = self._quantized(model)
        zps = [int(z) for z in (tensor.quantization.zeroPoint if tensor.quantization.zeroPoint is not None else [])]
        value = self.rng.choice((-129, 128, 127, -128, 0, 1, -1, 1 << 31, -(1 << 40), 1 << 32, 100, -100))
        if zps and self.rng.random() < 0.6:
            zps[self.rng.randrange(len(zps))] = value
        else:
            zps = [value] * max(len(zps), 1)
        tensor.quantization.zeroPoint = zps
        return f"tensor {index} zero points {value}"

    def _s_quant_shape(self, model) -> str:
        index, tensor = self._quantized(model)
        q = tensor.quantization
        how = self.rng.choice(["drop_scale", "add_scale", "no_zp", "axis", "none", "zp_count"])
        if how == "drop_scale":
            q.scale = list(q.scale)[:-1]
        elif how == "add_scale":
            q.scale = list(q.scale) + [float(q.scale[0])]
        elif how == "no_zp":
            q.zeroPoint = None
        elif how == "axis":
            q.quantizedDimension = self.rng.choice((-1, 1, 2, 3, 100))
        elif how == "zp_count":
            q.zeroPoint = [int(q.zeroPoint[0]) if q.zeroPoint is not None and len(q.zeroPoint) else 0] * (
                len(q.scale) + 1)
        else:
            tensor.quantization = None
        return f"tensor {index} quantization {how}"

    def _index_value(self, model, current: int) -> int:
        count = len(model.subgraphs[0].tensors or [])
        return self.rng.choice((-1, count, count + 100, 1 << 30, self.rng.randrange(count), self.rng.randrange(count),
                                current))

    def _s_op_inputs(self, model) -> str:
        index, op = self._op(model)
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        how = self.rng.choice(["set", "set", "drop", "extra", "none", "empty", "swap", "self"])
        if how == "set" and inputs:
            position = self.rng.randrange(len(inputs))
            inputs[position] = self._index_value(model, inputs[position])
        elif how == "drop" and inputs:
            inputs.pop()
        elif how == "extra":
            inputs += [self._index_value(model, inputs[0] if inputs else 0) for _ in range(self.rng.choice((1, 3)))]
        elif how == "swap" and len(inputs) > 1:
            inputs[0], inputs[1] = inputs[1], inputs[0]
        elif how == "self" and inputs and op.outputs is not None and len(op.outputs):
            inputs[0] = int(op.outputs[0])
        elif how == "empty":
            inputs = []
        else:
            op.inputs = None
            return f"op {index} inputs removed"
        op.inputs = inputs
        return f"op {index} inputs {inputs}"

    def _s_op_outputs(self, model) -> str:
        index, op = self._op(model)
        outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
        how = self.rng.choice(["set", "set", "extra", "none", "empty", "input"])
        if how == "set" and outputs:
            outputs[0] = self._index_value(model, outputs[0])
        elif how == "extra":
            outputs.append(self._index_value(model, 0))
        elif how == "input" and op.inputs is not None and len(op.inputs):
            outputs = [int(op.inputs[0])]
        elif how == "empty":
            outputs = []
        else:
            op.outputs = None
            return f"op {index} outputs removed"
        op.outputs = outputs
        return f"op {index} outputs {outputs}"

    def _s_opcode(self, model) -> str:
        index, op = self._op(model)
        count = len(model.operatorCodes or [])
        op.opcodeIndex = self.rng.choice((self.rng.randrange(count), self.rng.randrange(count), count, -1))
        return f"op {index} opcode index {op.opcodeIndex}"

    def _s_builtin(self, model) -> str:
        schema = _schema()
        codes = model.operatorCodes or []
        if not codes:
            raise Skip("no operator codes")
        code = self.rng.choice(codes)
        similar = {"ADD": "SUB", "SUB": "ADD", "MEAN": "SUM", "SUM": "MEAN", "LOGISTIC": "TANH", "TANH": "LOGISTIC",
                   "RESHAPE": "SQUEEZE", "SQUEEZE": "EXPAND_DIMS", "EXPAND_DIMS": "RESHAPE", "MUL": "ADD",
                   "REDUCE_MAX": "MEAN", "FULLY_CONNECTED": "CONV_2D", "CONV_2D": "DEPTHWISE_CONV_2D",
                   "QUANTIZE": "DEQUANTIZE", "SOFTMAX": "LOG_SOFTMAX", "SQUARED_DIFFERENCE": "SUB",
                   "GATHER": "EMBEDDING_LOOKUP", "BATCH_MATMUL": "FULLY_CONNECTED", "TRANSPOSE": "RESHAPE",
                   "STRIDED_SLICE": "SLICE", "CONCATENATION": "PACK", "RSQRT": "SQRT"}
        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        current = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "")
        if current in similar and self.rng.random() < 0.6:
            builtin = getattr(schema.BuiltinOperator, similar[current])
        else:
            builtin = self.rng.choice((self.rng.randrange(210), 32, 127, 255, 1000, -1))
        code.builtinCode = builtin
        code.deprecatedBuiltinCode = max(-128, min(127, builtin))
        if self.rng.random() < 0.3:
            code.version = self.rng.choice((0, 99, -1))
        return f"opcode {current} -> {builtin}"

    def _s_options_missing(self, model) -> str:
        index, op = self._op(model, lambda op: op.builtinOptions is not None)
        op.builtinOptions = None
        if self.rng.random() < 0.5:
            op.builtinOptionsType = 0
        return f"op {index} options removed"

    def _s_options_swap(self, model) -> str:
        index, op = self._op(model)
        _, other = self._op(model, lambda o: o.builtinOptions is not None and type(o.builtinOptions) is not type(
            op.builtinOptions))
        op.builtinOptions, op.builtinOptionsType = copy.deepcopy(other.builtinOptions), other.builtinOptionsType
        return f"op {index} gets {type(other.builtinOptions).__name__}"

    def _s_options_field(self, model) -> str:
        index, op = self._op(model, lambda op: op.builtinOptions is not None and vars(op.builtinOptions))
        options = op.builtinOptions
        fields = [k for k, v in vars(options).items() if isinstance(v, (bool, int, float))]
        if not fields:
            raise Skip("no scalar option")
        name = self.rng.choice(fields)
        current = getattr(options, name)
        if isinstance(current, bool):
            value = not current
        elif isinstance(current, float):
            value = self.rng.choice(EDGE_FLOAT)
        elif name in ("fusedActivationFunction", "padding", "weightsFormat", "quantizedBiasType"):
            value = self.rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 100, -1))
        else:
            value = self.rng.choice(EDGE_INT32)
        setattr(options, name, value)
        return f"op {index} {type(options).__name__}.{name} = {value!r}"

    def _s_order(self, model) -> str:
        ops = model.subgraphs[0].operators or []
        if len(ops) < 2:
            raise Skip("one operator")
        how = self.rng.choice(["swap", "reverse", "duplicate", "delete", "move"])
        if how == "swap":
            a, b = self.rng.sample(range(len(ops)), 2)
            ops[a], ops[b] = ops[b], ops[a]
        elif how == "reverse":
            ops.reverse()
        elif how == "duplicate":
            position = self.rng.randrange(len(ops))
            ops.insert(position, copy.deepcopy(ops[position]))
        elif how == "delete":
            ops.pop(self.rng.randrange(len(ops)))
        else:
            ops.insert(self.rng.randrange(len(ops)), ops.pop(self.rng.randrange(len(ops))))
        model.subgraphs[0].operators = ops
        return f"operators {how}"

    def _s_graph_io(self, model) -> str:
        subgraph = model.subgraphs[0]
        which = self.rng.choice(["inputs", "outputs"])
        values = [int(i) for i in (getattr(subgraph, which) if getattr(subgraph, which) is not None else [])]
        how = self.rng.choice(["none", "empty", "set", "duplicate", "extra"])
        if how == "none":
            setattr(subgraph, which, None)
            return f"graph {which} removed"
        if how == "empty":
            values = []
        elif how == "set" and values:
            values[0] = self._index_value(model, values[0])
        elif how == "duplicate" and values:
            values.append(values[0])
        else:
            values.append(self._index_value(model, 0))
        setattr(subgraph, which, values)
        return f"graph {which} {values}"

    def _s_buffer_data(self, model) -> str:
        index, tensor = self._tensor(model, lambda t: 0 <= t.buffer < len(model.buffers or [])
                                     and model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data))
        buffer = model.buffers[tensor.buffer]
        data = np.asarray(buffer.data, dtype=np.uint8).copy()
        how = self.rng.choice(["drop", "truncate", "extend", "random", "extreme", "extreme"])
        if how == "drop":
            buffer.data = None
        elif how == "truncate":
            buffer.data = data[: self.rng.randrange(len(data))]
        elif how == "extend":
            buffer.data = np.concatenate([data, np.zeros(self.rng.choice((1, 4, 64)), np.uint8)])
        elif how == "random":
            buffer.data = np.frombuffer(bytes(self.rng.randrange(256) for _ in range(len(data))), np.uint8)
        else:
            fill = self.rng.choice((0x7F, 0x80, 0xFF, 0x00))
            data[self.rng.randrange(len(data)):] = fill
            buffer.data = data
        return f"tensor {index} data {how}"

    def _s_name(self, model) -> str:
        text = self.rng.choice(HOSTILE_TEXT)
        if self.rng.random() < 0.2:
            model.description = text
            return f"description {text[:30]!r}"
        index, tensor = self._tensor(model)
        tensor.name = text
        return f"tensor {index} name {text[:30]!r}"

    def _s_constant(self, model) -> str:
        """Edge values in an int32 constant: axes, permutations, slice bounds, biases, shapes."""
        schema = _schema()
        index, tensor = self._tensor(model, lambda t: t.type == schema.TensorType.INT32 and 0 <= t.buffer < len(
            model.buffers or []) and model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data))
        buffer = model.buffers[tensor.buffer]
        values = np.frombuffer(np.asarray(buffer.data, dtype=np.uint8).tobytes(), dtype=np.int32).copy()
        if not len(values):
            raise Skip("empty constant")
        position = self.rng.randrange(len(values))
        values[position] = self.rng.choice(EDGE_INT32 + (int(values[position]) + 1, int(values[position]) - 1, -5, 5))
        buffer.data = np.frombuffer(values.tobytes(), dtype=np.uint8)
        return f"tensor {index} value {position} = {int(values[position])}"

    def _s_subgraphs(self, model) -> str:
        how = self.rng.choice(["second", "none", "empty_ops"])
        if how == "second":
            model.subgraphs.append(copy.deepcopy(model.subgraphs[0]))
        elif how == "none":
            model.subgraphs = []
        else:
            model.subgraphs[0].operators = []
        return f"subgraphs {how}"

    # ---------------------------------------------------------------- side files

    def side_files(self) -> tuple[str, str, dict[str, bytes]]:
        files = dict(self.seed.files)
        name = self.rng.choices(SIDE_FILES, (3, 3, 4, 1))[0]
        text = files[name].decode("utf-8")
        rng = self.rng
        if rng.random() < 0.12:
            how = rng.choice(["empty", "truncated", "not utf-8", "crlf", "bom"])
            files[name] = {"empty": b"", "truncated": files[name][: rng.randrange(len(files[name]))],
                           "not utf-8": files[name][:20] + b"\xff\xc3(" + files[name][20:],
                           "crlf": files[name].replace(b"\n", b"\r\n"),
                           "bom": b"\xef\xbb\xbf" + files[name]}[how]
            return "side_bytes", f"{name} {how}", files
        if name == "vocab.txt":
            detail, files[name] = self._vocab(text)
        else:
            detail, value = getattr(self, "_" + name.split(".")[0])(json.loads(text))
            files[name] = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        return "side_" + name.split(".")[0], detail, files

    def _vocab(self, text: str) -> tuple[str, bytes]:
        lines = text.split("\n")[:-1]
        rng = self.rng
        how = rng.choice(["half", "specials", "append", "swap", "delete", "edit", "duplicate", "long", "nul",
                          "space"])
        if how == "half":
            lines = lines[: len(lines) // 2]
        elif how == "specials":
            lines = lines[:5]
        elif how == "append":
            lines += [f"zz{i}" for i in range(rng.choice((1, 100, 70000)))]
        elif how == "swap":
            a, b = rng.sample(range(5, len(lines)), 2)
            lines[a], lines[b] = lines[b], lines[a]
        elif how == "delete":
            lines.pop(rng.randrange(len(lines)))
        elif how == "edit":
            lines[rng.randrange(len(lines))] = rng.choice(["", "##", "a b", "[UNK]", "*/", "\t", "é"])
        elif how == "duplicate":
            lines.append(lines[rng.randrange(len(lines))])
        elif how == "long":
            lines[rng.randrange(5, len(lines))] = "q" * rng.choice((200, 70000))
        elif how == "nul":
            lines[rng.randrange(len(lines))] += "\x00"
        else:
            lines[rng.randrange(len(lines))] += " "
        return f"vocab.txt {how}", ("\n".join(lines) + "\n").encode("utf-8")

    def _jsonpath_edit(self, value, paths) -> str:
        """Sets one of `paths` (key tuples) to an edge value of another type, or deletes it."""
        path = self.rng.choice(paths)
        node = value
        for key in path[:-1]:
            node = node[key]
        replacement = self.rng.choice((None, [], {}, "x", 0, -1, 1.5, True, 10**30, "\ud800", [1, 2], "*/"))
        if self.rng.random() < 0.25 and isinstance(node, dict):
            node.pop(path[-1], None)
            return f"{'.'.join(map(str, path))} deleted"
        node[path[-1]] = replacement
        return f"{'.'.join(map(str, path))} = {replacement!r}"

    def _tokenizer(self, spec: dict) -> tuple[str, dict]:
        rng = self.rng
        how = rng.choice(["edit", "edit", "length", "vocab_add", "vocab_drop", "vocab_renumber", "type"])
        if how == "edit":
            paths = [("model",), ("model", "type"), ("model", "vocab"), ("model", "unk_token"),
                     ("model", "continuing_subword_prefix"), ("model", "max_input_chars_per_word"), ("normalizer",),
                     ("normalizer", "lowercase"), ("normalizer", "strip_accents"), ("pre_tokenizer",),
                     ("pre_tokenizer", "type"), ("truncation",), ("truncation", "max_length"), ("padding",),
                     ("padding", "pad_id"), ("padding", "strategy"), ("post_processor",), ("added_tokens",),
                     ("decoder",), ("post_processor", "single")]
            return f"tokenizer.json {self._jsonpath_edit(spec, paths)}", spec
        if how == "length":
            length = rng.choice((0, 3, 4, 65, 63, 4097, 100000))
            spec["truncation"]["max_length"] = length
            if rng.random() < 0.7:
                spec["padding"]["strategy"] = {"Fixed": length}
            return f"tokenizer.json sequence length {length}", spec
        vocab = spec["model"]["vocab"]
        if how == "vocab_add":
            vocab[rng.choice(("zzz", "*/", ""))] = len(vocab)
        elif how == "vocab_drop":
            vocab.pop(rng.choice(list(vocab)))
        elif how == "vocab_renumber":
            a, b = rng.sample(list(vocab), 2)
            vocab[a], vocab[b] = vocab[b], vocab[a]
        else:
            spec["model"]["type"] = rng.choice(("BPE", "Unigram", "WordLevel"))
        return f"tokenizer.json {how}", spec

    def _goldens(self, goldens: dict) -> tuple[str, dict]:
        rng = self.rng
        vectors = goldens["vectors"]
        how = rng.choice(["labels", "labels", "text", "ids", "logits", "logits", "label", "edit", "vectors"])
        if how == "labels":
            labels = goldens["labels"]
            change = rng.choice(["inject", "int", "duplicate", "one", "many", "control", "long", "empty", "space"])
            position = rng.randrange(len(labels))
            labels[position] = {"inject": "0}; int injected[] = {0", "int": 7, "duplicate": labels[1 - position],
                                "control": "a\nb", "long": "l" * 200, "empty": "", "space": "  ",
                                "one": labels[position], "many": labels[position]}[change]
            if change == "one":
                goldens["labels"] = labels[:1]
            elif change == "many":
                goldens["labels"] = labels + [f"extra{i}" for i in range(rng.choice((1, 300)))]
            return f"goldens labels {change}", goldens
        if not vectors:
            raise Skip("no vectors")
        vector = rng.choice(vectors)
        if how == "text":
            vector["text"] = rng.choice(("", "*/ \"\\ ??=", "\ud800", vector["text"] + " more", "x" * 100000, 5, None))
        elif how == "ids":
            position = rng.randrange(len(vector["ids"]))
            vector["ids"][position] = rng.choice((-1, 1 << 31, vector["ids"][position] + 1, 1.5, "1", 7599, 7600))
            if rng.random() < 0.2:
                vector["ids"] = vector["ids"][:-1]
        elif how == "logits":
            position = rng.randrange(len(vector["logits"]))
            vector["logits"][position] = rng.choice((128, -129, vector["logits"][position] + 1,
                                                     vector["logits"][position] - 1, 0.5, None))
        elif how == "label":
            vector["label"] = rng.choice((-1, 2, 1 - vector["label"], True, "0", 1 << 40))
        elif how == "vectors":
            goldens["vectors"] = rng.choice(([], {}, None, vectors[:1], vectors + vectors))
        else:
            return f"goldens {self._jsonpath_edit(goldens, [('labels',), ('vectors',)])}", goldens
        return f"goldens {how}", goldens

    def _metrics(self, metrics: dict) -> tuple[str, dict]:
        value = self.rng.choice((None, 0, -1, 1.5, "4096", True, 10**12, 1 << 28, 16, [1], {"x": 1}))
        if self.rng.random() < 0.2:
            metrics["verify"] = self.rng.choice((None, [], "x", {}))
            return f"metrics verify = {metrics['verify']!r}", metrics
        metrics.setdefault("verify", {})["arena_bytes"] = value
        return f"metrics arena {value!r}", metrics


_REGIONS: dict[str, list[tuple[int, int]]] = {}


def _cached_regions(seed: Seed) -> list[tuple[int, int]]:
    if seed.name not in _REGIONS:
        _REGIONS[seed.name] = data_regions(seed.model)
    return _REGIONS[seed.name]


def make_mutant(seeds: list[Seed], campaign: int, index: int) -> Mutant:
    """Mutant `index` of campaign `campaign`: the same two numbers give the same mutant."""
    rng = random.Random(f"textclf-mutant:{campaign}:{index}")
    seed = rng.choices(seeds, [s.weight for s in seeds])[0]
    for _ in range(50):
        mutator = _Mutator(seeds, seed, rng)
        family = rng.random()
        try:
            if seed.is_model_dir and family < 0.22:
                strategy, detail, files = mutator.side_files()
                return Mutant(campaign, index, seed.name, strategy, detail, seed.model, files)
            if family < 0.6:
                strategy, detail, model = mutator.structure_level()
            else:
                strategy, detail, model = mutator.bytes_level()
        except Skip:
            continue
        if model == seed.model:
            continue
        return Mutant(campaign, index, seed.name, strategy, detail, model, seed.files)
    raise RuntimeError(f"no mutant could be made for {campaign}:{index}")


# ----------------------------------------------------------------------------------- the oracle


class TflmRunner:
    """TFLite Micro (pip tflite-micro) in a child process, replaced when a model crashes it."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self._process = None
        self._conn = None

    def _start(self) -> None:
        parent, child = multiprocessing.get_context("fork").Pipe()
        self._process = multiprocessing.get_context("fork").Process(target=_tflm_child, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent

    def close(self) -> None:
        if self._process is not None and self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._process.join(2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None

    def run(self, model: bytes, cases: list[list[np.ndarray]], arena: int, outputs: int) -> tuple[str, object]:
        """One interpreter, every case: ("ok", [outputs per case]), ("rejected", message),
        ("crashed", "") or ("hang", "")."""
        if self._process is None:
            self._start()
        try:
            self._conn.send((model, cases, arena, outputs))
            if self._conn.poll(self.timeout):
                return self._conn.recv()
            verdict = ("hang", f"no answer in {self.timeout:.0f} s")
        except (EOFError, OSError):
            verdict = ("crashed", "the TFLM process died")
        self._process.kill()
        self._process.join()
        self._process = None
        return verdict


def _tflm_child(conn) -> None:
    from toolchain import tflm

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    while True:
        task = conn.recv()
        if task is None:
            return
        model, cases, arena, count = task
        while True:
            result, messages = tflm._capture_stderr(lambda: tflm.invoke_each(model, cases, count, arena))  # noqa: B023
            if not isinstance(result, Exception):
                conn.send(("ok", result))
                break
            if tflm._ARENA_TOO_SMALL.search(messages) and arena < tflm.MAX_ARENA:
                arena = min(arena * 4, tflm.MAX_ARENA)
                continue
            conn.send(("rejected", tflm.describe_failure(messages + "\n" + str(result))))
            break


# ------------------------------------------------------------------------------ the C checks


class CChecks:
    """Compiles generated C with -Werror under ASan/UBSan. The runtime library is built once into
    the persistent cache; a worker keeps the objects of generated files in its own scratch folder,
    each compiled once per content (the seeds' files repeat), the least recently used evicted."""

    def __init__(self, cache: Path, scratch: Path | None = None, keep: int = 120):
        from toolchain import cbuild
        from toolchain.resources import device_dir, runtime_dir

        self.cbuild = cbuild
        self.cache = cache
        self.scratch = scratch or cache / "scratch"
        self.keep = keep
        self.runtime = runtime_dir()
        self.checks = device_dir() / "checks"
        (cache / "runtime").mkdir(parents=True, exist_ok=True)
        (self.scratch / "lib").mkdir(parents=True, exist_ok=True)

    def runtime_objects(self) -> list[Path]:
        """The runtime library (kernels, tokenizer, API, Unicode tables) built with the sanitizers."""
        from toolchain.emit import UNICODE_FILE, runtime_library

        with _locked(self.cache / "runtime.lock"):
            unicode_c = self.cache / "runtime" / UNICODE_FILE
            text = runtime_library()[UNICODE_FILE]
            if not unicode_c.exists() or unicode_c.read_bytes() != text:
                _atomic_write(unicode_c, text)
            build = self.cbuild.Build(include_dirs=[self.runtime], sanitize=True)
            return build.objects(self.cbuild.c_sources(self.runtime) + [unicode_c], self.cache / "runtime" / "objects")

    def library_objects(self, files: dict[str, bytes], extra: dict[str, tuple[bytes, list[str]]]) -> dict[str, Path]:
        """Objects of a generated library's .c files and of `extra` sources ({name: (text, defines)})
        compiled against its headers."""
        headers = {name: data for name, data in sorted(files.items()) if name.endswith(".h")}
        header_key = hashlib.sha256(b"".join(n.encode() + b"\0" + d + b"\0" for n, d in headers.items())).hexdigest()
        sources = {name: (data, []) for name, data in files.items() if name.endswith(".c")}
        sources.update(extra)
        objects = {}
        for name, (data, defines) in sorted(sources.items()):
            key = hashlib.sha256(f"{header_key}\0{name}\0{defines}\0".encode() + data).hexdigest()[:24]
            folder = self.scratch / "lib" / key
            done = folder / "done"
            if done.exists():
                os.utime(folder)
                objects[name] = folder / "objects" / done.read_text()
                continue
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for header, text in headers.items():
                (folder / header).write_bytes(text)
            (folder / name).write_bytes(data)
            build = self.cbuild.Build(include_dirs=[self.runtime, folder], defines=defines, sanitize=True)
            (obj,) = build.objects([folder / name], folder / "objects")
            done.write_text(obj.name)
            objects[name] = obj
            self._evict()
        return objects

    def _evict(self) -> None:
        folders = sorted((self.scratch / "lib").iterdir(), key=lambda f: f.stat().st_mtime)
        for folder in folders[: max(0, len(folders) - self.keep)]:
            shutil.rmtree(folder, ignore_errors=True)

    def program(self, objects: list[Path], name: str) -> Path:
        """Links a program (overwriting the previous one of that name)."""
        path = self.scratch / name
        path.unlink(missing_ok=True)
        return self.cbuild.Build(sanitize=True).program([], path, objects=objects)


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.rename(path)


# ----------------------------------------------------------------------------------- workers


class StepTimeout(BaseException):
    """A step of a mutant ran past its time limit (SIGALRM): a hang. BaseException, so that no
    handler of the code under test swallows it."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    def expire(signum, frame):
        raise StepTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Settings:
    campaign: int
    work: Path  # scratch folder of the campaign
    cache: Path  # compiled objects (kept between runs)
    step_timeout: float = 60.0
    arena_every: int = 250  # every Nth mutant's `inspect` runs TFLM's arena search
    samples: int = 4  # inputs compared with TFLM per accepted mutant


def _cli(argv: list[str], limit: float) -> tuple[object, str]:
    """toolchain.cli.main in this process: (exit code or "traceback"/"hang", stderr or the trace)."""
    from toolchain import cli

    err, out = io.StringIO(), io.StringIO()
    try:
        with _time_limit(limit), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = cli.main(argv)
    except StepTimeout:
        return "hang", f"{' '.join(argv[:1])} ran past {limit:.0f} s"
    except BaseException:  # anything escaping main() is the defect looked for
        return "traceback", traceback.format_exc()[-3000:]
    return code, err.getvalue()


def _check_exit(step: str, code, message: str) -> str | None:
    """None if the step ended as the toolchain promises; else what went wrong."""
    if code in ("traceback", "hang"):
        return f"{step}: {code}: {message}"
    if code == 2:
        lines = message.splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return f"{step}: exit 2 without exactly one `error:` line: {message[:500]!r}"
        return None
    if code != 0:
        return f"{step}: exit code {code}: {message[:500]}"
    return None


def _inputs_for(model_bytes: bytes, graph, vocab_size: int | None, goldens: list | None, count: int,
                rng: np.random.Generator) -> list[list[np.ndarray]] | None:
    """Sample inputs for the graph's inputs (None when its inputs are not something to sample)."""
    from toolchain.emit.ops.common import C_TYPES  # noqa: F401 - the C types the graph exposes

    id_bound = vocab_size
    if id_bound is None:
        bounds = [op.call.params.axis_size for op in graph.ops if op.kernel == "tc_gather_s8"]
        id_bound = min(bounds) if bounds else 1
    cases = []
    for case in range(count):
        values = []
        for io_tensor in graph.inputs:
            shape = tuple(io_tensor.shape)
            if io_tensor.c_type == "int32_t":
                if goldens and case < len(goldens) and case < count // 2:
                    values.append(np.asarray(goldens[case]["ids"], np.int32).reshape(shape))
                else:
                    values.append(rng.integers(0, max(id_bound, 1), shape).astype(np.int32))
            elif case == 0:
                values.append(np.full(shape, 127 if rng.random() < 0.5 else -128, np.int8))
            else:
                values.append(rng.integers(-128, 128, shape).astype(np.int8))
        cases.append(values)
    return cases


def _graph_outputs(data: bytes, graph, cases: int) -> list[list[np.ndarray]]:
    outputs, position = [], 0
    for _ in range(cases):
        values = []
        for io_tensor in graph.outputs:
            dtype = np.int8 if io_tensor.c_type == "int8_t" else np.int32
            values.append(np.frombuffer(data[position:position + io_tensor.bytes], dtype=dtype))
            position += io_tensor.bytes
        outputs.append(values)
    if position != len(data):
        raise ValueError(f"the program wrote {len(data)} bytes, expected {position}")
    return outputs


def run_mutant(mutant: Mutant, settings: Settings, tflm_runner: TflmRunner, checks: CChecks,
               runtime_objects: list[Path]) -> dict:
    from toolchain import flatbuffer, model_info
    from toolchain.emit.graph_compiler import compile_graph
    from toolchain.errors import ToolchainError

    started = time.monotonic()
    result = {"mutant": mutant.name, "seed": mutant.seed, "strategy": mutant.strategy, "detail": mutant.detail,
              "index": mutant.index, "phases": {}}
    clock = [started]

    def phase(name: str) -> None:
        now = time.monotonic()
        result["phases"][name] = round(now - clock[0], 3)
        clock[0] = now
    work = settings.work / f"m{mutant.index}"
    shutil.rmtree(work, ignore_errors=True)
    model_dir = work / MODEL_DIR_NAME
    model_dir.mkdir(parents=True)
    model_path = model_dir / MODEL_FILE
    model_path.write_bytes(mutant.model)
    for name, data in (mutant.files or {}).items():
        (model_dir / name).write_bytes(data)

    def done(verdict: str, failure: str | None = None, kind: str = "crash") -> dict:
        """verdict: rejected | verified | failure; a failure's kind: traceback, hang, exit, wrong
        (accepted but not what TFLM computes, or not buildable), crash."""
        result["verdict"] = "failure" if failure else verdict
        if failure:
            result["failure"] = failure
            result["kind"] = kind
        result["seconds"] = round(time.monotonic() - started, 3)
        shutil.rmtree(work, ignore_errors=True)
        return result

    # 1. inspect
    arena = mutant.index % settings.arena_every == 0
    code, message = _cli(["inspect", *([] if arena else ["--no-arena"]), str(model_path)],
                         settings.step_timeout * (4 if arena else 1))
    result["inspect"] = code
    result["arena_search"] = arena
    phase("inspect")
    problem = _check_exit("inspect", code, message)
    if problem:
        return done("failure", problem, _kind(code))

    # 2. generation
    graph, files = None, None
    if mutant.files is not None:
        out = work / "out"
        code, message = _cli(["export", "--model", str(model_dir), "--out", str(out), "--prefix", PREFIX,
                              "--no-verify"], settings.step_timeout)
        problem = _check_exit("export", code, message)
        if problem:
            return done("failure", problem, _kind(code))
        if code == 2 and out.exists() and any(out.iterdir()):
            return done("failure", f"export refused the model but left files in {out}: {message.strip()}", "exit")
        if code == 0:
            src = out / PREFIX / "src"
            files = {p.name: p.read_bytes() for p in sorted(src.iterdir())}
    else:
        try:
            with _time_limit(settings.step_timeout):
                parsed_model = flatbuffer.parse_model(mutant.model, f"{MODEL_DIR_NAME}/{MODEL_FILE}")
                model_info.check_structure(parsed_model)  # as read_model_dir does before compiling
                model_info.check_tflm_types(parsed_model)
                graph = compile_graph(parsed_model)
                rendered = graph.render(PREFIX, f"{MODEL_DIR_NAME}/{MODEL_FILE}")
            files = {name: text.encode("utf-8") for name, text in rendered.items()}
            code, message = 0, ""
        except ToolchainError as exc:
            code, message = 2, f"error: {exc}"
        except StepTimeout:
            return done("failure", "graph compiler: hang", "hang")
        except BaseException:  # anything else escaping is a traceback
            return done("failure", "graph compiler: traceback: " + traceback.format_exc()[-3000:], "traceback")
    result["generate"] = code
    result["message"] = message.strip()[:300]
    phase("generate")

    # 3. TFLite Micro on the mutant (when its flatbuffer is readable at all)
    try:
        parsed = flatbuffer.parse_model(mutant.model)
    except ToolchainError:
        parsed = None
    if code == 2:
        if parsed is not None:
            result["tflm"] = _tflm_on_zeros(parsed, tflm_runner)
            phase("tflm")
        return done("rejected")

    # 4. an accepted generation: build, run, compare with TFLM
    rng = np.random.default_rng(mutant.index)
    goldens, vocab_size = None, None
    if mutant.files is not None:
        try:
            with _time_limit(settings.step_timeout):
                graph = compile_graph(parsed)
        except BaseException as exc:
            return done("failure", f"export accepted a model the graph compiler then refuses: {exc!r}", "wrong")
        goldens = json.loads(mutant.files["goldens.json"])["vectors"]
        vocab_size = mutant.files["vocab.txt"].decode("utf-8").count("\n")
    cases = _inputs_for(mutant.model, graph, vocab_size, goldens, settings.samples, rng)
    try:
        driver = (TESTS / "c" / "graph_driver.c").read_bytes()
        graph_files = {n: d for n, d in files.items() if n.startswith(f"{PREFIX}_graph")}
        objects = checks.library_objects(graph_files, {"graph_driver.c": (driver, [])})
        program = checks.program([objects["graph_driver.c"], objects[f"{PREFIX}_graph.c"], *runtime_objects], "graph")
        selfcheck = None
        if mutant.files is not None:
            # Every generated file compiles; the export's self-check program (the goldens through
            # the C tokenizer and model) runs where the goldens still hold: the seed's model.
            sequence = len(goldens[0]["ids"]) if goldens else 1
            defines = [f'CHECK_HEADER="{PREFIX}.h"', f"CHECK_PREFIX={PREFIX}", f"CHECK_SEQUENCE_LENGTH={sequence}"]
            library = checks.library_objects(files, {"check_goldens.c": ((checks.checks / "goldens.c").read_bytes(),
                                                                         defines)})
            if mutant.model == _seed_model(mutant.seed):
                selfcheck = checks.program(sorted(library.values()) + runtime_objects, "selfcheck")
    except checks.cbuild.CompileError as exc:
        return done("failure", f"the accepted export does not compile: {exc}\n{exc.log[-2000:]}", "wrong")
    phase("compile")
    stdin = b"".join(np.ascontiguousarray(v).tobytes() for case in cases for v in case)
    run = subprocess.run([str(program)], input=stdin, capture_output=True, timeout=settings.step_timeout * 2)
    if run.returncode != 0:
        return done("failure", f"the compiled graph exited with {run.returncode}: "
                               f"{run.stderr.decode(errors='replace')[-2000:]}", "wrong")
    try:
        produced = _graph_outputs(run.stdout, graph, len(cases))
    except ValueError as exc:
        return done("failure", str(exc), "wrong")
    arena = max(2 << 20, 8 * graph.arena_bytes + 2 * len(mutant.model))
    phase("run")
    verdict, expected = tflm_runner.run(mutant.model, cases, arena, len(graph.outputs))
    phase("tflm")
    result["tflm"] = verdict
    if verdict != "ok":
        return done("failure", f"accepted, but TFLite Micro {verdict}: {expected}", "wrong")
    for number, (want, got) in enumerate(zip(expected, produced)):
        for output, (w, g) in enumerate(zip(want, got)):
            w = np.asarray(w).reshape(-1)
            if w.tobytes() != np.asarray(g).reshape(-1).astype(w.dtype).tobytes() or w.size != g.size:
                return done("failure", f"output {output} of sample {number} differs from TFLM: "
                                       f"C {list(g[:8])}... TFLM {list(w[:8])}...", "wrong")
    if selfcheck is not None:
        check = subprocess.run([str(selfcheck)], capture_output=True, timeout=settings.step_timeout * 2)
        lines = check.stdout.decode(errors="replace").splitlines()
        if b"runtime error" in check.stderr or b"Sanitizer" in check.stderr or check.returncode not in (0, 1):
            return done("failure", f"the self-check program crashed: {check.stderr.decode(errors='replace')[-2000:]}",
                        "wrong")
        ids_differ = [line for line in lines if line.startswith("ids differ")]
        if ids_differ:
            return done("failure", f"accepted, but the C tokenizer disagrees with tokenizer.json: {ids_differ[0]}",
                        "wrong")
        result["selfcheck"] = "ok" if check.returncode == 0 and all(line == "ok" for line in lines) else "fails"
        if result["selfcheck"] == "fails":
            # A side file changed, the model did not: `export`'s own self-check (on by default)
            # refuses this directory, as it should (the goldens no longer hold).
            result["rejected_by"] = "self-check"
            return done("rejected")
    return done("verified")


_SEED_MODELS: dict[str, bytes] = {}


def _seed_model(name: str) -> bytes | None:
    return _SEED_MODELS.get(name)


def _kind(code) -> str:
    return code if code in ("traceback", "hang") else "exit"


def _tflm_on_zeros(parsed, runner: TflmRunner) -> str:
    """TFLM's verdict on a model the toolchain refused (informational), on all-zero inputs."""
    from toolchain import flatbuffer

    inputs = []
    for index in flatbuffer.ints(parsed.subgraph.inputs):
        if not 0 <= index < len(parsed.subgraph.tensors or []):
            return "not run"
        tensor = parsed.subgraph.tensors[index]
        dtype = flatbuffer.NUMPY_DTYPES.get(tensor.type)
        shape = flatbuffer.ints(tensor.shape)
        if dtype is None or any(d < 0 for d in shape) or math.prod(shape) > 1 << 20:
            return "not run"
        inputs.append(np.zeros(shape, dtype))
    outputs = len(flatbuffer.ints(parsed.subgraph.outputs))
    verdict, _ = runner.run(parsed.data, [inputs], max(2 << 20, 4 * len(parsed.data)), outputs)
    return verdict


def _worker(conn, seeds: list[Seed], settings: Settings, log: Path) -> None:
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ["TEXTCLF_NO_PROGRESS"] = "1"
    for seed in seeds:
        _SEED_MODELS[seed.name] = seed.model
    runner = TflmRunner(timeout=settings.step_timeout)
    checks = CChecks(settings.cache, scratch=settings.work / f"worker-{os.getpid()}")
    runtime_objects = checks.runtime_objects()
    conn.send(("ready", None))
    try:
        while True:
            index = conn.recv()
            if index is None:
                return
            mutant = make_mutant(seeds, settings.campaign, index)
            try:
                result = run_mutant(mutant, settings, runner, checks, runtime_objects)
            except Exception:  # a defect of this harness, not of the toolchain: reported as such
                result = {"mutant": mutant.name, "seed": mutant.seed, "strategy": mutant.strategy,
                          "detail": mutant.detail, "index": index, "verdict": "failure", "kind": "harness",
                          "failure": "the harness failed: " + traceback.format_exc()[-2000:]}
            conn.send(("result", result))
    finally:
        runner.close()


# ---------------------------------------------------------------------------------- campaign


@dataclass
class Report:
    tried: int = 0
    results: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.results if r["verdict"] == "failure"]

    def counts(self) -> dict:
        rejected = [r for r in self.results if r["verdict"] == "rejected"]
        verified = [r for r in self.results if r["verdict"] == "verified"]
        tflm_checked = [r for r in rejected if r.get("tflm") in ("ok", "rejected", "crashed", "hang")]
        by_strategy: dict[str, dict[str, int]] = {}
        for r in self.results:
            entry = by_strategy.setdefault(r["strategy"], {"tried": 0, "rejected": 0, "verified": 0, "failure": 0})
            entry["tried"] += 1
            entry[r["verdict"]] += 1
        kinds = [r.get("kind") for r in self.failures]
        return {
            "tried": len(self.results),
            "rejected_with_error": len(rejected),
            "rejected_by_export_self_check": sum(r.get("rejected_by") == "self-check" for r in rejected),
            "accepted_and_verified_bit_exact": len(verified),
            "failures": len(self.failures),
            "tracebacks": kinds.count("traceback"),
            "hangs": kinds.count("hang"),
            "wrong_but_accepted": kinds.count("wrong"),
            "bad_exit": kinds.count("exit"),
            "worker_crashes": kinds.count("crash"),
            "harness_errors": kinds.count("harness"),
            "rejected_tflm_checked": len(tflm_checked),
            "rejected_tflm_also_rejects": sum(r["tflm"] != "ok" for r in tflm_checked),
            "inspect_refused": sum(r.get("inspect") == 2 for r in self.results),
            "inspect_with_arena_search": sum(bool(r.get("arena_search")) for r in self.results),
            "by_seed": _tally(self.results, "seed"),
            "by_strategy": by_strategy,
            "seconds": round(self.seconds, 1),
        }


def _tally(results: list[dict], key: str) -> dict:
    tally: dict[str, int] = {}
    for r in results:
        tally[r[key]] = tally.get(r[key], 0) + 1
    return dict(sorted(tally.items()))


class Campaign:
    """Runs mutants 0..count-1 of a campaign in `workers` processes, each mutant under a timeout."""

    def __init__(self, seeds: list[Seed], settings: Settings, workers: int = 2, mutant_timeout: float = 300.0):
        self.seeds = seeds
        self.settings = settings
        self.workers = workers
        self.mutant_timeout = mutant_timeout

    def run(self, count: int, progress=None) -> Report:
        from toolchain.emit import runtime_library

        started = time.monotonic()
        self.settings.work.mkdir(parents=True, exist_ok=True)
        for log in self.settings.work.glob("worker*.log"):
            log.unlink()
        self.settings.cache.mkdir(parents=True, exist_ok=True)
        # Everything the workers share is made once before they fork: the runtime library (its
        # Unicode tables take seconds), TFLM's module, the sanitized runtime objects.
        runtime_library()
        from tflite_micro import runtime  # noqa: F401
        CChecks(self.settings.cache, scratch=self.settings.work / "parent").runtime_objects()
        context = multiprocessing.get_context("fork")
        pending = list(range(count))[::-1]
        report = Report()
        slots: dict = {}

        def start(slot: int):
            parent, child = context.Pipe()
            log = self.settings.work / f"worker{slot}.log"
            # Not a daemon: a worker runs TFLM in a child process of its own.
            process = context.Process(target=_worker, args=(child, self.seeds, self.settings, log))
            process.start()
            child.close()
            parent.recv()  # ready
            slots[slot] = {"process": process, "conn": parent, "index": None, "since": 0.0}

        def give(slot: int):
            entry = slots[slot]
            if pending:
                entry["index"] = pending.pop()
                entry["since"] = time.monotonic()
                entry["conn"].send(entry["index"])
            else:
                entry["index"] = None

        try:
            self._loop(slots, start, give, report, progress)
        finally:
            for entry in slots.values():
                with contextlib.suppress(OSError):
                    entry["conn"].send(None)
                entry["process"].join(10)
                if entry["process"].is_alive():
                    entry["process"].kill()
                    entry["process"].join()
        report.results.sort(key=lambda r: r["index"])
        report.tried = len(report.results)
        report.seconds = time.monotonic() - started
        return report

    def _loop(self, slots: dict, start, give, report: Report, progress) -> None:
        for slot in range(self.workers):
            start(slot)
            give(slot)
        while any(entry["index"] is not None for entry in slots.values()):
            busy = {entry["conn"]: slot for slot, entry in slots.items() if entry["index"] is not None}
            ready = wait(list(busy), timeout=5.0)
            for conn in ready:
                slot = busy[conn]
                try:
                    _, result = conn.recv()
                except (EOFError, OSError):
                    result = self._lost(slots[slot]["index"], "the worker process died")
                    self._restart(slots, slot, start)
                report.results.append(result)
                if progress:
                    progress(result)
                give(slot)
            now = time.monotonic()
            for slot, entry in list(slots.items()):
                if entry["index"] is not None and now - entry["since"] > self.mutant_timeout:
                    report.results.append(self._lost(entry["index"], f"hang: no result in {self.mutant_timeout:.0f} s"))
                    self._restart(slots, slot, start)
                    give(slot)

    def _lost(self, index: int, why: str) -> dict:
        mutant = make_mutant(self.seeds, self.settings.campaign, index)
        return {"mutant": mutant.name, "seed": mutant.seed, "strategy": mutant.strategy, "detail": mutant.detail,
                "index": index, "verdict": "failure", "failure": why, "kind": "hang" if "hang" in why else "crash"}

    def _restart(self, slots: dict, slot: int, start) -> None:
        entry = slots[slot]
        entry["process"].kill()
        entry["process"].join()
        start(slot)


def write_mutant(mutant: Mutant, folder: Path) -> Path:
    """A mutant as files, to run the CLI on it by hand (failures name their campaign and index)."""
    model_dir = folder / f"mutant-{mutant.campaign}-{mutant.index}"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MODEL_FILE).write_bytes(mutant.model)
    for name, data in (mutant.files or {}).items():
        (model_dir / name).write_bytes(data)
    return model_dir


def summary(report: Report) -> str:
    counts = report.counts()
    return (f"{counts['tried']} mutants in {counts['seconds']} s: {counts['rejected_with_error']} rejected with an "
            f"error, {counts['accepted_and_verified_bit_exact']} accepted and verified bit-exact against TFLM, "
            f"{counts['failures']} failures ({counts['tracebacks']} tracebacks, {counts['hangs']} hangs, "
            f"{counts['wrong_but_accepted']} wrong but accepted); TFLM also rejects "
            f"{counts['rejected_tflm_also_rejects']} of the {counts['rejected_tflm_checked']} rejected mutants it ran")


def as_dict(mutant: Mutant) -> dict:
    return {k: v for k, v in dataclasses.asdict(mutant).items() if k not in ("model", "files")}


def campaign(count: int, number: int, workers: int, work: Path, cache_root: Path = ROOT / "build" / ".cache",
             progress=None) -> Report:
    """Runs mutants 0..count-1 of campaign `number` (compiled objects cached under cache_root)."""
    seeds = load_seeds(cache_root)
    settings = Settings(campaign=number, work=work, cache=cache_root / "mutation-c")
    return Campaign(seeds, settings, workers=workers).run(count, progress)


def report_dict(report: Report, number: int) -> dict:
    return {"campaign": number, "counts": report.counts(), "summary": summary(report),
            "failures": report.failures}


def main(argv: list[str] | None = None) -> int:
    """`python tests/mutants.py --count N --campaign K --json out.json`: a campaign in a fresh
    process (the test runs it so, away from the TensorFlow threads of a pytest process)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--campaign", type=int, default=0)
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 1))
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp folder, removed)")
    parser.add_argument("--json", type=Path, help="write the counts and failures here")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="textclf-mutants-") as scratch:
        work = args.work or Path(scratch)

        def progress(result: dict) -> None:
            if result["verdict"] == "failure":
                print(f"FAILURE {result['mutant']} ({result['detail'][:120]}): "
                      f"{result['failure'][:400]}", flush=True)

        report = campaign(args.count, args.campaign, args.workers, work, progress=progress)
    figures = report_dict(report, args.campaign)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n")
    print(figures["summary"])
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(TESTS))
    raise SystemExit(main())

