"""Tiny full-int8 models for the compiled-backend tests, and the harness that runs a model both in
TFLite Micro (the golden reference) and as generated C.

Models are tf-keras functional models with batch-1 inputs, converted like the students
(optimizations=[DEFAULT], a representative dataset, TFLITE_BUILTINS_INT8, int8 in/out). Each
builder returns the .tflite bytes; several variants of an operator share one model as separate
outputs, so that one conversion and one C build cover them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain import cbuild
from toolchain.resources import runtime_dir

RUNTIME = runtime_dir()
KERNEL_SOURCES = cbuild.c_sources(RUNTIME / "kernels")
C_DRIVERS = Path(__file__).parent / "c"

VOCAB = 300
SEQUENCE = 64


# ---------------------------------------------------------------------------------- conversion


def convert(model, calibration: list[dict[str, np.ndarray]], per_channel: bool = True) -> bytes:
    import tensorflow as tf

    return _full_int8(tf.lite.TFLiteConverter.from_keras_model(model), calibration, per_channel)


def convert_classifier(model, seed: int) -> bytes:
    """As the students are converted: the model wrapped in a tf.function over [1, 64] token ids."""
    import tensorflow as tf

    serve = tf.function(
        lambda ids: model(ids, training=False), input_signature=[tf.TensorSpec([1, SEQUENCE], tf.int32)]
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], model)
    rng = np.random.default_rng(seed)
    calibration = [[rng.integers(0, VOCAB, (1, SEQUENCE)).astype(np.int32)] for _ in range(48)]
    return _full_int8(converter, calibration, per_channel=True)


def _full_int8(converter, calibration, per_channel: bool) -> bytes:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if not per_channel:
        converter._experimental_disable_per_channel = True
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    return converter.convert()


def _calibration(specs, rng, count: int = 48) -> list[dict[str, np.ndarray]]:
    """Random float (or id) inputs: specs are (shape, low, high) per input, or (shape, "ids", None).

    Keyed by input name: the converter may order a model's inputs differently from Keras."""
    batches = []
    for _ in range(count):
        batch = {}
        for i, (shape, low, high) in enumerate(specs):
            if low == "ids":
                batch[f"in{i}"] = rng.integers(0, VOCAB, shape).astype(np.int32)
            else:
                batch[f"in{i}"] = rng.uniform(low, high, shape).astype(np.float32)
        batches.append(batch)
    return batches


def _inputs(keras, specs):
    return [
        keras.Input(shape[1:], batch_size=1, dtype="int32" if low == "ids" else "float32", name=f"in{i}")
        for i, (shape, low, _) in enumerate(specs)
    ]


def _build(specs, body, seed: int, per_channel: bool = True) -> bytes:
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inputs = _inputs(keras, specs)
    outputs = body(keras, *inputs)
    model = keras.Model(inputs, outputs)
    return convert(model, _calibration(specs, np.random.default_rng(seed)), per_channel)


def _bias(keras):
    """Non-zero biases (the converter drops all-zero ones); a new initializer per layer."""
    return keras.initializers.RandomNormal(0, 0.3)


def _dense(keras, units, **kwargs):
    return keras.layers.Dense(units, bias_initializer=_bias(keras), **kwargs)


def _conv(keras, filters, width, **kwargs):
    return keras.layers.Conv1D(filters, width, bias_initializer=_bias(keras), **kwargs)


# ------------------------------------------------------------------------------------- models


def gather_model() -> bytes:
    """Embedding lookups (GATHER on a constant table) and a GATHER on an activation along axis 1."""
    import tensorflow as tf

    def body(keras, ids, x):
        table = keras.initializers.RandomNormal(0, 1)
        embedded = keras.layers.Embedding(VOCAB, 12, embeddings_initializer=table)(ids)
        picked = tf.gather(x * 2.0, [3, 1, 4, 1, 5], axis=1)
        return [embedded, picked]

    return _build([((1, 20), "ids", None), ((1, 9, 6), -2.0, 2.0)], body, seed=1)


def fully_connected_model(per_channel: bool = True) -> bytes:
    """Dense layers: with and without bias, RELU / RELU6 / none, 2-D and 3-D inputs."""
    import tensorflow as tf

    def body(keras, x, y):
        return [
            _dense(keras, 16, activation="relu")(x),
            _dense(keras, 10, use_bias=False)(x),
            _dense(keras, 7, activation=tf.nn.relu6)(x * 4.0),
            _dense(keras, 9)(y),
        ]

    return _build([((1, 24), -1.0, 1.0), ((1, 5, 12), -3.0, 2.0)], body, seed=2, per_channel=per_channel)


