"""LUT-compressed weights (TFLite Micro's DECODE format, toolchain/compression.py) run in place by
the compiled backend, against the real TFLite Micro interpreter running the compressed model.

Tiny full-int8 models hold every case as separate outputs (embedding tables 12, 7 and 32 wide;
dense layers with and without bias, a 3-D input; 1-D convolutions that take every path of the LUT
convolution: 4-channel blocks, blocks of 3 and 2, dilation, and filters too large for the block
buffer). Their GATHER tables, FULLY_CONNECTED weights or CONV_2D filters are compressed by
`compress_model` (clustered, then TFLite Micro's compressor) with every index width 1..7, one value
table per tensor or per channel, and the C kernels must give TFLM's outputs byte for byte: on the
host under ASan + UBSan, and on a Cortex-M4, a Cortex-M0 and an rv32imc core in QEMU. The reader's
refusals are checked on real compressed files damaged one field at a time.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import flatbuffers
import numpy as np
import op_models
import pytest

from toolchain import compression, flatbuffer
from toolchain.compression import TensorSpec
from toolchain.emit import graph_compiler
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import schema

RUNS = 200
TARGET_RUNS = 30
BITS = range(1, 8)
LUT_KERNELS = {"GATHER": "tc_gather_s8_lut", "FULLY_CONNECTED": "tc_fully_connected_s8_lut",
               "CONV_2D": "tc_conv_2d_s8_lut"}


# ------------------------------------------------------------------------------------- models


def lut_ops_model(per_channel: bool) -> bytes:
    """Embeddings, dense layers and 1-D convolutions side by side (one conversion for all)."""

    def body(keras, ids, x, y, z):
        table = keras.initializers.RandomNormal(0, 1)
        embedded = [keras.layers.Embedding(op_models.VOCAB, width, embeddings_initializer=table)(ids)
                    for width in (12, 7, 32)]
        dense = [op_models._dense(keras, 16, activation="relu")(x),
                 op_models._dense(keras, 10, use_bias=False)(x),
                 op_models._dense(keras, 9)(y)]
        same = op_models._conv(keras, 16, 3, padding="same", activation="relu")(z)  # blocks of 4
        convs = [
            same,
            op_models._conv(keras, 8, 4, padding="valid")(same),  # input depth 16
            op_models._conv(keras, 6, 2, padding="same")(z),  # blocks of 4 and 2
            op_models._conv(keras, 5, 3, padding="same", dilation_rate=2)(z),  # tap by tap
            op_models._conv(keras, 4, 9, padding="same")(z),  # 108-byte filters: blocks of 3
            op_models._conv(keras, 3, 33, padding="same")(z),  # 396-byte filters: window by window
        ]
        return embedded + dense + convs

    specs = [((1, 20), "ids", None), ((1, 24), -1.0, 1.0), ((1, 5, 12), -3.0, 2.0), ((1, 40, 12), -1.0, 1.0)]
    return op_models._build(specs, body, seed=31, per_channel=per_channel)


def shared_model() -> bytes:
    """One embedding layer on two id inputs (the converter writes two table tensors sharing one
    buffer) and one dense layer on two inputs (two FULLY_CONNECTED reading one weight tensor)."""

    def body(keras, ids_a, ids_b, x, y):
        embedding = keras.layers.Embedding(op_models.VOCAB, 16, embeddings_initializer=keras.initializers.RandomNormal(0, 1))
        dense = op_models._dense(keras, 8)
        return [embedding(ids_a), embedding(ids_b), dense(x), dense(y)]

    specs = [((1, 10), "ids", None), ((1, 12), "ids", None), ((1, 24), -1.0, 1.0), ((1, 24), -2.0, 2.0)]
    return op_models._build(specs, body, seed=32)


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(name: str) -> bytes:
        if name not in cache:
            cache[name] = {"per_channel": lambda: lut_ops_model(True), "per_tensor": lambda: lut_ops_model(False),
                           "classifier": op_models.conv_classifier, "shared": shared_model}[name]()
        return cache[name]

    return get


@pytest.fixture(scope="module")
def kernel_objects(tmp_path_factory):
    return op_models.compile_kernels(tmp_path_factory.mktemp("kernels-asan"), sanitize=True)


@pytest.fixture(scope="module")
def core_kernels(tmp_path_factory):
    cache = {}

    def objects(core: str):
        if core not in cache:
            cache[core] = op_models.compile_kernels(tmp_path_factory.mktemp(f"kernels-{core}"), core=core)
        return cache[core]

    return objects


def constant_inputs(model_bytes: bytes, op: str, position: int) -> list[int]:
    """The constant tensor each `op` of the model reads at input `position`, in operator order."""
    model = flatbuffer.parse_model(model_bytes)
    found = []
    for operator in model.subgraph.operators:
        if flatbuffer.op_name(model.model, operator) == op:
            tensor = int(operator.inputs[position])
            if model.buffer_data(model.subgraph.tensors[tensor]) is not None and tensor not in found:
                found.append(tensor)
    return found


def outputs_fed_by(model_bytes: bytes, op: str) -> list[int]:
    """The graph outputs an `op` feeds, directly or through other operators."""
    model = flatbuffer.parse_model(model_bytes)
    producer = {int(t): o for o in model.subgraph.operators for t in o.outputs}

    def depends(tensor: int) -> bool:
        operator = producer.get(tensor)
        if operator is None:
            return False
        return flatbuffer.op_name(model.model, operator) == op or any(depends(int(t)) for t in operator.inputs
                                                                        if t != -1)

    return [i for i, t in enumerate(model.subgraph.outputs) if depends(int(t))]


@dataclass(frozen=True)
class Case:
    name: str
    model: str  # "per_channel" or "per_tensor": how the model's weights were quantized
    op: str
    position: int  # the input the compressed constant is
    axis: int | None  # value tables: None = one per tensor, else one per slice along the axis


CASES = [
    Case("gather-one-table", "per_channel", "GATHER", 0, None),
    Case("gather-column-tables", "per_channel", "GATHER", 0, 1),
    Case("gather-row-tables", "per_channel", "GATHER", 0, 0),
    Case("fc-channel-tables", "per_channel", "FULLY_CONNECTED", 1, 0),
    Case("fc-one-table", "per_tensor", "FULLY_CONNECTED", 1, None),
    Case("fc-channel-tables-per-tensor-scale", "per_tensor", "FULLY_CONNECTED", 1, 0),
    Case("conv-channel-tables", "per_channel", "CONV_2D", 1, 0),
    Case("conv-one-table", "per_tensor", "CONV_2D", 1, None),
]


def specs_for(case: Case, model_bytes: bytes, widths) -> list[TensorSpec]:
    """One TensorSpec per constant the case's operator reads; tensor i gets widths(i)."""
    tensors = constant_inputs(model_bytes, case.op, case.position)
    assert len(tensors) >= 3, f"the model has too few {case.op} constants"
    return [TensorSpec(t, widths(i), case.axis) for i, t in enumerate(tensors)]


