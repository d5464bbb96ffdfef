"""Untrusted input (issue 9): one regression test, or a family of them, per defect class of the
hostile-input probe. A model directory, a .tflite, a config or a flag may be damaged or hostile:
the toolchain answers with one `error:` line and exit code 2, never a traceback or a hang, writes
nothing half-way, and never emits C that differs from TFLite Micro or that a model's text can
inject code into.

Most cases run the real command line in this process (toolchain.cli.main, as `textclf` runs it);
the hang, kill and size cases run it as a child process. The seeded mutation campaign over
thousands of damaged files is tests/test_mutation.py.
"""
import contextlib
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from conftest import CACHE, ROOT

from toolchain import atomic, cbuild, cli, compression, flatbuffer
from toolchain.emit.graph_compiler import compile_graph
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import schema

DEFAULT = ROOT / "models" / "default"
MODEL_FILES = ("vocab.txt", "tokenizer.json", "goldens.json", "metrics.json")
# The default model in its plain INT8 form (it ships its embedding LUT-compressed; damaged LUTs are
# tests/test_compressed.py's): the same logits, one operator per layer, no DECODE in front.
PLAIN_MODEL = compression.decompress_model((DEFAULT / "student_int8.tflite").read_bytes())


def _layout(model_bytes: bytes) -> tuple[dict[str, list[int]], list]:
    model = flatbuffer.parse_model(model_bytes)
    indices: dict[str, list[int]] = {}
    for index, op in enumerate(model.subgraph.operators):
        indices.setdefault(flatbuffer.op_name(model.model, op), []).append(index)
    return indices, list(model.subgraph.operators)


# The operators (GATHER, RESHAPE, CONV_2D, RESHAPE, REDUCE_MAX, MEAN, CONCATENATION,
# FULLY_CONNECTED x2) and tensors the tests edit the model through, found in the model.
_OPS, _OPERATORS = _layout(PLAIN_MODEL)
GATHER, RESHAPE, CONV, REDUCE_MAX, CONCAT = (_OPS[name][0] for name in
                                             ("GATHER", "RESHAPE", "CONV_2D", "REDUCE_MAX", "CONCATENATION"))
FC, FC_LOGITS = _OPS["FULLY_CONNECTED"]
CONV_INPUT, CONV_WEIGHTS = (int(i) for i in _OPERATORS[CONV].inputs[:2])
CONV_OUTPUT = int(_OPERATORS[CONV].outputs[0])
FC_HIDDEN_OUTPUT, LOGITS = int(_OPERATORS[FC].outputs[0]), int(_OPERATORS[FC_LOGITS].outputs[0])


# ------------------------------------------------------------------------------------ helpers