def conv_model(per_channel: bool = True) -> bytes:
    """Conv1D layers (CONV_2D with 1xK filters): SAME / VALID, odd and even K, RELU, dilation."""

    def body(keras, x):
        same = _conv(keras, 16, 3, padding="same", activation="relu")(x)
        valid = _conv(keras, 8, 4, padding="valid")(same)
        even_same = _conv(keras, 6, 2, padding="same")(x)
        dilated = _conv(keras, 5, 3, padding="same", dilation_rate=2)(x)
        return [valid, even_same, dilated]

    return _build([((1, 20, 12), -1.0, 1.0)], body, seed=3, per_channel=per_channel)


def reduce_model() -> bytes:
    """MEAN, SUM and REDUCE_MAX over leading, trailing, several and non-adjacent axes."""
    import tensorflow as tf

    def body(keras, x, y):
        return [
            tf.reduce_mean(x, axis=1),
            tf.reduce_mean(x, axis=-1, keepdims=True),
            tf.reduce_mean(y, axis=[1, 2]),
            tf.reduce_mean(y, axis=[1, 3], keepdims=True),
            tf.reduce_sum(x, axis=1),
            tf.reduce_sum(y, axis=2, keepdims=True),
            tf.reduce_max(x, axis=1),
            tf.reduce_max(y, axis=[2, 3]),
        ]

    return _build([((1, 12, 10), -2.0, 1.0), ((1, 4, 5, 6), -0.5, 0.5)], body, seed=4)


def elementwise_binary_model() -> bytes:
    """ADD, SUB, MUL and SQUARED_DIFFERENCE: same shapes and every broadcast the students use."""
    import tensorflow as tf

    def body(keras, a, b, row, column, grid_a, grid_b):
        return [
            a + b,
            a - b,
            a * b,
            tf.math.squared_difference(a, b),
            a + column,
            a - row,
            row - a,
            a * column,
            column * row,
            tf.math.squared_difference(a, column),
            grid_a + grid_b,
            grid_a * grid_b,
            a * 0.37,
            a + 0.25,
        ]

    return _build(
        [
            ((1, 6, 8), -2.0, 2.0),
            ((1, 6, 8), -0.5, 1.5),
            ((8,), -1.0, 3.0),
            ((1, 6, 1), -3.0, 0.5),
            ((1, 2, 1, 8), -1.0, 1.0),
            ((1, 1, 5, 8), 0.0, 2.0),
        ],
        body,
        seed=5,
    )


def unary_model() -> bytes:
    """LOGISTIC, TANH and RSQRT on inputs of small and large ranges."""
    import tensorflow as tf

    def body(keras, narrow, wide, positive):
        return [
            tf.sigmoid(narrow),
            tf.sigmoid(wide),
            tf.tanh(narrow),
            tf.tanh(wide),
            tf.math.rsqrt(positive),
        ]

    return _build(
        [((1, 40), -1.0, 1.0), ((1, 40), -12.0, 9.0), ((1, 40), 0.02, 6.0)],
        body,
        seed=6,
    )


def softmax_model() -> bytes:
    """SOFTMAX over rows of different lengths and input ranges."""
    import tensorflow as tf

    def body(keras, short, long, wide):
        return [tf.nn.softmax(short), tf.nn.softmax(long), tf.nn.softmax(wide)]

    return _build(
        [((1, 3, 5), -2.0, 2.0), ((1, 64), -4.0, 4.0), ((1, 2, 33), -30.0, 30.0)],
        body,
        seed=7,
    )


def matmul_transpose_model() -> bytes:
    """BATCH_MATMUL (plain, transposed operands, broadcast batch) and TRANSPOSE."""
    import tensorflow as tf

    def body(keras, a, b, c, d):
        return [
            tf.matmul(a, b),
            tf.matmul(a, c, transpose_b=True),
            tf.matmul(b, d, transpose_a=True),
            tf.matmul(a, b[:, :1]),
            tf.transpose(a, [0, 2, 1, 3]),
            tf.transpose(b, [0, 3, 1, 2]),
        ]

    return _build(
        [
            ((1, 2, 5, 4), -1.0, 1.0),
            ((1, 2, 4, 3), -2.0, 0.5),
            ((1, 2, 6, 4), -1.0, 1.0),
            ((1, 2, 4, 7), -0.3, 0.8),
        ],
        body,
        seed=8,
    )