def select(outputs, indices):
    return [[case[i] for i in indices] for case in outputs]


def check_compressed_file(model_bytes: bytes, specs: list[TensorSpec], inputs) -> tuple[bytes, list]:
    """The compressed model, and TFLM's outputs on it after checking that the file decodes in
    TFLM exactly as the compressor meant: TFLM on it == TFLM on the clustered, uncompressed model
    (and the reader's decode == the clustered constants)."""
    compressed = compression.compress_model(model_bytes, specs)
    clustered = compression.cluster_model(model_bytes, specs)
    expected = op_models.tflm_outputs(compressed, inputs)
    assert not op_models.mismatches(op_models.tflm_outputs(clustered, inputs), expected)
    plain = flatbuffer.parse_model(clustered)
    luts = {lut.encoded_tensor: lut for lut in compression.read(flatbuffer.parse_model(compressed))}
    for spec in specs:
        assert np.array_equal(luts[spec.tensor].decode(), plain.constant(spec.tensor))
        assert luts[spec.tensor].bit_width == spec.bits
    return compressed, expected


# -------------------------------------------------------------------------- kernels vs TFLM


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lut_kernel_matches_tflm_on_the_host(case, bits, models, kernel_objects, tmp_path):
    model_bytes = models(case.model)
    specs = specs_for(case, model_bytes, lambda i: bits)
    inputs = op_models.random_inputs(model_bytes, RUNS, seed=bits)
    compressed, expected = check_compressed_file(model_bytes, specs, inputs)
    program = op_models.build_program(compressed, tmp_path, kernel_objects, sanitize=True)
    kernels = [op.kernel for op in program.graph.ops if op.op == case.op]
    assert kernels and set(kernels) == {LUT_KERNELS[case.op]}
    checked = outputs_fed_by(compressed, case.op)
    distinct = {b"".join(c[i].tobytes() for i in checked) for c in expected}
    assert len(distinct) > RUNS // 2, "the outputs barely vary: the comparison would prove little"
    problems = op_models.mismatches(expected, program.run(inputs))
    assert not problems, f"{len(problems)} mismatching outputs, e.g.\n" + "\n".join(problems[:5])


