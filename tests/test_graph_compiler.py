"""The graph compiler on whole models: the three student architectures with random (untrained)
weights, bit-exact with TensorFlow Lite Micro natively, under the sanitizers and on the
microcontroller cores in QEMU; the memory plan; deterministic output; clean errors for what it
cannot compile."""
import itertools

import numpy as np
import op_models
import pytest

from toolchain import cbuild, flatbuffer, model_info, tflm
from toolchain.emit import graph_compiler, ops
from toolchain.emit.ops import conv_2d
from toolchain.emit.ops.common import Node
from toolchain.errors import ToolchainError

ARCHITECTURES = ["pooling_classifier", "conv_classifier", "transformer_classifier"]
RANDOM_SEQUENCES = 300
RENAMING_OPS = {"RESHAPE", "EXPAND_DIMS", "SQUEEZE"}


@pytest.fixture(scope="module")
def architectures(tmp_path_factory):
    """name -> path of the converted .tflite (each built once)."""
    out = tmp_path_factory.mktemp("architectures")
    paths = {}
    for name in ARCHITECTURES:
        paths[name] = out / f"{name}.tflite"
        paths[name].write_bytes(getattr(op_models, name)())
    return paths


@pytest.fixture(scope="module")
def kernel_objects(tmp_path_factory):
    return op_models.compile_kernels(tmp_path_factory.mktemp("kernel_objects"))


@pytest.mark.parametrize("kernels", ["optimized", "reference"])
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_architecture_matches_tflm_bit_for_bit(name, kernels, architectures, kernel_objects, tmp_path):
    model_bytes = architectures[name].read_bytes()
    program = op_models.build_program(model_bytes, tmp_path, kernel_objects, kernels=kernels)
    inputs = op_models.random_inputs(model_bytes, RANDOM_SEQUENCES, seed=21)
    expected = op_models.tflm_outputs(model_bytes, inputs)
    problems = op_models.mismatches(expected, program.run(inputs))
    assert not problems, f"{len(problems)} mismatching outputs, e.g.\n" + "\n".join(problems[:5])
    assert len({case[0].tobytes() for case in expected}) > 10, "the logits barely vary"


def _lifetimes(path):
    """Per activation tensor: (first operator writing or reading it, last one reading it), with
    graph inputs live from the start and outputs until the end; and the renaming ops' pairs."""
    model = flatbuffer.read_model(path)
    subgraph = model.subgraph
    n_ops = len(subgraph.operators)
    first, last, renamed = {}, {}, []
    for tensor in subgraph.inputs:
        first[int(tensor)] = last[int(tensor)] = 0
    for node, op in enumerate(subgraph.operators):
        for tensor in list(op.inputs) + list(op.outputs):
            tensor = int(tensor)
            if tensor == -1 or model.buffer_data(subgraph.tensors[tensor]) is not None:
                continue
            first.setdefault(tensor, node)
            last[tensor] = max(last.get(tensor, node), node)
        if flatbuffer.op_name(model.model, op) in RENAMING_OPS:
            renamed.append((int(op.inputs[0]), int(op.outputs[0])))
    for tensor in subgraph.outputs:
        last[int(tensor)] = n_ops
    sizes = {t: flatbuffer.tensor_nbytes(subgraph.tensors[t]) for t in first}
    return first, last, sizes, renamed