def shape_ops_model() -> bytes:
    """CONCATENATION (with the QUANTIZE the converter adds to match scales), STRIDED_SLICE, and
    RESHAPE (the converter's form of reshape, expand_dims and squeeze)."""
    import tensorflow as tf

    def body(keras, x, y):
        return [
            tf.concat([x, y], axis=2),
            tf.concat([x, x * 3.0], axis=1),
            x[:, 0, :],
            x[:, 1:7:2, 2:],
            x[:, ::-1, :],
            tf.reshape(x, [1, 4, 3, 8]) + 1.0,
            tf.expand_dims(y, 1) * 2.0,
            tf.squeeze(y[:, :1, :], axis=1) - 1.0,
        ]

    return _build([((1, 12, 8), -1.0, 1.0), ((1, 12, 5), -4.0, 4.0)], body, seed=9)


def renaming_model() -> bytes:
    """EXPAND_DIMS and SQUEEZE. The converter writes both as RESHAPE, so the RESHAPEs of a converted
    model are turned into them by editing the flatbuffer through the schema's object API."""
    import flatbuffers
    import tensorflow as tf

    from toolchain.flatbuffer import schema

    def body(keras, x):
        return [tf.expand_dims(x, 2) * 2.0, tf.squeeze(x[:, :1, :], axis=1) - 1.0]

    model = schema.ModelT.InitFromPackedBuf(_build([((1, 12, 5), -4.0, 4.0)], body, seed=14), 0)
    subgraph = model.subgraphs[0]
    for op in subgraph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.RESHAPE:
            continue
        source, target = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.outputs[0]]
        in_shape, out_shape = list(source.shape), list(target.shape)
        if len(out_shape) == len(in_shape) + 1:
            axis = next(a for a in range(len(out_shape)) if out_shape[:a] + out_shape[a + 1 :] == in_shape)
            op.opcodeIndex = _operator_code(model, schema.BuiltinOperator.EXPAND_DIMS)
            op.inputs = [op.inputs[0], _int32_constant(model, "axis", [axis])]
            op.builtinOptionsType = schema.BuiltinOptions.ExpandDimsOptions
            op.builtinOptions = schema.ExpandDimsOptionsT()
        elif len(out_shape) == len(in_shape) - 1:
            axis = next(a for a in range(len(in_shape)) if in_shape[:a] + in_shape[a + 1 :] == out_shape)
            op.opcodeIndex = _operator_code(model, schema.BuiltinOperator.SQUEEZE)
            op.inputs = [op.inputs[0]]
            op.builtinOptionsType = schema.BuiltinOptions.SqueezeOptions
            op.builtinOptions = schema.SqueezeOptionsT()
            op.builtinOptions.squeezeDims = [axis]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _operator_code(model, builtin: int) -> int:
    from toolchain.flatbuffer import schema

    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _int32_constant(model, name: str, values: list[int]) -> int:
    from toolchain.flatbuffer import schema

    buffer = schema.BufferT()
    buffer.data = np.frombuffer(np.asarray(values, dtype=np.int32).tobytes(), dtype=np.uint8)
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.name = name.encode()
    tensor.shape = [len(values)]
    tensor.type = schema.TensorType.INT32
    tensor.buffer = len(model.buffers) - 1
    model.subgraphs[0].tensors.append(tensor)
    return len(model.subgraphs[0].tensors) - 1


# --------------------------------------------------------- the student architectures, untrained


def pooling_classifier() -> bytes:
    """Embedding, mean and max pooling over the sequence, two dense layers."""
    import tf_keras as keras

    keras.utils.set_random_seed(10)
    ids = keras.Input((SEQUENCE,), batch_size=1, dtype="int32")
    x = keras.layers.Embedding(VOCAB, 32)(ids)
    pooled = [keras.layers.GlobalAveragePooling1D()(x), keras.layers.GlobalMaxPooling1D()(x)]
    x = keras.layers.Concatenate()(pooled)
    x = _dense(keras, 32, activation="relu")(x)
    return convert_classifier(keras.Model(ids, _dense(keras, 2)(x)), seed=10)