def mixed_widths(group: int):
    """Widths for three models whose tensors together take every width 1..7."""
    return lambda i: (3 * group + i) % 7 + 1


@pytest.mark.qemu
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0", "rv32imc"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lut_kernel_matches_tflm_on_the_core(case, core, models, core_kernels, tmp_path):
    model_bytes = models(case.model)
    widths = set()
    for group in range(3):
        specs = specs_for(case, model_bytes, mixed_widths(group))
        widths |= {s.bits for s in specs}
        inputs = op_models.random_inputs(model_bytes, TARGET_RUNS, seed=group)
        compressed, expected = check_compressed_file(model_bytes, specs, inputs)
        output = op_models.run_on_core(compressed, inputs, expected, tmp_path / str(group), core,
                                       core_kernels(core))
        assert output.strip() == f"0 of {TARGET_RUNS} cases differ", (group, output)
    assert widths == set(BITS)


# ------------------------------------------------------------------------ a whole classifier


def classifier_specs(model_bytes: bytes) -> list[TensorSpec]:
    """Everything compressible of op_models.conv_classifier (embedding, two convolutions, two dense
    layers): the embedding with one table, the rest per channel, and the hidden layer's int32 bias
    too (which no kernel reads in place: it is decoded at build time)."""
    table = constant_inputs(model_bytes, "GATHER", 0)
    filters = constant_inputs(model_bytes, "CONV_2D", 1)
    weights = constant_inputs(model_bytes, "FULLY_CONNECTED", 1)
    biases = constant_inputs(model_bytes, "FULLY_CONNECTED", 2)
    assert len(table) == 1 and len(filters) == 2 and len(weights) == 2 and len(biases) == 2
    return [TensorSpec(table[0], 3), TensorSpec(filters[0], 4, 0), TensorSpec(filters[1], 5, 0),
            TensorSpec(weights[0], 4, 0), TensorSpec(weights[1], 2, 0), TensorSpec(biases[0], 3, 0)]


@pytest.mark.parametrize("kernels", ["optimized", "reference"])
def test_compressed_classifier_matches_tflm(kernels, models, kernel_objects, tmp_path):
    model_bytes = models("classifier")
    inputs = op_models.random_inputs(model_bytes, 300, seed=5)
    compressed, expected = check_compressed_file(model_bytes, classifier_specs(model_bytes), inputs)
    program = op_models.build_program(compressed, tmp_path, kernel_objects, sanitize=True, kernels=kernels)
    used = {op.kernel for op in program.graph.ops}
    assert set(LUT_KERNELS.values()) <= used
    assert len({case[0].tobytes() for case in expected}) > 10, "the logits barely vary"
    problems = op_models.mismatches(expected, program.run(inputs))
    assert not problems, f"{len(problems)} mismatching outputs, e.g.\n" + "\n".join(problems[:5])
    # The decoded bias is an ordinary constant; the compressed tensors are index bytes + tables.
    plain = graph_compiler.compile_graph(flatbuffer.parse_model(model_bytes))
    assert program.graph.weight_bytes < plain.weight_bytes / 2