@pytest.mark.parametrize("name", ARCHITECTURES)
def compile_path(path):
    return graph_compiler.compile_graph(flatbuffer.read_model(path))


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_memory_plan_keeps_live_tensors_apart(name, architectures):
    graph = compile_path(architectures[name])
    first, last, sizes, renamed = _lifetimes(architectures[name])
    # A renamed tensor shares its input's bytes: the pair is one buffer, live as long as either.
    group = {t: t for t in first}
    for source, target in renamed:
        group[target] = group[source]
    for source, target in renamed:
        assert graph.tensor_offsets[source] == graph.tensor_offsets[target]
    span = {}
    for t in first:
        start, end = span.get(group[t], (first[t], last[t]))
        span[group[t]] = (min(start, first[t]), max(end, last[t]))
    tensors = sorted(first)
    for t in tensors:
        offset = graph.tensor_offsets[t]
        assert offset % 16 == 0
        assert 0 <= offset and offset + sizes[t] <= graph.arena_bytes
    # A streaming convolution may overlap its input, but no output row may land on an input row
    # the kernel has yet to read (rows >= t - pad while it writes row t).
    allowed = set()
    model = flatbuffer.read_model(architectures[name])
    for source, target, _ in graph.streamed:
        op = next(o for o in model.subgraph.operators if int(o.outputs[0]) == target)
        assert flatbuffer.op_name(model.model, op) == "CONV_2D"
        in_shape, out_shape = model.subgraph.tensors[source].shape, model.subgraph.tensors[target].shape
        kernel = model.subgraph.tensors[int(op.inputs[1])].shape[2]
        pad = max(int(out_shape[2]) - 1 + int(kernel) - int(in_shape[2]), 0) // 2
        out_off, in_off = graph.tensor_offsets[target], graph.tensor_offsets[source]
        for row in range(int(out_shape[2])):
            assert out_off + (row + 1) * int(out_shape[3]) <= in_off + max(0, row - pad) * int(in_shape[3])
        allowed |= {(group[source], group[target]), (group[target], group[source])}
    for i, a in enumerate(tensors):
        for b in tensors[i + 1 :]:
            if group[a] == group[b] or (group[a], group[b]) in allowed:
                continue
            (a_start, a_end), (b_start, b_end) = span[group[a]], span[group[b]]
            if a_start <= b_end and b_start <= a_end:
                a_off, b_off = graph.tensor_offsets[a], graph.tensor_offsets[b]
                assert a_off + sizes[a] <= b_off or b_off + sizes[b] <= a_off, (
                    f"tensors {a} and {b} are live together but overlap in the arena"
                )
    assert graph.arena_bytes < sum(sizes[t] for t in tensors if group[t] == t)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_arena_is_smaller_than_tflm_measured_arena(name, architectures):
    path = architectures[name]
    graph = compile_path(path)
    measured = tflm.measure_arena(path.read_bytes(), model_info.input_specs(flatbuffer.read_model(path)))
    assert graph.arena_bytes < measured


def test_emission_is_deterministic(architectures):
    first = compile_path(architectures["transformer_classifier"]).render("model", "transformer.tflite")
    second = compile_path(architectures["transformer_classifier"]).render("model", "transformer.tflite")
    assert set(first) == {"model_graph.h", "model_graph.c"}
    assert first == second