def conv_classifier() -> bytes:
    """Embedding, two Conv1D layers, global max pooling, two dense layers."""
    import tf_keras as keras

    keras.utils.set_random_seed(11)
    ids = keras.Input((SEQUENCE,), batch_size=1, dtype="int32")
    x = keras.layers.Embedding(VOCAB, 32)(ids)
    x = _conv(keras, 48, 3, padding="same", activation="relu")(x)
    x = _conv(keras, 32, 5, padding="valid", activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = _dense(keras, 16, activation="relu")(x)
    return convert_classifier(keras.Model(ids, _dense(keras, 2)(x)), seed=11)


def transformer_classifier() -> bytes:
    """One encoder layer (2-head self-attention, LayerNorm, x * sigmoid(1.702 x) feed-forward) over
    token + position embeddings; the classifier reads the first ([CLS]) position."""
    import tensorflow as tf
    import tf_keras as keras

    width, heads, hidden = 32, 2, 64
    head_width = width // heads

    def layer_norm():
        return keras.layers.LayerNormalization(
            epsilon=1e-6,
            gamma_initializer=keras.initializers.RandomNormal(1.0, 0.2),
            beta_initializer=keras.initializers.RandomNormal(0.0, 0.2),
        )

    class PositionEmbedding(keras.layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight("table", (SEQUENCE, width), initializer="random_normal")

        def call(self, x):
            return x + self.table

    class EncoderLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value, self.attention_output = (_dense(keras, width) for _ in range(4))
            self.attention_norm, self.output_norm = layer_norm(), layer_norm()
            self.intermediate, self.ffn_output = _dense(keras, hidden), _dense(keras, width)

        def call(self, x):
            def split_heads(t):
                return tf.transpose(tf.reshape(t, [1, SEQUENCE, heads, head_width]), [0, 2, 1, 3])

            q, k, v = split_heads(self.query(x)), split_heads(self.key(x)), split_heads(self.value(x))
            weights = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / np.sqrt(head_width))
            context = tf.reshape(tf.transpose(tf.matmul(weights, v), [0, 2, 1, 3]), [1, SEQUENCE, width])
            x = self.attention_norm(x + self.attention_output(context))
            h = self.intermediate(x)
            return self.output_norm(x + self.ffn_output(h * tf.sigmoid(1.702 * h)))

    keras.utils.set_random_seed(12)
    ids = keras.Input((SEQUENCE,), batch_size=1, dtype="int32")
    x = PositionEmbedding()(keras.layers.Embedding(VOCAB, width)(ids))
    x = EncoderLayer()(x)
    x = _dense(keras, width, activation="tanh")(x[:, 0, :])
    return convert_classifier(keras.Model(ids, _dense(keras, 2)(x)), seed=12)


def gelu_model() -> bytes:
    """A full-int8 model with a GELU, which the compiled backend (like TFLM) does not support."""
    return _build([((1, 16), -3.0, 3.0)], lambda keras, x: keras.layers.Activation("gelu")(x), seed=13)


# ------------------------------------------------------------------------------------ harness


def random_inputs(model_bytes: bytes, count: int, seed: int) -> list[list[np.ndarray]]:
    """`count` input sets: uniform int8 over the whole range, ids over the vocabulary, and the
    extremes (all -128, all 127) first. Every third int8 set has whole positions (last axis)
    at the input zero point, as padding looks after an embedding whose [PAD] row is zero."""
    from toolchain import flatbuffer

    model = flatbuffer.parse_model(model_bytes)
    rng = np.random.default_rng(seed)
    specs = []
    for index in model.subgraph.inputs:
        tensor = model.subgraph.tensors[index]
        quant = flatbuffer.quantization(tensor)
        zero_point = quant.zero_points[0] if quant is not None else 0
        specs.append((tuple(int(d) for d in tensor.shape), flatbuffer.numpy_dtype(tensor.type), zero_point))
    cases = []
    for case in range(count):
        values = []
        for shape, dtype, zero_point in specs:
            if dtype == np.int32:
                values.append(rng.integers(0, VOCAB, shape).astype(np.int32))
            elif case < 2:
                values.append(np.full(shape, (-128, 127)[case], dtype=np.int8))
            else:
                value = rng.integers(-128, 128, shape).astype(np.int8)
                if case % 3 == 2 and len(shape) >= 2:
                    positions = value.reshape(-1, shape[-1])
                    positions[rng.random(len(positions)) < 0.6] = zero_point
                value = value.reshape(shape)
                values.append(value)
        cases.append(values)
    return cases


def tflm_outputs(model_bytes: bytes, cases: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    from toolchain import flatbuffer
    from toolchain.tflm import TflmInterpreter

    outputs = len(flatbuffer.parse_model(model_bytes).subgraph.outputs)
    interpreter = TflmInterpreter(model_bytes, arena_size=1024 * 1024, num_outputs=outputs)
    return [[np.array(o) for o in interpreter.run(case)] for case in cases]


def compile_kernels(out_dir: Path, sanitize: bool = False, core: str = "host") -> list[Path]:
    """The kernel library as object files (compiled once per test session and core)."""
    build = cbuild.Build(cbuild.core(core), include_dirs=[RUNTIME], sanitize=sanitize)
    return build.objects(KERNEL_SOURCES, out_dir)


@dataclass
class CompiledProgram:
    """A model emitted by the graph compiler and built with the kernel library and the driver."""

    path: Path
    graph: object  # toolchain.emit.graph_compiler.CompiledGraph

    def run(self, cases: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        stdin = b"".join(np.ascontiguousarray(v).tobytes() for case in cases for v in case)
        data = cbuild.run(self.path, stdin=stdin, timeout=300).stdout
        outputs = []
        position = 0
        for _ in cases:
            values = []
            for io in self.graph.outputs:
                dtype = np.int8 if io.c_type == "int8_t" else np.int32
                values.append(np.frombuffer(data[position : position + io.bytes], dtype=dtype).reshape(io.shape))
                position += io.bytes
            outputs.append(values)
        if position != len(data):
            raise AssertionError(f"{self.path} wrote {len(data)} bytes, expected {position}")
        return outputs


def emit(model_bytes: bytes, work: Path, kernels: str = "optimized", packed_filters: bool = True):
    """The compiled graph of a model, rendered into `work` with the prefix `model`."""
    from toolchain import flatbuffer
    from toolchain.emit.graph_compiler import compile_graph
    from toolchain.emit.ops.common import Options

    work.mkdir(parents=True, exist_ok=True)
    graph = compile_graph(flatbuffer.parse_model(model_bytes), Options(kernels, packed_filters))
    for name, text in graph.render("model", "model.tflite").items():
        (work / name).write_text(text)
    return graph


def build_program(model_bytes: bytes, work: Path, kernel_objects: list[Path], sanitize: bool = False,
                  kernels: str = "optimized") -> CompiledProgram:
    graph = emit(model_bytes, work, kernels)
    build = cbuild.Build(include_dirs=[RUNTIME, work], sanitize=sanitize)
    program = build.program([work / "model_graph.c", C_DRIVERS / "graph_driver.c"], work / "program",
                            objects=kernel_objects)
    return CompiledProgram(path=program, graph=graph)


def run_on_core(model_bytes: bytes, cases, expected, work: Path, core_name: str,
                kernel_objects: list[Path], kernels: str = "optimized") -> str:
    """Builds a QEMU image that compares the compiled graph with TFLM's outputs; returns its output."""
    core = cbuild.core(core_name)
    emit(model_bytes, work, kernels, packed_filters=core.dsp)
    def blob(sets) -> bytes:
        return b"".join(np.ascontiguousarray(v).tobytes() for case in sets for v in case)

    (work / "golden_inputs.bin").write_bytes(blob(cases))
    (work / "golden_outputs.bin").write_bytes(blob(expected))
    blobs = [core.binary_object(work / "golden_inputs.bin"), core.binary_object(work / "golden_outputs.bin")]
    build = cbuild.Build(core, include_dirs=[RUNTIME, work])
    program = build.program([work / "model_graph.c", C_DRIVERS / "graph_check.c"],
                            work / "check.elf", objects=[*kernel_objects, *blobs])
    result = cbuild.run(program, core, timeout=300, check=False)
    if result.returncode not in (0, 1):
        raise AssertionError(f"QEMU exited with {result.returncode}: {result.stdout!r}{result.stderr!r}")
    return result.stdout.decode()


def mismatches(expected: list[list[np.ndarray]], actual: list[list[np.ndarray]]) -> list[str]:
    """Human-readable differences between TFLM's and the C program's outputs (empty if bit-exact)."""
    problems = []
    for case, (want, got) in enumerate(zip(expected, actual)):
        for output, (w, g) in enumerate(zip(want, got)):
            w = np.asarray(w).reshape(-1)
            g = np.asarray(g).reshape(-1)
            if w.dtype != g.dtype or not np.array_equal(w, g):
                diff = np.flatnonzero(w != g)
                first = diff[0] if len(diff) else 0
                largest = np.abs(w.astype(int) - g.astype(int)).max()
                problems.append(
                    f"case {case} output {output}: {len(diff)} of {w.size} differ, first at {first}: "
                    f"TFLM {w[first]} vs C {g[first]} (max |diff| {largest})"
                )
    return problems