@pytest.mark.qemu
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0"])
def test_compressed_classifier_matches_tflm_on_the_core(core, models, core_kernels, tmp_path):
    model_bytes = models("classifier")
    inputs = op_models.random_inputs(model_bytes, TARGET_RUNS, seed=6)
    compressed, expected = check_compressed_file(model_bytes, classifier_specs(model_bytes), inputs)
    output = op_models.run_on_core(compressed, inputs, expected, tmp_path, core, core_kernels(core))
    assert output.strip() == f"0 of {TARGET_RUNS} cases differ"


def test_shared_weights_are_emitted_once(models, kernel_objects, tmp_path):
    """Two operators reading one compressed tensor (TFLM inserts a DECODE before each) and two
    tensors with one buffer: one copy of the index bytes and tables in the C, TFLM's outputs."""
    model_bytes = models("shared")
    tables = constant_inputs(model_bytes, "GATHER", 0)
    weights = constant_inputs(model_bytes, "FULLY_CONNECTED", 1)
    assert len(tables) == 2 and len(weights) == 1
    with pytest.raises(ToolchainError, match=r"shared with tensor .*; compress that one too") as error:
        compression.compress_model(model_bytes, [TensorSpec(tables[0], 3)])
    assert "\n" not in str(error.value)
    specs = [TensorSpec(tables[0], 3), TensorSpec(tables[1], 3), TensorSpec(weights[0], 4, 0)]
    inputs = op_models.random_inputs(model_bytes, RUNS, seed=8)
    compressed, expected = check_compressed_file(model_bytes, specs, inputs)
    luts = compression.read(flatbuffer.parse_model(compressed))
    assert len(luts) == 4 and len({lut.decode_op for lut in luts}) == 4
    program = op_models.build_program(compressed, tmp_path, kernel_objects, sanitize=True)
    source = (tmp_path / "model_graph.c").read_text()
    assert source.count("static const uint8_t tc_buffer_") == 2
    assert source.count("static const int8_t tc_buffer_") == 2
    assert {op.kernel for op in program.graph.ops} == {None, "tc_gather_s8_lut", "tc_fully_connected_s8_lut"}
    problems = op_models.mismatches(expected, program.run(inputs))
    assert not problems, f"{len(problems)} mismatching outputs, e.g.\n" + "\n".join(problems[:5])