def run(*argv) -> tuple[int, str, str]:
    """`textclf ARGV` in this process: (exit code, stdout, stderr). An exception escaping main()
    fails the test with its traceback, which is the defect these tests are about."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def refused(*argv, expect: str = "") -> str:
    """Runs a command that must fail cleanly; returns its one error line."""
    code, _, err = run(*argv)
    lines = err.splitlines()
    assert code == 2, f"exit {code}, stderr {err!r}"
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expect in lines[0], lines[0]
    return lines[0]


def model_dir(tmp_path: Path, name: str = "m") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    for file in MODEL_FILES:
        shutil.copy(DEFAULT / file, folder / file)
    (folder / "student_int8.tflite").write_bytes(PLAIN_MODEL)
    return folder


def edit_model(folder: Path, edit) -> Path:
    """Edits the directory's .tflite through the schema's object API and packs it again."""
    path = folder / "student_int8.tflite"
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def edit_json(folder: Path, name: str, edit) -> None:
    value = json.loads((folder / name).read_text(encoding="utf-8"))
    value = edit(value) or value
    (folder / name).write_text(json.dumps(value), encoding="utf-8")


def export_refused(tmp_path: Path, folder: Path, expect: str = "") -> str:
    out = tmp_path / "out"
    line = refused("export", "--model", folder, "--out", out, "--no-verify", expect=expect)
    assert not out.exists() or not any(out.iterdir()), "a refused export left files behind"
    return line


def ops(model):
    return model.subgraphs[0].operators


def tensors(model):
    return model.subgraphs[0].tensors


def set_options(op, options) -> None:
    op.builtinOptions = options
    op.builtinOptionsType = 0 if options is None else getattr(schema.BuiltinOptions, type(options).__name__[:-1])


@pytest.fixture(scope="module")
def seeds():
    """The op models of the mutation test (built once with TensorFlow, cached under build/.cache)."""
    import mutants

    return {seed.name: seed for seed in mutants.load_seeds(CACHE)}


@pytest.fixture(scope="module")
def tflm_runner():
    import mutants

    runner = mutants.TflmRunner(timeout=120)
    yield runner
    runner.close()


def tflm_verdict(runner, model_bytes: bytes) -> str:
    """TFLite Micro on the model (all-zero inputs), in a child process: ok / rejected / crashed."""
    model = flatbuffer.parse_model(model_bytes)
    inputs = [np.zeros(flatbuffer.ints(model.subgraph.tensors[i].shape),
                       flatbuffer.numpy_dtype(model.subgraph.tensors[i].type)) for i in model.subgraph.inputs]
    verdict, _ = runner.run(model_bytes, [inputs], 4 << 20, len(model.subgraph.outputs))
    return verdict


def repack(data: bytes, edit) -> bytes:
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# ---------------------------------------------------------------- 1. the RESHAPE that reads itself


def test_1_reshape_writing_its_own_input_is_refused_not_a_hang(tmp_path):
    folder = model_dir(tmp_path)

    def self_loop(model):
        ops(model)[RESHAPE].outputs = [int(ops(model)[RESHAPE].inputs[0])]

    path = edit_model(folder, self_loop)
    for argv in (["inspect", "--no-arena", path], ["export", "--model", folder, "--out", tmp_path / "out"]):
        result = subprocess.run([sys.executable, "-m", "toolchain", *map(str, argv)], cwd=ROOT, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert f"writes tensor {int(_OPERATORS[RESHAPE].inputs[0])}" in result.stderr
    with pytest.raises(ToolchainError, match="already written"):
        compile_graph(flatbuffer.read_model(path))


# --------------------------------------------------------------------- 2. tracebacks -> error lines


def _no_inputs(model):
    ops(model)[RESHAPE].inputs = None


def _no_outputs(model):
    ops(model)[RESHAPE].outputs = None


def _graph_inputs_none(model):
    model.subgraphs[0].inputs = None


def _graph_inputs_empty(model):
    model.subgraphs[0].inputs = []


def _stride_zero(model):
    ops(model)[CONV].builtinOptions.strideW = 0


def _no_conv_options(model):
    set_options(ops(model)[CONV], None)


def _scale(value):
    def edit(model):
        tensors(model)[CONV_OUTPUT].quantization.scale = [value]
    return edit


def _fc_output_empty(model):
    tensors(model)[LOGITS].shape = [0]


def _fc_hidden_output_empty(model):
    tensors(model)[FC_HIDDEN_OUTPUT].shape = [1, 0]


def _opcode_changed(model):
    ops(model)[FC].opcodeIndex = ops(model)[CONV].opcodeIndex  # a FULLY_CONNECTED now reads as CONV_2D


def _options_of_another_op(model):
    fc, gather = ops(model)[FC], ops(model)[GATHER]
    fc.builtinOptions, fc.builtinOptionsType = gather.builtinOptions, gather.builtinOptionsType


def _gather_with_concat_options(model):
    gather, concat = ops(model)[GATHER], ops(model)[CONCAT]
    gather.builtinOptions, gather.builtinOptionsType = concat.builtinOptions, concat.builtinOptionsType


MODEL_DAMAGE = {
    "operator without inputs": (_no_inputs, "0 inputs; TFLM's RESHAPE takes 1 or 2"),
    "operator without outputs": (_no_outputs, "has no outputs"),
    "subgraph without inputs": (_graph_inputs_none, "no inputs"),
    "subgraph with empty inputs": (_graph_inputs_empty, "no inputs"),
    "stride 0": (_stride_zero, "stride 0 is out of range"),
    "missing conv options": (_no_conv_options, "no options"),
    "scale NaN": (_scale(math.nan), "scale nan"),
    "scale inf": (_scale(math.inf), "scale inf"),
    "scale 0": (_scale(0.0), "scale 0.0"),
    "FC output shape [0]": (_fc_output_empty, "int8 logits"),
    "FC output shape [1, 0]": (_fc_hidden_output_empty, "the output is empty"),
    "opcode changed under its options": (_opcode_changed, "carries FullyConnectedOptions, not Conv2DOptions"),
    "options of another operator": (_options_of_another_op, "carries GatherOptions, not FullyConnectedOptions"),
    "gather with concatenation options": (_gather_with_concat_options, "not GatherOptions"),
}


@pytest.mark.parametrize("damage", list(MODEL_DAMAGE))
def test_2_damaged_model_is_one_error_line_for_inspect_and_export(damage, tmp_path):
    edit, expected = MODEL_DAMAGE[damage]
    folder = model_dir(tmp_path)
    path = edit_model(folder, edit)
    code, _, err = run("inspect", "--no-arena", path)  # inspect describes what it can read, or refuses
    assert code in (0, 2) and (code == 0 or (err.startswith("error: ") and err.count("\n") == 1)), err
    export_refused(tmp_path, folder, expected)


def test_2_inspect_of_operators_without_vectors_and_subgraph_without_inputs(tmp_path):
    """model_info used to iterate operators' and subgraphs' vectors that a model may omit."""
    for edit, expected in ((_no_outputs, "has no outputs"), (_graph_inputs_none, "the graph has no inputs"),
                           (_graph_inputs_empty, "the graph has no inputs")):
        folder = model_dir(tmp_path / edit.__name__)
        refused("inspect", "--no-arena", edit_model(folder, edit), expect=expected)
    folder = model_dir(tmp_path / "no_inputs_vector")
    code, out, _ = run("inspect", "--no-arena", edit_model(folder, _no_inputs))
    assert code == 0 and "RESHAPE" in out  # described; TFLM's arena search would refuse it


def _tokenizer(edit):
    return lambda folder: edit_json(folder, "tokenizer.json", edit)


def _goldens(edit):
    return lambda folder: edit_json(folder, "goldens.json", edit)


def _write(name: str, data: bytes):
    return lambda folder: (folder / name).write_bytes(data)


def _truncate(name: str, keep: int):
    return lambda folder: (folder / name).write_bytes((folder / name).read_bytes()[:keep])


SIDE_DAMAGE = {
    "tokenizer.json empty": (_write("tokenizer.json", b""), "invalid JSON"),
    "tokenizer.json invalid": (_write("tokenizer.json", b"{nope"), "invalid JSON"),
    "tokenizer.json truncated": (_truncate("tokenizer.json", 1000), "invalid JSON"),
    "tokenizer.json BPE model": (_tokenizer(lambda t: t["model"].update(type="BPE")), "not WordPiece"),
    "tokenizer.json null truncation": (_tokenizer(lambda t: t.update(truncation=None)), "truncation and padding"),
    "tokenizer.json null padding": (_tokenizer(lambda t: t.update(padding=None)), "truncation and padding"),
    "tokenizer.json pre-tokenizer a string": (_tokenizer(lambda t: t.update(pre_tokenizer="x")), "pre-tokenizer"),
    "tokenizer.json added tokens": (_tokenizer(lambda t: t.update(added_tokens="x")), "added_tokens"),
    "tokenizer.json no post-processor": (_tokenizer(lambda t: t.update(post_processor=None)), "[CLS] text [SEP]"),
    "tokenizer.json decoder the library rejects": (_tokenizer(lambda t: t.update(decoder=5)),
                                                   "tokenizers library cannot load it"),
    "goldens.json empty": (_write("goldens.json", b""), "invalid JSON"),
    "goldens.json missing keys": (_write("goldens.json", b"{}"), "'labels' and 'vectors'"),
    "goldens.json text not a string": (_goldens(lambda g: g["vectors"][0].update(text=5)), "needs a string 'text'"),
    "goldens.json lone surrogate": (_goldens(lambda g: g["vectors"][0].update(text="\ud800")), "lone surrogate"),
    "goldens.json vectors not a list": (_goldens(lambda g: g.update(vectors={})), "'labels' and 'vectors'"),
    "goldens.json without vectors": (_goldens(lambda g: g.update(vectors=[])), "no golden vectors"),
    "metrics.json without verify": (lambda f: edit_json(f, "metrics.json", lambda m: m.pop("verify")),
                                    "verify.arena_bytes"),
    "metrics.json verify a list": (lambda f: edit_json(f, "metrics.json", lambda m: m.update(verify=[1])),
                                   "verify.arena_bytes"),
    "metrics.json arena not a number": (lambda f: edit_json(f, "metrics.json",
                                                            lambda m: m["verify"].update(arena_bytes="big")),
                                        "verify.arena_bytes 'big'"),
    "vocab.txt not UTF-8": (_write("vocab.txt", b"\xff\xfe[PAD]\n"), "not UTF-8"),
    "vocab.txt CR line ends": (lambda f: (f / "vocab.txt").write_bytes((f / "vocab.txt").read_bytes()
                                                                      .replace(b"\n", b"\r")), "CR line ends"),
}


@pytest.mark.parametrize("damage", list(SIDE_DAMAGE))
def test_2_damaged_side_file_is_one_error_line(damage, tmp_path):
    apply, expected = SIDE_DAMAGE[damage]
    folder = model_dir(tmp_path)
    apply(folder)
    export_refused(tmp_path, folder, expected)


@pytest.mark.parametrize("flag, value, expected", [
    ("--embedding-dim", "0", "student.embedding_dim"),
    ("--hidden-dim", "0", "student.hidden_dim"),
    ("--teacher-epochs", "nan", "not a finite number"),
])
def test_2_bad_numeric_flags_are_one_error_line(flag, value, expected, tmp_path):
    refused("build", "--build-dir", tmp_path / "b", "--models-dir", tmp_path / "m", flag, value, expect=expected)
    assert not (tmp_path / "b").exists()


def test_2_build_dir_that_is_a_file_or_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("x")
    refused("data", "--build-dir", tmp_path / "file", "--models-dir", tmp_path / "m", expect="is a file")
    refused("data", "--build-dir", tmp_path / "file" / "sub", "--models-dir", tmp_path / "m",
            expect="cannot be created")


def test_2_export_out_folders_that_are_files_or_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("x")
    for flags, expect in (
        (["--out", tmp_path / "file"], "--out"),
        (["--out", tmp_path / "o", "--runtime-out", tmp_path / "file"], "--runtime-out"),
        (["--out", tmp_path / "file" / "sub"], "cannot be created"),
        (["--out", tmp_path / "o", "--runtime-out", tmp_path / "file" / "sub"], "cannot be created"),
    ):
        started = time.monotonic()
        refused("export", "--model", DEFAULT, *flags, expect=expect)
        assert time.monotonic() - started < 30, "the folders are checked before anything is generated"
    assert not (tmp_path / "o").exists()


def test_2_export_write_failure_is_one_error_line(tmp_path):
    """A folder that vanishes or cannot be written while writing: an error line, no traceback."""
    refused("export", "--model", DEFAULT, "--out", "/proc/textclf-cannot-exist", "--no-verify",
            expect="/proc/textclf-cannot-exist")


def test_2_empty_subgraph_inputs_reach_no_template(tmp_path):
    """A graph without inputs once reached graph.h.j2 (`graph.inputs[0]`: a Jinja UndefinedError)."""
    path = edit_model(model_dir(tmp_path), _graph_inputs_empty)
    with pytest.raises(ToolchainError, match="no inputs"):
        compile_graph(flatbuffer.read_model(path))


# ----------------------------------------------------- 3. what TFLite Micro refuses, export refuses


def _conv_extra_inputs(model):
    ops(model)[CONV].inputs = list(ops(model)[CONV].inputs) + [CONV_WEIGHTS] * 3


def _weights_lost_data(model):
    model.buffers[tensors(model)[CONV_WEIGHTS].buffer].data = None


def _reverse(model):
    model.subgraphs[0].operators = ops(model)[::-1]


def _conv_option(name, value):
    def edit(model):
        setattr(ops(model)[CONV].builtinOptions, name, value)
    return edit


def _conv_input_scale(model):
    tensors(model)[CONV_INPUT].quantization.scale = [1e30]


def _bias_type(model):
    ops(model)[FC].builtinOptions.quantizedBiasType = -1


def _variant_shape_tensor(model):
    tensors(model)[int(ops(model)[RESHAPE].inputs[1])].type = schema.TensorType.VARIANT


MUST_REFUSE = {
    "CONV_2D with three extra inputs": (_conv_extra_inputs, "takes at most 3"),
    "weights whose buffer lost its data": (_weights_lost_data, "before any operator writes it"),
    "operators in reverse order": (_reverse, "before any operator writes it"),
    "stride 0": (_conv_option("strideH", 0), "stride 0"),
    "stride -1": (_conv_option("strideW", -1), "stride -1"),
    "dilation 0": (_conv_option("dilationWFactor", 0), "dilation 0"),
    "dilation -1": (_conv_option("dilationHFactor", -1), "dilation -1"),
    "dilation 2^30 (signed overflow in the kernel)": (_conv_option("dilationWFactor", 1 << 30), "dilation 1073741824"),
    "dilation 65535 (TFLM keeps it in int16: -1)": (_conv_option("dilationWFactor", 65535), "TFLM's int16"),
    "scale 1e30 (shift exponent 101)": (_conv_input_scale, "needs a shift of"),
    "unknown quantized bias type": (_bias_type, "quantized bias type -1"),
    "a tensor of a type TFLM cannot hold (the RESHAPE's shape, unread by the C)": (
        _variant_shape_tensor, "VARIANT, a type TFLite Micro cannot hold"),
}


@pytest.mark.parametrize("damage", list(MUST_REFUSE))
def test_3_models_tflm_or_the_kernels_cannot_run_are_refused(damage, tmp_path, tflm_runner):
    edit, expected = MUST_REFUSE[damage]
    folder = model_dir(tmp_path)
    path = edit_model(folder, edit)
    export_refused(tmp_path, folder, expected)
    if damage.startswith(("CONV_2D with", "unknown", "a tensor of a type")):
        # TFLite Micro's Prepare refuses these too. The others it runs, on memory nothing wrote,
        # with a stride or dilation of 0 or -1, or overflowing int32: undefined results.
        assert tflm_verdict(tflm_runner, path.read_bytes()) != "ok"


def test_3_rescaling_factors_the_kernels_cannot_shift_are_refused():
    from toolchain.emit.quantization import quantize_multiplier

    for bad in (math.nan, math.inf, -math.inf, -1.0, 1e30, 2.0**31):
        with pytest.raises(ToolchainError):
            quantize_multiplier(bad, "test")
    assert quantize_multiplier(1e-30, "test") == (0, 0)  # below 2^-31: zero, as TFLM's QuantizeMultiplier
    assert quantize_multiplier(0.5, "test") == (1 << 30, 0)


def _tanh_with_two_inputs(model):
    tanh = _first_op(model, "TANH")
    tanh.inputs = [int(tanh.inputs[0])] * 2


OP_MODEL_CASES = {
    # (seed, edit, what the compiler says); each found by the mutation campaign, each refused by TFLM.
    "TANH with two inputs": ("unary_model", None, "takes 1"),
    "STRIDED_SLICE output shape not the slice's": (
        "shape_ops_model", lambda m: _first_op_output(m, "STRIDED_SLICE", lambda s: [1] + s), "not the slice's shape"),
    "SQUEEZE output shape": ("renaming_model", lambda m: _first_op_output(m, "SQUEEZE", lambda s: [1] + s),
                             "should be"),
    "BATCH_MATMUL output of lower rank": (
        "matmul_transpose_model", lambda m: _first_op_output(m, "BATCH_MATMUL", lambda s: s[1:]), "fewer dimensions"),
    "GATHER constant index outside the table": ("gather_model", lambda m: _gather_constant(m, -1), "outside the table"),
    "FULLY_CONNECTED quantized bias type unknown": (
        "fully_connected_model", lambda m: setattr(_first_op(m, "FULLY_CONNECTED").builtinOptions,
                                                   "quantizedBiasType", -1), "quantized bias type"),
}


def _first_op(model, name):
    return next(op for op in ops(model) if flatbuffer.BUILTIN_OP_NAMES.get(
        max(model.operatorCodes[op.opcodeIndex].builtinCode, model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode))
        == name)


def _first_op_output(model, name, reshape):
    tensor = tensors(model)[int(_first_op(model, name).outputs[0])]
    tensor.shape = reshape([int(d) for d in tensor.shape])


def _gather_constant(model, value):
    for op in ops(model):
        indices = tensors(model)[int(op.inputs[1])] if op.inputs is not None and len(op.inputs) > 1 else None
        if indices is not None and model.buffers[indices.buffer].data is not None and len(
                model.buffers[indices.buffer].data) and flatbuffer.BUILTIN_OP_NAMES.get(
                model.operatorCodes[op.opcodeIndex].builtinCode) == "GATHER":
            values = np.frombuffer(np.asarray(model.buffers[indices.buffer].data, np.uint8).tobytes(), np.int32).copy()
            values[0] = value
            model.buffers[indices.buffer].data = np.frombuffer(values.tobytes(), np.uint8)
            return
    raise AssertionError("no GATHER with constant indices")


@pytest.mark.parametrize("case", list(OP_MODEL_CASES))
def test_3_prepare_rules_of_tflm_found_by_the_mutation_campaign(case, seeds, tflm_runner):
    seed, edit, expected = OP_MODEL_CASES[case]
    data = repack(seeds[seed].model, edit or _tanh_with_two_inputs)
    with pytest.raises(ToolchainError, match=expected):
        compile_graph(flatbuffer.parse_model(data))
    assert tflm_verdict(tflm_runner, data) != "ok"


def test_3_gather_whose_output_shape_is_not_tflms_is_refused(seeds):
    """TFLM's Prepare rewrites a GATHER's output shape; with the model saying another one (indices
    [5] made [1, 5]), the mutation campaign saw TFLM give other values than for the same model
    with the right shape. The compiler refuses such a model."""
    def edit(model):
        for op in ops(model):
            indices = tensors(model)[int(op.inputs[1])]
            if flatbuffer.BUILTIN_OP_NAMES.get(model.operatorCodes[op.opcodeIndex].builtinCode) == "GATHER" and len(
                    model.buffers[indices.buffer].data if model.buffers[indices.buffer].data is not None else []):
                indices.shape = [1] + [int(d) for d in indices.shape]
                return
        raise AssertionError("no GATHER with constant indices")

    with pytest.raises(ToolchainError, match="output shape is not the table's"):
        compile_graph(flatbuffer.parse_model(repack(seeds["gather_model"].model, edit)))


def test_3_softmax_whose_output_shape_differs_is_refused(seeds):
    """TFLM walks the input's shape and gives undefined values when the output's differs (seen:
    different results run to run); the compiler refuses the model."""
    def edit(model):
        op = _first_op(model, "SOFTMAX")
        tensor = tensors(model)[int(op.inputs[0])]
        shape = [int(d) for d in tensor.shape]
        tensor.shape = shape[:-1] + [1] + shape[-1:]

    with pytest.raises(ToolchainError, match="input and output shapes differ"):
        compile_graph(flatbuffer.parse_model(repack(seeds["softmax_model"].model, edit)))


# -------------------------------------------------------------------- 4. untrusted text reaching C

HOSTILE_NAME = "*/ int injected_by_name = 1; /* \" \\ ??= \x00 \u202e"
HOSTILE_LABELS = ["0}; int injected_by_label[] = {0", "\"; char *injected_by_quote = \"\\"]


def test_4_model_text_cannot_inject_code(tmp_path):
    """A tensor name with `*/`, a folder named `m*`, labels holding C: the export compiles (its
    self-check, -Werror) and the objects define none of the injected symbols; the labels come
    back from the C library byte for byte."""
    folder = model_dir(tmp_path, "m*")

    def hostile(model):
        for tensor in tensors(model):
            tensor.name = HOSTILE_NAME.encode("utf-8")
        model.description = HOSTILE_NAME.encode("utf-8")

    edit_model(folder, hostile)
    edit_json(folder, "goldens.json", lambda g: g.update(labels=HOSTILE_LABELS))
    out = tmp_path / "out"
    code, _, err = run("export", "--model", folder, "--out", out, "--prefix", "hostile")  # self-check on
    assert code == 0, err
    sources = out / "hostile" / "src"
    for path in sources.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "m*/" not in text and "*/ int" not in text, path
    build = cbuild.Build(include_dirs=[out / "textclf" / "src", sources])
    objects = build.objects(cbuild.c_sources(sources), tmp_path / "objects")
    symbols = cbuild.run_tool(["nm", *map(str, objects)])
    assert "injected" not in symbols
    labels_main = tmp_path / "labels.c"
    labels_main.write_text('#include <stdio.h>\n#include "hostile.h"\nint main(void) {\n'
                           '    for (int i = 0; i < HOSTILE_NUM_LABELS; ++i) printf("%s\\n", hostile_label(i));\n'
                           "    return 0;\n}\n")
    runtime = cbuild.Build(include_dirs=[out / "textclf" / "src"]).objects(
        cbuild.c_sources(out / "textclf" / "src"), tmp_path / "runtime")
    program = build.program([labels_main], tmp_path / "labels", objects=[*objects, *runtime])
    assert cbuild.run(program).stdout.decode("utf-8").splitlines() == HOSTILE_LABELS


@pytest.mark.parametrize("edit, expected", [
    (lambda g: g["vectors"][0]["ids"].__setitem__(0, 7600), "'ids' must be 64 ids in 0..7599"),
    (lambda g: g["vectors"][0]["ids"].__setitem__(3, -1), "'ids' must be"),
    (lambda g: g["vectors"][0]["logits"].__setitem__(0, 128), "int8 values"),
    (lambda g: g["vectors"][0]["logits"].__setitem__(1, -129), "int8 values"),
    (lambda g: g["vectors"][0].update(label=2), "'label' must be a label index"),
    (lambda g: g["vectors"][0].update(label=True), "'label' must be a label index"),
])
def test_4_numbers_in_goldens_are_range_checked(edit, expected, tmp_path):
    folder = model_dir(tmp_path)
    edit_json(folder, "goldens.json", edit)
    export_refused(tmp_path, folder, expected)


def test_4_zero_point_outside_int8_is_refused(tmp_path):
    folder = model_dir(tmp_path)

    def edit(model):
        tensors(model)[CONV_OUTPUT].quantization.zeroPoint = [200]

    edit_model(folder, edit)
    export_refused(tmp_path, folder, "does not fit int8_t")


def test_4_escaping_filters_cannot_be_broken():
    from toolchain.emit.render import c_comment, c_string

    rng = random.Random(4)
    pieces = ["*/", "/*", "\\", '"', "??", "?", "\n", "\r", "\x00", "\u2028", "\ud800", "é", "*", "/"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
        comment = c_comment(text)
        assert "*/" not in comment and "/*" not in comment and "??" not in comment and "\n" not in comment
        literal = c_string(text)
        body = literal[1:-1]
        assert literal[0] == literal[-1] == '"' and all(0x20 <= ord(c) < 0x7F for c in literal)
        assert "??" not in body
        # Outside escapes, no bare quote can end the literal early.
        index = 0
        while index < len(body):
            if body[index] == "\\":
                index += 4 if body[index + 1].isdigit() else 2
                continue
            assert body[index] != '"'
            index += 1


# ------------------------------------------------------ 5. side files checked against each other


def _vocab_lines(folder):
    return (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]


def _set_vocab(folder, lines, tokenizer_too=False):
    (folder / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if tokenizer_too:
        edit_json(folder, "tokenizer.json", lambda t: t["model"].update(vocab={p: i for i, p in enumerate(lines)}))


@pytest.mark.parametrize("case, change, expected", [
    ("vocab.txt truncated to half", lambda f: _set_vocab(f, _vocab_lines(f)[:3800]), "different vocabularies"),
    ("vocab.txt only the special pieces", lambda f: _set_vocab(f, _vocab_lines(f)[:5]), "different vocabularies"),
    ("vocab.txt with 77,600 pieces", lambda f: _set_vocab(f, _vocab_lines(f) + [f"zz{i:05d}" for i in range(70000)]),
     "different vocabularies"),
    ("tokenizer.json with another vocabulary", lambda f: edit_json(
        f, "tokenizer.json", lambda t: t["model"]["vocab"].update(zzz=7600)), "different vocabularies"),
    ("both truncated to half: the GATHER table disagrees", lambda f: _set_vocab(f, _vocab_lines(f)[:3800], True),
     "embedding table has 7600 rows but the vocabulary 3800"),
    ("both grown: the GATHER table disagrees", lambda f: _set_vocab(  # (pieces that sort last)
        f, _vocab_lines(f) + [f"##\U0010ffff{i:03d}" for i in range(100)], True), "7600 rows but the vocabulary 7700"),
    ("integer labels", lambda f: edit_json(f, "goldens.json", lambda g: g.update(labels=[0, 1])),
     "is not a non-empty string"),
    ("empty label", lambda f: edit_json(f, "goldens.json", lambda g: g.update(labels=["", "x"])),
     "is not a non-empty string"),
    ("arena 0", lambda f: edit_json(f, "metrics.json", lambda m: m["verify"].update(arena_bytes=0)), "arena_bytes 0"),
    ("arena negative", lambda f: edit_json(f, "metrics.json", lambda m: m["verify"].update(arena_bytes=-1)),
     "arena_bytes -1"),
    ("arena 1e30", lambda f: edit_json(f, "metrics.json", lambda m: m["verify"].update(arena_bytes=10**30)),
     "is not a positive arena size"),
    ("arena true", lambda f: edit_json(f, "metrics.json", lambda m: m["verify"].update(arena_bytes=True)),
     "arena_bytes True"),
])
def test_5_side_files_that_disagree_are_refused(case, change, expected, tmp_path):
    folder = model_dir(tmp_path)
    change(folder)
    export_refused(tmp_path, folder, expected)


def test_5_changed_golden_logit_is_caught_by_the_self_check(tmp_path):
    """A golden that is not what the C computes: export's self-check (on by default) refuses."""
    folder = model_dir(tmp_path)
    edit_json(folder, "goldens.json", lambda g: g["vectors"][0]["logits"].__setitem__(
        0, g["vectors"][0]["logits"][0] + (1 if g["vectors"][0]["logits"][0] < 127 else -1)))
    refused("export", "--model", folder, "--out", tmp_path / "out", expect="self-check failed")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- 6. data files

