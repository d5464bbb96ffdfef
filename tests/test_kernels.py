"""Every operator of the compiled backend against TensorFlow Lite Micro, bit for bit.

Each tiny model (tests/op_models.py) is converted to full int8, run in the official TFLM
interpreter and, emitted by the graph compiler, as C with the kernel library: on this machine and,
in QEMU, on a Cortex-M4 (the DSP extension's SMLAD paths), a Cortex-M0 and an rv32imc core; with the
optimized kernels and with the plain reference ones, so each optimized kernel is checked against
its reference on the device itself (both against TFLM). Both get the same random inputs (int8 over
the whole range, the two extremes, token ids); every output that depends on the operator under
test must be identical.
"""
import op_models
import pytest

from toolchain import flatbuffer

RANDOM_INPUTS = 2000

# (operator, builder in op_models, what the model exercises)
OPERATOR_CASES = [
    ("GATHER", "gather_model", "embedding table; activation along axis 1"),
    ("FULLY_CONNECTED", "fully_connected_model", "per-channel; bias / no bias; RELU, RELU6, none; 3-D input"),
    ("FULLY_CONNECTED", "fully_connected_per_tensor_model", "per-tensor weights"),
    ("CONV_2D", "conv_model", "per-channel; SAME / VALID; even kernel; dilation; RELU"),
    ("CONV_2D", "conv_per_tensor_model", "per-tensor weights"),
    ("MEAN", "reduce_model", "leading / trailing / two / non-adjacent axes, keep_dims"),
    ("SUM", "reduce_model", "one axis, keep_dims"),
    ("REDUCE_MAX", "reduce_model", "one and two axes"),
    ("ADD", "elementwise_binary_model", "same shape, column broadcast, 4-D two-sided broadcast, scalar"),
    ("SUB", "elementwise_binary_model", "same shape, row broadcast either side"),
    ("MUL", "elementwise_binary_model", "same shape, column, row x column, 4-D, scalar"),
    ("SQUARED_DIFFERENCE", "elementwise_binary_model", "same shape, column broadcast"),
    ("LOGISTIC", "unary_model", "narrow and wide input ranges"),
    ("TANH", "unary_model", "narrow and wide input ranges"),
    ("RSQRT", "unary_model", "positive inputs incl. the zero point"),
    ("SOFTMAX", "softmax_model", "rows of 5, 64 and 33; small and large input scales"),
    ("BATCH_MATMUL", "matmul_transpose_model", "plain, adj_y, adj_x, broadcast batch"),
    ("TRANSPOSE", "matmul_transpose_model", "two 4-D permutations"),
    ("CONCATENATION", "shape_ops_model", "last and middle axis"),
    ("QUANTIZE", "shape_ops_model", "int8 requantization before a concatenation"),
    ("STRIDED_SLICE", "shape_ops_model", "shrink axis, strides, negative stride"),
    ("RESHAPE", "shape_ops_model", "renaming, no code"),
    ("EXPAND_DIMS", "renaming_model", "renaming, no code"),
    ("SQUEEZE", "renaming_model", "renaming, no code"),
]

BUILDERS = {
    "fully_connected_per_tensor_model": lambda: op_models.fully_connected_model(per_channel=False),
    "conv_per_tensor_model": lambda: op_models.conv_model(per_channel=False),
}


def _outputs_depending_on(model_bytes: bytes, operator: str) -> list[int]:
    """Indices of the model outputs that the given operator (any occurrence) feeds."""
    model = flatbuffer.parse_model(model_bytes)
    subgraph = model.subgraph
    producer = {}
    for op in subgraph.operators:
        for tensor in op.outputs:
            producer[int(tensor)] = op

    def depends(tensor: int) -> bool:
        op = producer.get(tensor)
        if op is None:
            return False
        if flatbuffer.op_name(model.model, op) == operator:
            return True
        return any(depends(int(t)) for t in op.inputs if t != -1)

    return [i for i, tensor in enumerate(subgraph.outputs) if depends(int(tensor))]


@pytest.fixture(scope="module")
def kernel_objects(tmp_path_factory):
    return op_models.compile_kernels(tmp_path_factory.mktemp("kernel_objects"))


@pytest.fixture(scope="module")
def models():
    """builder name -> (model bytes, random inputs, TFLM outputs); each model built and run once."""
    cache = {}

    def get(builder: str):
        if builder not in cache:
            model_bytes = BUILDERS.get(builder, getattr(op_models, builder, None))()
            inputs = op_models.random_inputs(model_bytes, RANDOM_INPUTS, seed=len(cache))
            cache[builder] = (model_bytes, inputs, op_models.tflm_outputs(model_bytes, inputs))
        return cache[builder]

    return get


@pytest.fixture(scope="module")
def model_results(tmp_path_factory, kernel_objects, models):
    """(builder, kernels) -> (model bytes, TFLM outputs, C outputs on this machine)."""
    cache = {}

    def results(builder: str, kernels: str):
        if (builder, kernels) not in cache:
            model_bytes, inputs, expected = models(builder)
            program = op_models.build_program(model_bytes, tmp_path_factory.mktemp(builder), kernel_objects,
                                              kernels=kernels)
            cache[builder, kernels] = (model_bytes, expected, program.run(inputs))
        return cache[builder, kernels]

    return results


CASES = [(operator, builder) for operator, builder, _ in OPERATOR_CASES]
CASE_IDS = [f"{operator}-{builder}" for operator, builder, _ in OPERATOR_CASES]


@pytest.mark.parametrize("kernels", ["optimized", "reference"])
@pytest.mark.parametrize("operator, builder", CASES, ids=CASE_IDS)
def test_operator_matches_tflm_bit_for_bit(operator, builder, kernels, model_results):
    model_bytes, expected, actual = model_results(builder, kernels)
    checked = _outputs_depending_on(model_bytes, operator)
    assert checked, f"{builder} has no {operator} feeding an output"
    distinct = {b"".join(case[i].tobytes() for i in checked) for case in expected}
    assert len(distinct) > RANDOM_INPUTS // 2, "the outputs barely vary: the comparison would prove little"
    problems = op_models.mismatches(
        [[case[i] for i in checked] for case in expected],
        [[case[i] for i in checked] for case in actual],
    )
    assert not problems, f"{operator}: {len(problems)} mismatching outputs, e.g.\n" + "\n".join(problems[:5])



TARGET_CASES = 60


@pytest.fixture(scope="module")
def core_kernels(tmp_path_factory):
    """core -> the kernel library compiled for it (once per session)."""
    cache = {}

    def objects(core: str):
        if core not in cache:
            cache[core] = op_models.compile_kernels(tmp_path_factory.mktemp(f"kernels-{core}"), core=core)
        return cache[core]

    return objects


@pytest.mark.qemu
@pytest.mark.parametrize("kernels", ["optimized", "reference"])
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0", "rv32imc"])
@pytest.mark.parametrize("builder", sorted({builder for _, builder in CASES}))
def test_operators_match_tflm_on_the_core(builder, core, kernels, models, core_kernels, tmp_path):
    """The per-operator models on the microcontroller cores in QEMU: the same integers as TFLM."""
    model_bytes, inputs, expected = models(builder)
    output = op_models.run_on_core(model_bytes, inputs[:TARGET_CASES], expected[:TARGET_CASES], tmp_path, core,
                                   core_kernels(core), kernels)
    assert output.strip() == f"0 of {TARGET_CASES} cases differ"