def test_compressed_embedding_leaves_the_memory_plan_alone(models):
    """Only the embedding compressed: the same arena and offsets as the plain model (the table
    never enters RAM), and the weights shrink by what the indices save."""
    model_bytes = models("classifier")
    table = constant_inputs(model_bytes, "GATHER", 0)[0]
    compressed = compression.compress_model(model_bytes, [TensorSpec(table, 2)])
    plain = graph_compiler.compile_graph(flatbuffer.parse_model(model_bytes))
    graph = graph_compiler.compile_graph(flatbuffer.parse_model(compressed))
    assert graph.arena_bytes == plain.arena_bytes
    assert sorted(graph.tensor_offsets.values()) == sorted(plain.tensor_offsets.values())
    rows, width = flatbuffer.parse_model(model_bytes).constant(table).shape
    assert plain.weight_bytes - graph.weight_bytes == rows * width - (rows * width * 2 // 8 + 4)


def test_compressed_graph_is_deterministic(models):
    model_bytes = models("classifier")
    specs = classifier_specs(model_bytes)
    first = compression.compress_model(model_bytes, specs)
    assert compression.compress_model(model_bytes, specs) == first
    texts = [graph_compiler.compile_graph(flatbuffer.parse_model(first)).render("m", "m.tflite") for _ in range(2)]
    assert texts[0] == texts[1]


def test_decompressed_model_runs_like_the_compressed_one(models):
    model_bytes = models("classifier")
    compressed = compression.compress_model(model_bytes, classifier_specs(model_bytes))
    plain = compression.decompress_model(compressed)
    assert "CUSTOM:TFLM_DECODE" not in {flatbuffer.op_name(flatbuffer.parse_model(plain).model, op)
                                        for op in flatbuffer.parse_model(plain).subgraph.operators}
    inputs = op_models.random_inputs(model_bytes, 50, seed=7)
    assert not op_models.mismatches(op_models.tflm_outputs(compressed, inputs), op_models.tflm_outputs(plain, inputs))


# -------------------------------------------------------------------------------- clustering


def test_clustering_is_the_least_squares_optimum_with_the_zero_point_kept():
    """Against exhaustive search over every split of the sorted values into contiguous clusters
    (least squares clusters of 1-D data are contiguous)."""
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(3, 10))
        k = int(rng.integers(2, n))
        values = np.sort(rng.choice(np.arange(-30, 30), n, replace=False)).astype(np.int64)
        weights = rng.integers(1, 20, n)
        pinned = int(values[rng.integers(n)]) if trial % 2 else None
        levels = compression.cluster_levels(values, weights, k, pinned)
        assert len(np.unique(levels)) <= k and np.all(np.diff(levels) >= 0)
        if pinned is not None:
            assert levels[values == pinned][0] == pinned
        best = min(_clusters_cost(values, weights, pinned, [range(a, b) for a, b in zip((0, *cuts), (*cuts, n))])
                   for cuts in itertools.combinations(range(1, n), k - 1))
        found = _clusters_cost(values, weights, pinned, [np.flatnonzero(levels == level) for level in np.unique(levels)])
        assert found <= best + 1e-6


def _clusters_cost(values, weights, pinned, groups) -> float:
    """Weighted squared error of clusters around their means (around `pinned` for its cluster)."""
    total = 0.0
    for group in groups:
        v, w = values[group].astype(float), weights[group].astype(float)
        center = pinned if pinned in values[group] else (v * w).sum() / w.sum()
        total += float((w * (v - center) ** 2).sum())
    return total


def test_compress_model_keeps_the_zero_point_and_restates_the_quantization(models):
    model_bytes = models("per_channel")
    plain = flatbuffer.parse_model(model_bytes)
    table = next(t for t in constant_inputs(model_bytes, "GATHER", 0) if plain.constant(t).shape[1] == 32)
    zero_point = flatbuffer.quantization(plain.subgraph.tensors[table]).zero_points[0]
    compressed = flatbuffer.parse_model(compression.compress_model(model_bytes, [TensorSpec(table, 2, 1)]))
    lut = compression.read(compressed)[0]
    assert (lut.channels, lut.channel_axis, lut.table_stride) == (32, 1, 4)
    quant = flatbuffer.quantization(compressed.subgraph.tensors[lut.decoded_tensor])
    assert quant.axis == 1 and len(set(quant.scales)) == 1 and set(quant.zero_points) == {zero_point}
    original, decoded = plain.constant(table), lut.decode()
    assert np.all(decoded[original == zero_point] == zero_point)
    assert all(len(np.unique(decoded[:, c])) <= 4 for c in range(32))