def test_compiled_graph_reports_ops_and_sizes(architectures):
    graph = compile_path(architectures["conv_classifier"])
    model = flatbuffer.read_model(architectures["conv_classifier"])
    assert len(graph.streamed) == 1  # the convolution overlaps its input (checked above)
    assert [op.op for op in graph.ops] == [
        flatbuffer.op_name(model.model, op) for op in model.subgraph.operators
    ]
    # The weights are the tables, filters and biases; shape and axis operands become params. Both
    # convolutions qualify for the packed filter, which widens each int8 weight to int16.
    weight_operands = {"GATHER": (0,), "CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2)}
    weight_bytes = 0
    for op in model.subgraph.operators:
        name = flatbuffer.op_name(model.model, op)
        for i in weight_operands.get(name, ()):
            if i < len(op.inputs) and op.inputs[i] != -1:
                widening = 2 if (name, i) == ("CONV_2D", 1) else 1
                weight_bytes += widening * flatbuffer.tensor_nbytes(model.subgraph.tensors[int(op.inputs[i])])
    assert graph.weight_bytes == weight_bytes
    convolutions = [op for op in graph.ops if op.op == "CONV_2D"]
    assert convolutions[0].macs == 64 * 48 * 3 * 32
    assert graph.inputs[0].c_type == "int32_t" and graph.inputs[0].shape == (1, 64)
    assert graph.outputs[0].c_type == "int8_t" and graph.outputs[0].length == 2


def test_packed_conv_filter_has_the_documented_layout():
    """kernels.h: per block of 4 channels, filter row and run of 4 values w0..w3, each channel's
    words {w0 | w2 << 16, w1 | w3 << 16}, int16 halves in little-endian order."""
    weights = np.random.default_rng(5).integers(-127, 128, (8, 2, 3, 4)).astype(np.int8)
    packed = conv_2d.pack_filter(weights)
    halves = packed.astype("<i4").view("<i2").reshape(2, 2, 3, 4, 4)  # block, row, run, channel
    for block, row, run, channel in itertools.product(range(2), range(2), range(3), range(4)):
        w0, w1, w2, w3 = weights[4 * block + channel, row].reshape(-1)[4 * run : 4 * run + 4]
        assert halves[block, row, run, channel].tolist() == [w0, w2, w1, w3]


def test_kernel_tests_cover_packed_and_int8_convolution_filters():
    """test_kernels' conv_model reaches both CONV_2D paths: packed filters (16 and 8 channels over
    depths 12 and 16, SAME and VALID) and the int8 filter (6 channels; dilation 2)."""
    model = flatbuffer.parse_model(op_models.conv_model())
    convolutions = [
        ops.lower(Node(model, index))
        for index, op in enumerate(model.subgraph.operators)
        if flatbuffer.op_name(model.model, op) == "CONV_2D"
    ]
    # Arguments: input, int8 filter or NULL, packed filter or NULL, bias, output.
    packed = [not isinstance(call.args[2], ops.common.NullArg) for call in convolutions]
    assert sorted(packed) == [False, False, True, True]
    for call, is_packed in zip(convolutions, packed):
        assert isinstance(call.args[1], ops.common.NullArg) == is_packed  # one of the two filters
        assert len(call.arrays()) == 2 + int(is_packed)  # multipliers, shifts (+ packed filter)


def test_unsupported_operator_is_a_one_line_error(tmp_path):
    with pytest.raises(ToolchainError) as error:
        graph_compiler.compile_graph(flatbuffer.parse_model(op_models.gelu_model()))
    assert str(error.value) == "compiled backend: unsupported operator GELU (node 0)"


def test_float_model_is_rejected_naming_the_operator(tiny_models):
    with pytest.raises(ToolchainError) as error:
        compile_path(tiny_models["float"])
    message = str(error.value)
    assert message.startswith("compiled backend: ") and "(node 0)" in message and "FLOAT32" in message
    assert "\n" not in message


def test_sanitizers_find_nothing(architectures, tmp_path):
    objects = op_models.compile_kernels(tmp_path / "kernels", sanitize=True)
    for name in ARCHITECTURES:
        model_bytes = architectures[name].read_bytes()
        program = op_models.build_program(model_bytes, tmp_path / name, objects, sanitize=True)
        inputs = op_models.random_inputs(model_bytes, 40, seed=22)
        problems = op_models.mismatches(op_models.tflm_outputs(model_bytes, inputs), program.run(inputs))
        assert not problems, f"{name}: " + "\n".join(problems[:5])


def test_cortex_m_build_is_warning_free_and_has_no_float(architectures, tmp_path):
    """Kernels and graph compile with -Werror for a Cortex-M3 and use no floating point at all."""
    core = cbuild.core("cortex-m3")
    op_models.emit(architectures["transformer_classifier"].read_bytes(), tmp_path)
    build = cbuild.Build(core, include_dirs=[op_models.RUNTIME, tmp_path])
    objects = build.objects([*op_models.KERNEL_SOURCES, tmp_path / "model_graph.c"], tmp_path / "objects")
    symbols = cbuild.run_tool(["arm-none-eabi-nm", *map(str, objects)])
    soft_float = [line for line in symbols.splitlines() if "__aeabi_f" in line or "__aeabi_d" in line]
    assert not soft_float, "float arithmetic in the kernels or the graph:\n" + "\n".join(soft_float)


@pytest.mark.qemu
@pytest.mark.parametrize("core", ["cortex-m3", "cortex-m4", "cortex-m7", "rv32imc"])
@pytest.mark.parametrize("name", ["conv_classifier", "transformer_classifier"])
def test_on_the_core_matches_tflm(name, core, architectures, tmp_path):
    """On M4 and M7 the dot products take the DSP-extension path (SMLAD)."""
    model_bytes = architectures[name].read_bytes()
    inputs = op_models.random_inputs(model_bytes, 12, seed=23)
    expected = op_models.tflm_outputs(model_bytes, inputs)
    kernels = op_models.compile_kernels(tmp_path / "kernels", core=core)
    output = op_models.run_on_core(model_bytes, inputs, expected, tmp_path, core, kernels)
    assert output.strip() == f"0 of {len(inputs)} cases differ"
    assert len({case[0].tobytes() for case in expected}) > 1