@pytest.mark.parametrize("name, content, expected", [
    ("mac.csv", b"text,label\rgood,pos\rbad,neg\r", "bare carriage return"),
    ("s.jsonl", b'{"text": "broken \\ud800 text", "label": "a"}\n', "lone UTF-16 surrogate"),
])
def test_6_data_defects_through_the_command_line(name, content, expected, tmp_path):
    """Defect class 6 was fixed in toolchain/readers.py (its unit tests, field limits included, are
    tests/test_data_readers.py); here through `textclf data` as a user meets it."""
    path = tmp_path / name
    path.write_bytes(content)
    refused("data", "--data", path, "--build-dir", tmp_path / "build", "--models-dir", tmp_path / "models",
            expect=expected)
    assert not [p for p in (tmp_path / "build").rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------------------------------------------- 7. config


@pytest.mark.parametrize("flags, toml, expected", [
    (["--arch", "nope"], None, "student.architecture 'nope'"),
    (["--vocab-size", "0"], None, "student.vocab_size"),
    (["--vocab-size", "-5"], None, "student.vocab_size"),
    ([], "[student]\nvocab_size = true\n", "student.vocab_size must be int, got a boolean"),
    (["--embedding-dim", "0"], None, "student.embedding_dim"),
    (["--seq-len", "100000"], None, "student.sequence_length must be between 4 and 512"),
    (["--epochs", "-1"], None, "student.epochs"),
    (["--epochs", "0", "--finetune-epochs", "0"], None, "would not be trained"),
    (["--max-examples", "-1"], None, "data.max_examples"),
    (["--max-transfer", "-1"], None, "data.max_transfer"),
    (["--augment-copies", "-1"], None, "data.augment_copies"),
    (["--golden-count", "-1"], None, "verify.golden_count"),
    (["--golden-count", "0"], None, "verify.golden_count must be between 1"),
    ([], "[convert]\ncalibration_examples = -1\n", "convert.calibration_examples"),
    (["--teacher-epochs", "inf"], None, "not a finite number"),
    (["--vocab-size", "abc"], None, "invalid int value: 'abc'"),
])
def test_7_config_is_validated_before_any_stage(flags, toml, expected, tmp_path):
    extra = []
    if toml is not None:
        (tmp_path / "c.toml").write_text(toml)
        extra = ["--config", tmp_path / "c.toml"]
    started = time.monotonic()
    line = refused("build", "--build-dir", tmp_path / "build", "--models-dir", tmp_path / "models", *flags, *extra,
                   expect=expected)
    assert "usage:" not in line
    assert time.monotonic() - started < 20
    assert not (tmp_path / "build").exists() and not (tmp_path / "models").exists()


# ---------------------------------------------------------------------------- 8. interruption


def _folder_state(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_8_export_killed_at_random_points_leaves_old_or_new_never_a_mix(tmp_path):
    """`textclf export` killed with SIGKILL many times while it writes: after the next run's
    cleanup (atomic.clean_stale, which finishes a journaled switch), the runtime and model folders
    are both the old export or both the new one, and no temp folder is left."""
    old_model, new_model = model_dir(tmp_path, "old"), model_dir(tmp_path, "new")
    edit_json(new_model, "goldens.json", lambda g: g.update(labels=["bad", "good"]))
    out = tmp_path / "out"
    base = [sys.executable, "-m", "toolchain", "export", "--prefix", "clf", "--out", str(out), "--no-verify"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([*base, "--model", str(new_model), "--format", "cmake"], check=True, env=env, capture_output=True)
    new_state = {name: _folder_state(out / name) for name in ("textclf", "clf")}
    subprocess.run([*base, "--model", str(old_model)], check=True, env=env, capture_output=True)
    old_state = {name: _folder_state(out / name) for name in ("textclf", "clf")}
    assert old_state["textclf"] != new_state["textclf"] and old_state["clf"] != new_state["clf"]
    rng = random.Random(8)
    outcomes = {"old": 0, "new": 0, "left behind": 0}
    for attempt in range(16):
        process = subprocess.Popen([*base, "--model", str(new_model), "--format", "cmake"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Wait until it starts writing (a temp folder appears), then kill it a little later.
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and not any(
                p.name.endswith(".tmp") for p in out.iterdir()):
            time.sleep(0.0005)
        time.sleep(rng.choice((0, 0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)))
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait()
        outcomes["left behind"] += any(p.name.startswith(".") for p in out.iterdir())  # killed mid-write
        atomic.clean_stale(out)  # what the next run does first
        state = {name: _folder_state(out / name) for name in ("textclf", "clf")}
        assert state in (old_state, new_state), f"attempt {attempt}: a mix of the old and the new export"
        assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "leftovers after cleanup"
        outcomes["old" if state == old_state else "new"] += 1
        if state == new_state:  # start over from the old export
            subprocess.run([*base, "--model", str(old_model)], check=True, env=env, capture_output=True)
    # Both sides of the switch were hit, and kills landed while the export was writing.
    assert outcomes["old"] and outcomes["new"] and outcomes["left behind"], outcomes


def test_8_a_stage_killed_while_writing_leaves_nothing_the_next_run_keeps(tmp_path):
    """`textclf data` killed with SIGKILL while it writes its stage: the next run removes the
    temp folder and builds the stage whole."""
    rows = [{"text": f"sentence number {i} is {'good' if i % 2 else 'bad'}", "label": "pos" if i % 2 else "neg"}
            for i in range(4000)]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "c.toml").write_text("[data]\ntransfer_corpora = []\naugment_copies = 0\n")
    command = [sys.executable, "-m", "toolchain", "data", "--config", str(tmp_path / "c.toml"), "--data", str(data),
               "--build-dir", str(tmp_path / "build"), "--models-dir", str(tmp_path / "models"), "--name", "k"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TEXTCLF_NO_PROGRESS="1")
    stage_parent = tmp_path / "build" / "k"
    killed_while_writing = 0
    for _ in range(5):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and not (
                stage_parent.is_dir() and any(p.name.endswith(".tmp") for p in stage_parent.iterdir())):
            time.sleep(0.0005)
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_while_writing += any(p.name.endswith(".tmp") for p in stage_parent.iterdir())
        shutil.rmtree(stage_parent / "data", ignore_errors=True)
    assert killed_while_writing, "no kill landed while the stage was being written"
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in stage_parent.iterdir()] == ["data"]
    assert (stage_parent / "data" / "stage.json").is_file()


def test_8_cleanup_leaves_a_running_process_temp_folder_alone(tmp_path):
    """Two runs in one folder: the second's cleanup must not delete the first's work in progress."""
    mine = atomic.temp_dir_beside(tmp_path / "data")
    dead = tmp_path / ".data.pid999999999.abc.tmp"
    dead.mkdir()
    atomic.clean_stale(tmp_path)
    assert mine.is_dir() and not dead.exists()


# ---------------------------------------------------------------------------- 9. permissions


def test_9_published_folders_are_0755_like_committed_ones(tmp_path):
    previous = os.umask(0o022)
    try:
        code, _, err = run("export", "--model", DEFAULT, "--out", tmp_path / "out", "--no-verify")
        assert code == 0, err
        with atomic.atomic_dir(tmp_path / "stage") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(previous)
    for folder in [tmp_path / "out" / "textclf", tmp_path / "out" / "default", tmp_path / "stage"]:
        assert folder.stat().st_mode & 0o777 == 0o755, folder


# -------------------------------------------------------------------------- 10. huge files


def test_10_inspect_refuses_a_huge_file_before_reading_it(tmp_path):
    huge = tmp_path / "huge.tflite"
    with open(huge, "wb") as handle:
        handle.write(b"\x1c\x00\x00\x00TFL3")
        handle.truncate(1 << 30)  # sparse: 1 GB on paper, nothing on disk
    started = time.monotonic()
    line = refused("inspect", "--no-arena", huge, expect="too large")
    assert time.monotonic() - started < 5, line
    not_tflite = tmp_path / "big.bin"
    with open(not_tflite, "wb") as handle:
        handle.write(b"\x00" * 8)
        handle.truncate(64 << 20)
    refused("inspect", "--no-arena", not_tflite, expect="file identifier")
    with pytest.raises(ToolchainError, match="too large"):
        flatbuffer.read_model(huge)


def test_10_export_reads_the_model_through_the_same_checks(tmp_path):
    folder = model_dir(tmp_path)
    with open(folder / "student_int8.tflite", "r+b") as handle:
        handle.truncate(1 << 30)
    export_refused(tmp_path, folder, "too large")