@pytest.mark.parametrize("spec, message", [
    (TensorSpec("no such tensor", 3), "0 tensors have that name"),
    (TensorSpec(10**6, 3), "no such tensor"),
    (TensorSpec(None, 3), "by index or name"),
    ("bits 0", "bits must be 1 to 7"),
    ("bits 8", "bits must be 1 to 7"),
    ("activation", "not a constant"),
    ("middle axis", "the table axis must be None, 0 or the last axis"),
    ("per-channel weights, one table", "compress it per channel along axis 0"),
])
def test_compress_model_refuses_what_tflm_would_decode_otherwise(spec, message, models):
    model_bytes = models("per_channel")
    model = flatbuffer.parse_model(model_bytes)
    weights = constant_inputs(model_bytes, "FULLY_CONNECTED", 1)[0]
    table = constant_inputs(model_bytes, "GATHER", 0)[0]
    spec = {
        "bits 0": TensorSpec(table, 0), "bits 8": TensorSpec(table, 8),
        "activation": TensorSpec(int(model.subgraph.outputs[0]), 3),
        "middle axis": TensorSpec(next(t for t in constant_inputs(model_bytes, "CONV_2D", 1)), 3, 1),
        "per-channel weights, one table": TensorSpec(weights, 3),
    }.get(spec, spec)
    with pytest.raises(ToolchainError, match=message) as error:
        compression.compress_model(model_bytes, [spec])
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------ the reader's refusals


def _tree(data: bytes) -> schema.ModelT:
    return schema.ModelT.InitFromPackedBuf(bytes(data), 0)


def _bytes(tree: schema.ModelT) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _set_data(tree: schema.ModelT, tensor: int, data: bytes) -> None:
    """Gives the tensor a buffer of its own holding `data` (shape [len(data)], as UINT8)."""
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(bytes(data), dtype=np.uint8)
    tree.buffers.append(buffer)
    t = tree.subgraphs[0].tensors[tensor]
    t.buffer = len(tree.buffers) - 1
    t.shape = [len(data)]


@pytest.fixture(scope="module")
def sample(models):
    """A compressed model to damage, and its LUTs: first the embedding tables (3 bits, one table
    each), then the dense weights (4 bits, a table per channel)."""
    model_bytes = models("per_channel")
    specs = [TensorSpec(t, 3) for t in constant_inputs(model_bytes, "GATHER", 0)]
    specs += [TensorSpec(t, 4, 0) for t in constant_inputs(model_bytes, "FULLY_CONNECTED", 1)]
    compressed = compression.compress_model(model_bytes, specs)
    luts = sorted(compression.read(flatbuffer.parse_model(compressed)), key=lambda lut: lut.channels > 1)
    assert [lut.channels > 1 for lut in luts] == [False] * 3 + [True] * 3
    assert luts[0].table_stride == 8
    return compressed, luts


ONE_TABLE, PER_CHANNEL = 0, 3  # a LUT of each kind in `sample`


def _header(sample, lut_index: int, edit) -> bytes:
    compressed, luts = sample
    lut = luts[lut_index]
    model = flatbuffer.parse_model(compressed)
    blob = bytearray(model.buffer_data(model.subgraph.tensors[lut.ancillary_tensor]))
    edit(blob, lut)
    tree = _tree(compressed)
    _set_data(tree, lut.ancillary_tensor, bytes(blob))
    return _bytes(tree)


def _indices(sample, lut_index: int, edit) -> bytes:
    compressed, luts = sample
    lut = luts[lut_index]
    tree = _tree(compressed)
    _set_data(tree, lut.encoded_tensor, edit(bytearray(lut.packed), lut))
    return _bytes(tree)


def _set(byte: int, value: int):
    def edit(blob, lut):
        blob[byte] = value
    return edit


def _stride(value: int, keep_tables: bool = False):
    """Header stride `value`, the tables cut or padded to match (so that only the stride is wrong)."""
    def edit(blob, lut):
        tables = lut.tables[:, :value] if value <= lut.table_stride else np.pad(
            lut.tables, ((0, 0), (0, value - lut.table_stride)))
        blob[6] = value
        if not keep_tables:
            blob[16:] = np.ascontiguousarray(tables).astype(np.int8).tobytes()
    return edit


def _operators(edit):
    def apply(sample):
        compressed, luts = sample
        tree = _tree(compressed)
        edit(tree, luts)
        return _bytes(tree)
    return apply


def _reader_of(tree, lut):
    return next(op for op in tree.subgraphs[0].operators if lut.decoded_tensor in list(op.inputs))


def _as_output(tree, luts):
    tree.subgraphs[0].outputs = [*tree.subgraphs[0].outputs, luts[0].decoded_tensor]


def _second_decode(tree, luts):
    ops = tree.subgraphs[0].operators
    decode = ops[luts[0].decode_op]
    copy = schema.OperatorT()
    copy.opcodeIndex, copy.inputs, copy.outputs = decode.opcodeIndex, list(decode.inputs), list(decode.outputs)
    ops.insert(luts[0].decode_op, copy)


def _written_by_other(tree, luts):
    reader = _reader_of(tree, luts[PER_CHANNEL])
    reader.outputs = [luts[0].decoded_tensor]


def _decode_reads_decoded(tree, luts):
    ops = tree.subgraphs[0].operators
    decode = ops[luts[1].decode_op]
    decode.inputs = [luts[0].decoded_tensor, luts[1].ancillary_tensor]


def _encoded_read_directly(tree, luts):
    reader = _reader_of(tree, luts[0])
    reader.inputs = [luts[0].encoded_tensor if t == luts[0].decoded_tensor else t for t in reader.inputs]


def _odd_inputs(tree, luts):
    decode = tree.subgraphs[0].operators[luts[0].decode_op]
    decode.inputs = list(decode.inputs)[:1]


def _encoded_int8(tree, luts):
    tree.subgraphs[0].tensors[luts[0].encoded_tensor].type = schema.TensorType.INT8


def _old_scheme(tree, luts):
    buffer = schema.BufferT()
    buffer.data = np.zeros(4, dtype=np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = b"COMPRESSION_METADATA", len(tree.buffers) - 1
    tree.metadata = [*(tree.metadata or []), entry]


HOSTILE = [
    ("huffman", lambda s: _header(s, ONE_TABLE, _set(0, 1)), r"decode type 1 \(Huffman\) is not supported"),
    ("pruning", lambda s: _header(s, ONE_TABLE, _set(0, 2)), r"decode type 2 \(pruning\) is not supported"),
    ("custom decode", lambda s: _header(s, ONE_TABLE, _set(0, 200)), r"decode type 200 \(custom\) is not supported"),
    ("reserved decode", lambda s: _header(s, ONE_TABLE, _set(0, 7)), r"decode type 7 \(reserved\)"),
    ("metadata version", lambda s: _header(s, ONE_TABLE, _set(1, 2)), "decode metadata version 2"),
    ("LUT version", lambda s: _header(s, ONE_TABLE, _set(4, 0)), "LUT version 0"),
    ("reserved bit", lambda s: _header(s, ONE_TABLE, _set(5, 0xF3 | 0x08)), "reserved bit 3"),
    ("bit width 0", lambda s: _header(s, ONE_TABLE, _set(5, 0xF0)), "bit width 0 is outside 1..7"),
    ("stride 0", lambda s: _header(s, ONE_TABLE, _stride(0)), "stride 0 is outside 1..8"),
    ("stride past 2^b", lambda s: _header(s, ONE_TABLE, _stride(9)), "stride 9 is outside 1..8"),
    ("stride past 128", lambda s: _header(s, ONE_TABLE, lambda b, lut: (_set(5, 0xF7)(b, lut), _stride(130)(b, lut))),
     "stride 130 is outside 1..128"),
    ("short header", lambda s: _header(s, ONE_TABLE, lambda b, lut: b.__delitem__(slice(10, None))), "less than its 16-byte"),
    ("extra table bytes", lambda s: _header(s, ONE_TABLE, lambda b, lut: b.extend(b"\0")), "holds 1.125 value tables"),
    ("table count", lambda s: _header(s, ONE_TABLE, _stride(4, keep_tables=True)), "holds 2 value tables of 4 entries"),
    ("index past the table", lambda s: _header(s, ONE_TABLE, _stride(2)), "index [2-7] is past the end of a 2-entry"),
    ("index bytes short", lambda s: _indices(s, ONE_TABLE, lambda p, lut: p[:-1]), "index bytes for"),
    ("index bytes long", lambda s: _indices(s, ONE_TABLE, lambda p, lut: p + b"\0"), "index bytes for"),
    ("table axis", lambda s: _header(s, PER_CHANNEL, _set(5, 0x14)),
     "run along axis 1, but TFLite Micro reads them along axis 0"),
    ("header axis out of range", lambda s: _header(s, ONE_TABLE, _set(5, 0x53)), "names axis 5 of a rank-2 tensor"),
    ("graph output", _operators(_as_output), "is a graph input or output"),
    ("two decodes", _operators(_second_decode), "written by two DECODE operators"),
    ("written by another op", _operators(_written_by_other), "a DECODE output"),
    ("decode of a decoded tensor", _operators(_decode_reads_decoded), "the encoded tensor .* is not a constant"),
    ("encoded read directly", _operators(_encoded_read_directly), "which only DECODE may read"),
    ("odd inputs", _operators(_odd_inputs), "an \\(encoded, ancillary\\) pair per output"),
    ("encoded not uint8", _operators(_encoded_int8), "the encoded tensor is INT8, not UINT8"),
    ("COMPRESSION_METADATA", _operators(_old_scheme), "older COMPRESSION_METADATA scheme"),
]


@pytest.mark.parametrize("name, damage, message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_reader_refuses_damaged_files_in_one_line(name, damage, message, sample):
    data = damage(sample)
    with pytest.raises(ToolchainError, match=message) as error:
        graph_compiler.compile_graph(flatbuffer.parse_model(data, "damaged.tflite"))
    assert "\n" not in str(error.value)


def _compress_raw(model_bytes: bytes, tensor: int, bits: int, axis: int | None) -> bytes:
    """TFLite Micro's compressor on its own, after clustering the tensor (its quantization as it is)."""
    import importlib

    compress = importlib.import_module("tflite_micro.tensorflow.lite.micro.compression.compress")
    spec = importlib.import_module("tflite_micro.tensorflow.lite.micro.compression.spec")
    model = flatbuffer.parse_model(model_bytes)
    clustered = _with_constant(model_bytes, tensor, compression.cluster(model.constant(tensor), bits, axis, (0,)))
    mode = spec.PerTensor() if axis is None else spec.PerChannel(axis=axis)
    return bytes(compress.compress(clustered, [spec.Tensor(0, tensor, [spec.LookUpTableCompression(bits, mode)])]))


@pytest.mark.parametrize("what, message", [
    ("embedding per column, scales per tensor",
     "holds 7 value tables .* decodes this tensor with 1 .*; compress it per tensor"),
    ("weights one table, scales per channel",
     "holds 1 value tables .* with 10 .*; compress it per channel along axis 0"),
])
def test_reader_refuses_tables_tflm_decodes_differently(what, message, models):
    """Files TFLite Micro's own compressor writes but its DECODE reads with other tables (it takes
    the table count and axis from the quantization): refused, naming the fix."""
    model_bytes = models("per_channel")
    model = flatbuffer.parse_model(model_bytes)
    if what.startswith("embedding"):
        table = next(t for t in constant_inputs(model_bytes, "GATHER", 0) if model.constant(t).shape[1] == 7)
        data = _compress_raw(model_bytes, table, 3, 1)
    else:
        weights = next(t for t in constant_inputs(model_bytes, "FULLY_CONNECTED", 1)
                       if model.constant(t).shape[0] == 10)
        data = _compress_raw(model_bytes, weights, 3, None)
    with pytest.raises(ToolchainError, match=message) as error:
        graph_compiler.compile_graph(flatbuffer.parse_model(data))
    assert "\n" not in str(error.value)


def _with_constant(model_bytes: bytes, tensor: int, values: np.ndarray) -> bytes:
    tree = _tree(model_bytes)
    t = tree.subgraphs[0].tensors[tensor]
    tree.buffers[t.buffer].data = np.frombuffer(np.ascontiguousarray(values).tobytes(), dtype=np.uint8)
    return _bytes(tree)
