"""Per-operator lowering for the compiled backend: what TFLite Micro's kernels compute in Prepare.

Each `lower_*` function reads one operator of the model and returns the kernel call: the C function,
its params struct (as a nested dict of C initializer values) and the tensors it reads and writes.
The numbers follow TFLM's Prepare code for the int8 path, step by step and in the same precision
(see toolchain/emit/quantization.py); where TFLM's Prepare rejects a model, so does this module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from toolchain import flatbuffer
from toolchain.emit.quantization import (
    INT8_MAX,
    INT8_MIN,
    activation_range,
    f32,
    input_radius,
    quantize_multiplier,
    quantize_multiplier_greater_than_one,
    quantize_multiplier_smaller_than_one,
    round_half_away,
)
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import TfliteModel, schema

MAX_DIMS = 6  # TC_MAX_DIMS in kernels.h
MAX_CONCAT_INPUTS = 10  # TC_MAX_CONCAT_INPUTS in kernels.h (TFLM's limit)
INT8 = schema.TensorType.INT8
INT32 = schema.TensorType.INT32


def _type_names(dtypes) -> str:
    return ", ".join(flatbuffer.tensor_type_name(t) for t in dtypes)


@dataclass
class KernelCall:
    """One lowered operator: the kernel call and the const data it needs. `kernel` is None for the
    renaming operators, whose output shares the input's bytes."""

    kernel: str | None
    params_type: str | None = None
    params: dict | None = None  # struct fields: ints, lists of ints, nested dicts, C names (str)
    args: list = field(default_factory=list)  # ("in" | "out", tensor index or None, C element type)
    arrays: list = field(default_factory=list)  # (name, C type, values) the params point to
    # (name, values) of int32 weights laid out anew for the kernel; emitted like `arrays`, in
    # place of the tensor they repack.
    packed_weights: list = field(default_factory=list)
    macs: int = 0
    concat_inputs: list[int] | None = None  # CONCATENATION's inputs, passed as an array
    # Bytes by which the output may start before its input and overlap it, because the kernel
    # writes each output row only after the input rows under it have been read for good (see
    # streaming_lead). None: input and output must not overlap.
    streaming_lead: int | None = None


class Node:
    """One operator of the model with typed access to its tensors and TFLM's Prepare checks."""

    def __init__(self, model: TfliteModel, index: int):
        self.model = model
        self.index = index
        self.op = model.subgraph.operators[index]
        self.op_name = flatbuffer.op_name(model.model, self.op)
        self.tensors = model.subgraph.tensors
        self.inputs = [int(i) for i in (self.op.inputs if self.op.inputs is not None else [])]
        self.outputs = [int(i) for i in (self.op.outputs if self.op.outputs is not None else [])]
        self.params_name = f"tc_op_{index}"

    @property
    def where(self) -> str:
        return f"compiled backend: {self.op_name} (node {self.index})"

    def error(self, message: str) -> ToolchainError:
        return ToolchainError(f"{self.where}: {message}")

    def shape(self, index: int) -> tuple[int, ...]:
        tensor = self.tensors[index]
        return tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()

    def count(self, index: int) -> int:
        return int(np.prod(self.shape(index))) if self.shape(index) else 1

    def is_constant(self, index: int) -> bool:
        return self.model.buffer_data(self.tensors[index]) is not None

    def constant(self, index: int) -> np.ndarray:
        return self.model.constant(index)

    def dtype(self, index: int) -> int:
        return self.tensors[index].type

    def quant(self, index: int) -> tuple[np.float32, int]:
        """Per-tensor (scale as float32, zero point)."""
        q = flatbuffer.quantization(self.tensors[index])
        if q is None:
            raise self.error(f"tensor {self.name(index)!r} has no quantization parameters")
        if q.per_channel:
            raise self.error(f"tensor {self.name(index)!r} is quantized per channel")
        return f32(q.scales[0]), q.zero_points[0]

    def name(self, index: int) -> str:
        return flatbuffer.decode_name(self.tensors[index].name)

    def type_name(self, index: int) -> str:
        return flatbuffer.tensor_type_name(self.dtype(index))

    def options(self):
        return self.op.builtinOptions

    def input(self, position: int, dtypes=(INT8,), constant: bool | None = None) -> int:
        if position >= len(self.inputs) or self.inputs[position] == -1:
            raise self.error(f"input {position} is missing")
        tensor = self.inputs[position]
        if self.dtype(tensor) not in dtypes:
            raise self.error(f"input {position} is {self.type_name(tensor)}; supported: {_type_names(dtypes)}")
        if constant is True and not self.is_constant(tensor):
            raise self.error(f"input {position} must be a constant")
        if constant is False and self.is_constant(tensor):
            raise self.error(f"input {position} must not be a constant")
        return tensor

    def optional_input(self, position: int, dtypes) -> int | None:
        if position >= len(self.inputs) or self.inputs[position] == -1:
            return None
        return self.input(position, dtypes)

    def output(self, dtypes=(INT8,)) -> int:
        if len(self.outputs) != 1:
            raise self.error(f"{len(self.outputs)} outputs; one is supported")
        tensor = self.outputs[0]
        if self.dtype(tensor) not in dtypes:
            raise self.error(f"output is {self.type_name(tensor)}; supported: {_type_names(dtypes)}")
        if self.is_constant(tensor):
            raise self.error("output is a constant")
        return tensor

    def activation(self, output: int) -> tuple[int, int]:
        options = self.options()
        code = int(getattr(options, "fusedActivationFunction", 0)) if options is not None else 0
        if code not in (0, 1, 2, 3):
            raise self.error(f"fused activation {code} is not supported")
        scale, zero_point = self.quant(output)
        return activation_range(code, scale, zero_point)

    def check_rank(self, tensor: int, limit: int) -> tuple[int, ...]:
        shape = self.shape(tensor)
        if len(shape) > limit:
            raise self.error(
                f"tensor {self.name(tensor)!r} has {len(shape)} dimensions; at most {limit} are supported"
            )
        return shape

    def requantize_params(self, multipliers, shifts, output: int, activation) -> tuple[dict, list]:
        """A tc_requantize_params initializer and the multiplier / shift arrays it points to."""
        per_channel = len(multipliers) > 1
        _, output_zp = self.quant(output)
        arrays = [
            (f"{self.params_name}_multipliers", "int32_t", list(multipliers)),
            (f"{self.params_name}_shifts", "int32_t", list(shifts)),
        ]
        params = {
            "multipliers": arrays[0][0],
            "shifts": arrays[1][0],
            "per_channel": int(per_channel),
            "output_offset": output_zp,
            "activation_min": activation[0],
            "activation_max": activation[1],
        }
        return params, arrays

    def filter_scales(self, filter_tensor: int, channels: int) -> list[np.float32]:
        """Weight scales, one per output channel (dimension 0) or one for all. TFLM's int8 kernels
        take weights as symmetric: a non-zero weight zero point is rejected."""
        q = flatbuffer.quantization(self.tensors[filter_tensor])
        if q is None:
            raise self.error("the weights have no quantization parameters")
        if any(z != 0 for z in q.zero_points):
            raise self.error("the weights are not symmetrically quantized")
        if q.per_channel:
            if len(q.scales) != channels or q.axis != 0:
                raise self.error("per-channel weight scales do not match the output channels")
            return [f32(s) for s in q.scales]
        return [f32(q.scales[0])]


def lower_alias(node: Node) -> KernelCall:
    source = node.input(0, dtypes=(INT8, INT32), constant=False)
    output = node.output(dtypes=(INT8, INT32))
    if node.dtype(source) != node.dtype(output) or node.count(source) != node.count(output):
        raise node.error("input and output differ in type or size")
    return KernelCall(kernel=None)


def lower_gather(node: Node) -> KernelCall:
    table = node.input(0)
    indices = node.input(1, dtypes=(INT32,))
    output = node.output()
    options = node.options()
    shape = node.shape(table)
    axis = int(options.axis) if options is not None else 0
    batch_dims = int(options.batchDims) if options is not None else 0
    if axis < 0:
        axis += len(shape)
    if batch_dims != 0:
        raise node.error("batch_dims other than 0 is not supported")
    if not 0 <= axis < len(shape):
        raise node.error(f"axis {axis} is out of range")
    params = {
        "outer_size": int(np.prod(shape[:axis], dtype=np.int64)),
        "axis_size": shape[axis],
        "index_count": node.count(indices),
        "inner_size": int(np.prod(shape[axis + 1 :], dtype=np.int64)),
    }
    if params["outer_size"] * params["index_count"] * params["inner_size"] != node.count(output):
        raise node.error("output size does not match the gathered size")
    return KernelCall(
        kernel="tc_gather",
        params_type="tc_gather_params",
        params=params,
        args=[("in", table, "int8_t"), ("in", indices, "int32_t"), ("out", output, "int8_t")],
    )


def lower_fully_connected(node: Node) -> KernelCall:
    options = node.options()
    if options is not None and int(options.weightsFormat) != 0:
        raise node.error("shuffled weights are not supported")
    source = node.input(0)
    weights = node.input(1)
    bias = node.optional_input(2, dtypes=(INT32,))
    output = node.output()
    weights_shape = node.shape(weights)
    if len(weights_shape) != 2:
        raise node.error("weights must be 2-D")
    output_shape = node.shape(output)
    output_depth = output_shape[-1]
    accum_depth = weights_shape[-1]
    batches = node.count(output) // output_depth
    if output_depth > weights_shape[0] or batches * accum_depth != node.count(source):
        raise node.error("input, weights and output shapes do not fit together")
    input_scale, input_zp = node.quant(source)
    output_scale, _ = node.quant(output)
    scales = node.filter_scales(weights, weights_shape[0])
    if len(scales) > 1:
        # FullyConnectedPerChannel: double(input) * double(filter) / double(output).
        reals = [float(input_scale) * float(s) / float(output_scale) for s in scales]
    else:
        # GetQuantizedConvolutionMultipler: the scale product is taken in float.
        reals = [float(f32(input_scale * scales[0])) / float(output_scale)]
    quantized = [quantize_multiplier(r) for r in reals]
    requantize, arrays = node.requantize_params(
        [m for m, _ in quantized], [s for _, s in quantized], output, node.activation(output)
    )
    return KernelCall(
        kernel="tc_fully_connected",
        params_type="tc_fully_connected_params",
        params={
            "batches": batches,
            "output_depth": output_depth,
            "accum_depth": accum_depth,
            "input_offset": -input_zp,
            "requantize": requantize,
        },
        args=[
            ("in", source, "int8_t"),
            ("in", weights, "int8_t"),
            ("in", bias, "int32_t"),
            ("out", output, "int8_t"),
        ],
        arrays=arrays,
        macs=batches * output_depth * accum_depth,
    )


def _conv_output_size(padding: int, size: int, filter_size: int, stride: int, dilation: int) -> int:
    effective = (filter_size - 1) * dilation + 1
    if padding == schema.Padding.SAME:
        return (size + stride - 1) // stride
    return (size + stride - effective) // stride


def streaming_lead(out_width: int, out_row: int, in_row: int, pad: int) -> int:
    """How far below its input a 1-row, stride-1 convolution's output may start.

    tc_conv_2d writes output row t after reading input rows t - pad ... and never reads a row
    below t - pad again, so row t may land on input bytes below row t - pad: with the input at
    output + lead, row t ends at (t + 1) * out_row, which must not pass lead + (t - pad) * in_row."""
    return max((t + 1) * out_row - max(0, t - pad) * in_row for t in range(out_width))


def pack_conv_filter(weights: np.ndarray) -> np.ndarray:
    """The layout of tc_conv_2d_params.packed_filter (kernels.h): per block of 4 output channels,
    filter row and run of 4 row values w0..w3, each channel's {w0 | w2 << 16, w1 | w3 << 16} as
    int16 halves of int32 words."""
    out_depth, filter_height, filter_width, in_depth = weights.shape
    blocks, runs = out_depth // 4, filter_width * in_depth // 4
    values = weights.astype(np.int64).reshape(blocks, 4, filter_height, runs, 4)
    values = values.transpose(0, 2, 3, 1, 4)  # block, row, run, channel, value
    even = (values[..., 0] & 0xFFFF) | (values[..., 2] << 16)
    odd = (values[..., 1] & 0xFFFF) | (values[..., 3] << 16)
    return np.stack([even, odd], axis=-1).astype(np.int32).reshape(-1)


def _conv_padding(stride: int, dilation: int, size: int, filter_size: int, out_size: int) -> int:
    effective = (filter_size - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - size, 0)
    return total // 2


def lower_conv_2d(node: Node) -> KernelCall:
    options = node.options()
    source = node.input(0)
    conv_filter = node.input(1)
    bias = node.optional_input(2, dtypes=(INT32,))
    output = node.output()
    in_shape, filter_shape, out_shape = node.shape(source), node.shape(conv_filter), node.shape(output)
    if len(in_shape) != 4 or len(filter_shape) != 4 or len(out_shape) != 4:
        raise node.error("input, filter and output must be 4-D")
    batches, in_h, in_w, in_d = in_shape
    out_d, f_h, f_w, f_in_d = filter_shape
    padding = int(options.padding)
    stride_h, stride_w = int(options.strideH), int(options.strideW)
    dil_h, dil_w = int(options.dilationHFactor), int(options.dilationWFactor)
    out_h = _conv_output_size(padding, in_h, f_h, stride_h, dil_h)
    out_w = _conv_output_size(padding, in_w, f_w, stride_w, dil_w)
    if (batches, out_h, out_w, out_d) != out_shape or in_d % f_in_d or out_d % (in_d // f_in_d):
        raise node.error("input, filter and output shapes do not fit together")
    input_scale, input_zp = node.quant(source)
    output_scale, _ = node.quant(output)
    scales = node.filter_scales(conv_filter, out_d)
    # PopulateConvolutionQuantizationParams: one multiplier per channel, per-tensor scales broadcast.
    quantized = [quantize_multiplier(float(input_scale) * float(s) / float(output_scale)) for s in scales]
    if len(quantized) == 1:
        quantized = quantized * out_d
    requantize, arrays = node.requantize_params(
        [m for m, _ in quantized], [s for _, s in quantized], output, node.activation(output)
    )
    pad_w = _conv_padding(stride_w, dil_w, in_w, f_w, out_w)
    streams = batches == 1 and in_h == 1 and out_h == 1 and stride_w == 1
    # The packed filter replaces the int8 one where the in-bounds taps of a row are contiguous in
    # the input (one group, no x-dilation), in whole runs of 4 values, for blocks of 4 channels.
    contiguous_rows = f_in_d == in_d and (dil_w == 1 or f_w == 1)
    packed = node.is_constant(conv_filter) and contiguous_rows and in_d % 4 == 0 and out_d % 4 == 0
    packed_filter = f"{node.params_name}_packed_filter" if packed else "NULL"
    return KernelCall(
        kernel="tc_conv_2d",
        params_type="tc_conv_2d_params",
        params={
            "batches": batches,
            "input_height": in_h,
            "input_width": in_w,
            "input_depth": in_d,
            "filter_height": f_h,
            "filter_width": f_w,
            "filter_input_depth": f_in_d,
            "output_height": out_h,
            "output_width": out_w,
            "output_depth": out_d,
            "stride_height": stride_h,
            "stride_width": stride_w,
            "dilation_height": dil_h,
            "dilation_width": dil_w,
            "pad_height": _conv_padding(stride_h, dil_h, in_h, f_h, out_h),
            "pad_width": pad_w,
            "input_offset": -input_zp,
            "requantize": requantize,
            "packed_filter": packed_filter,
        },
        args=[
            ("in", source, "int8_t"),
            ("in", None if packed else conv_filter, "int8_t"),
            ("in", bias, "int32_t"),
            ("out", output, "int8_t"),
        ],
        arrays=arrays,
        packed_weights=[(packed_filter, pack_conv_filter(node.constant(conv_filter)))] if packed else [],
        macs=batches * out_h * out_w * out_d * f_h * f_w * f_in_d,
        streaming_lead=streaming_lead(out_w, out_d, in_d, pad_w) if streams else None,
    )


def _batch_extents(shape: tuple[int, ...]) -> list[int]:
    """reference_ops batch_matmul::extent for the three batch dimensions of a 5-D shape."""
    return [0 if shape[i] == 1 else int(np.prod(shape[i + 1 :])) for i in range(3)]


def lower_batch_matmul(node: Node) -> KernelCall:
    options = node.options()
    lhs = node.input(0)
    rhs = node.input(1)
    output = node.output()
    adj_x, adj_y = bool(options.adjX), bool(options.adjY)
    lhs_shape, rhs_shape = node.check_rank(lhs, 5), node.check_rank(rhs, 5)
    if len(lhs_shape) < 2 or len(rhs_shape) < 2:
        raise node.error("operands must have at least 2 dimensions")
    lhs5 = (1,) * (5 - len(lhs_shape)) + lhs_shape
    rhs5 = (1,) * (5 - len(rhs_shape)) + rhs_shape
    batch_shape = []
    for a, b in zip(lhs5[:3], rhs5[:3]):
        if a != b and a != 1 and b != 1:
            raise node.error("batch dimensions do not broadcast")
        batch_shape.append(max(a, b))
    rows = lhs5[4] if adj_x else lhs5[3]
    depth = lhs5[3] if adj_x else lhs5[4]
    cols = rhs5[3] if adj_y else rhs5[4]
    rhs_depth = rhs5[4] if adj_y else rhs5[3]
    if depth != rhs_depth or int(np.prod(batch_shape)) * rows * cols != node.count(output):
        raise node.error("operand and output shapes do not fit together")
    lhs_scale, lhs_zp = node.quant(lhs)
    rhs_scale, rhs_zp = node.quant(rhs)
    output_scale, output_zp = node.quant(output)
    multiplier, shift = quantize_multiplier(float(f32(lhs_scale * rhs_scale)) / float(output_scale))
    return KernelCall(
        kernel="tc_batch_matmul",
        params_type="tc_batch_matmul_params",
        params={
            "batch_shape": batch_shape,
            "lhs_batch_strides": _batch_extents(lhs5),
            "rhs_batch_strides": _batch_extents(rhs5),
            "rows": rows,
            "cols": cols,
            "depth": depth,
            "adj_x": int(adj_x),
            "adj_y": int(adj_y),
            "lhs_offset": -lhs_zp,
            "rhs_offset": -rhs_zp,
            "output_multiplier": multiplier,
            "output_shift": shift,
            "output_offset": output_zp,
            "activation_min": INT8_MIN,
            "activation_max": INT8_MAX,
        },
        args=[("in", lhs, "int8_t"), ("in", rhs, "int8_t"), ("out", output, "int8_t")],
        macs=int(np.prod(batch_shape)) * rows * cols * depth,
    )


def _row_major_strides(shape) -> list[int]:
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return list(reversed(strides))


def _merge_dims(shape, *stride_lists) -> tuple[list[int], list[list[int]]]:
    """Drops size-1 dimensions and merges neighbours that every stride list walks contiguously."""
    kept = [d for d, size in enumerate(shape) if size != 1]
    merged_shape: list[int] = []
    merged_strides: list[list[int]] = [[] for _ in stride_lists]
    for d in kept:
        if merged_shape and all(
            strides[d] * shape[d] == merged[-1] or (strides[d] == 0 and merged[-1] == 0)
            for strides, merged in zip(stride_lists, merged_strides)
        ):
            merged_shape[-1] *= shape[d]
            for strides, merged in zip(stride_lists, merged_strides):
                if strides[d] != 0:
                    merged[-1] = strides[d]
            continue
        merged_shape.append(shape[d])
        for strides, merged in zip(stride_lists, merged_strides):
            merged.append(strides[d])
    if not merged_shape:
        return [1], [[0] for _ in stride_lists]
    return merged_shape, merged_strides


def _padded(values: list[int], length: int, fill: int) -> list[int]:
    return list(values) + [fill] * (length - len(values))


def _broadcast(node: Node, a: int, b: int, output: int) -> dict:
    a_shape, b_shape = node.check_rank(a, MAX_DIMS), node.check_rank(b, MAX_DIMS)
    rank = max(len(a_shape), len(b_shape))
    a_ext = (1,) * (rank - len(a_shape)) + a_shape
    b_ext = (1,) * (rank - len(b_shape)) + b_shape
    out_shape = []
    for x, y in zip(a_ext, b_ext):
        if x != y and x != 1 and y != 1:
            raise node.error(f"shapes {list(a_shape)} and {list(b_shape)} do not broadcast")
        out_shape.append(y if x == 1 else x)
    if int(np.prod(out_shape)) != node.count(output):
        raise node.error("output shape does not match the broadcast shape")

    def strides(ext):
        row_major = _row_major_strides(ext)
        return [0 if size == 1 and out != 1 else s for size, s, out in zip(ext, row_major, out_shape)]

    shape, (a_strides, b_strides) = _merge_dims(out_shape, strides(a_ext), strides(b_ext))
    return {
        "rank": len(shape),
        "shape": _padded(shape, MAX_DIMS, 1),
        "input1_strides": _padded(a_strides, MAX_DIMS, 0),
        "input2_strides": _padded(b_strides, MAX_DIMS, 0),
    }


def lower_add_or_sub(node: Node) -> KernelCall:
    a, b, output = node.input(0), node.input(1), node.output()
    (sa, za), (sb, zb), (so, zo) = node.quant(a), node.quant(b), node.quant(output)
    left_shift = 20
    if node.op_name == "ADD":
        # add_common.cc: the larger scale is taken in float, the ratios in double.
        twice_max = 2 * float(max(sa, sb))
        real_a = float(sa) / twice_max
        real_b = float(sb) / twice_max
        real_out = twice_max / ((1 << left_shift) * float(so))
    else:
        # sub_common.cc: every step in float.
        twice_max_f = f32(2) * max(sa, sb)
        real_a = float(f32(sa / twice_max_f))
        real_b = float(f32(sb / twice_max_f))
        real_out = float(f32(twice_max_f / (f32(1 << left_shift) * so)))
    ma, sha = quantize_multiplier_smaller_than_one(real_a, node.where)
    mb, shb = quantize_multiplier_smaller_than_one(real_b, node.where)
    mo, sho = quantize_multiplier_smaller_than_one(real_out, node.where)
    act_min, act_max = node.activation(output)
    return _rescaled_binary_call(
        node, "tc_add" if node.op_name == "ADD" else "tc_sub", a, b, output,
        left_shift, (za, ma, sha), (zb, mb, shb), (mo, sho, zo), (act_min, act_max),
    )


def _rescaled_binary_call(node: Node, kernel: str, a: int, b: int, output: int, left_shift: int,
                          first, second, out, activation) -> KernelCall:
    """first / second: (zero point, multiplier, shift) of an input; out: (multiplier, shift, zero
    point) of the output; activation: (min, max)."""
    return KernelCall(
        kernel=kernel,
        params_type="tc_rescaled_binary_params",
        params={
            "broadcast": _broadcast(node, a, b, output),
            "left_shift": left_shift,
            "input1_offset": -first[0],
            "input1_multiplier": first[1],
            "input1_shift": first[2],
            "input2_offset": -second[0],
            "input2_multiplier": second[1],
            "input2_shift": second[2],
            "output_multiplier": out[0],
            "output_shift": out[1],
            "output_offset": out[2],
            "activation_min": activation[0],
            "activation_max": activation[1],
        },
        args=[("in", a, "int8_t"), ("in", b, "int8_t"), ("out", output, "int8_t")],
    )


def lower_squared_difference(node: Node) -> KernelCall:
    a, b, output = node.input(0), node.input(1), node.output()
    (sa, za), (sb, zb), (so, zo) = node.quant(a), node.quant(b), node.quant(output)
    left_shift = 7
    twice_max = 2.0 * float(max(sa, sb))
    real_a = float(sa) / twice_max
    real_b = float(sb) / twice_max
    real_out = (twice_max * twice_max) / float(f32(1 << (left_shift * 2)) * so)
    ma, sha = quantize_multiplier_smaller_than_one(real_a, node.where)
    mb, shb = quantize_multiplier_smaller_than_one(real_b, node.where)
    mo, sho = quantize_multiplier(real_out)
    return _rescaled_binary_call(
        node, "tc_squared_difference", a, b, output,
        left_shift, (za, ma, sha), (zb, mb, shb), (mo, sho, zo), (INT8_MIN, INT8_MAX),
    )


def lower_mul(node: Node) -> KernelCall:
    a, b, output = node.input(0), node.input(1), node.output()
    (sa, za), (sb, zb), (so, zo) = node.quant(a), node.quant(b), node.quant(output)
    multiplier, shift = quantize_multiplier(float(sa) * float(sb) / float(so))
    act_min, act_max = node.activation(output)
    return KernelCall(
        kernel="tc_mul",
        params_type="tc_mul_params",
        params={
            "broadcast": _broadcast(node, a, b, output),
            "input1_offset": -za,
            "input2_offset": -zb,
            "output_multiplier": multiplier,
            "output_shift": shift,
            "output_offset": zo,
            "activation_min": act_min,
            "activation_max": act_max,
        },
        args=[("in", a, "int8_t"), ("in", b, "int8_t"), ("out", output, "int8_t")],
    )


def _reduction_shape(node: Node, source: int) -> tuple[dict, int]:
    """The tc_reduction_shape of a reduce op and the number of elements each output reduces."""
    shape = node.check_rank(source, MAX_DIMS)
    axis_tensor = node.input(1, dtypes=(INT32,), constant=True)
    axes: list[int] = []
    for axis in np.asarray(node.constant(axis_tensor)).reshape(-1).tolist():
        resolved = axis + len(shape) if axis < 0 else axis
        if not 0 <= resolved < len(shape):
            raise node.error(f"axis {axis} is out of range")
        if resolved not in axes:
            axes.append(resolved)
    strides = _row_major_strides(shape)
    kept = [d for d in range(len(shape)) if d not in axes]
    reduced = sorted(axes)
    kept_shape, (kept_strides,) = _merge_dims([shape[d] for d in kept], [strides[d] for d in kept])
    reduced_shape, (reduced_strides,) = _merge_dims(
        [shape[d] for d in reduced], [strides[d] for d in reduced]
    )
    count = int(np.prod([shape[d] for d in reduced], dtype=np.int64))
    return {
        "kept_rank": len(kept_shape),
        "kept_shape": _padded(kept_shape, MAX_DIMS, 1),
        "kept_strides": _padded(kept_strides, MAX_DIMS, 0),
        "reduced_rank": len(reduced_shape),
        "reduced_shape": _padded(reduced_shape, MAX_DIMS, 1),
        "reduced_strides": _padded(reduced_strides, MAX_DIMS, 0),
    }, count


def lower_mean_or_sum(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    shape, count = _reduction_shape(node, source)
    if count == 0 or node.count(source) // count != node.count(output):
        raise node.error("output size does not match the reduction")
    (si, zi), (so, zo) = node.quant(source), node.quant(output)
    multiplier, shift = quantize_multiplier(float(si) / float(so))
    if node.op_name == "MEAN":
        # QuantizedMeanOrSum folds 1/count into the multiplier before rescaling.
        fold = min(count.bit_length() - 1, 32, 31 + shift)
        multiplier = (multiplier << fold) // count
        shift -= fold
    return KernelCall(
        kernel="tc_reduce_sum",
        params_type="tc_reduce_sum_params",
        params={
            "shape": shape,
            "input_zero_point": zi,
            "multiplier": multiplier,
            "shift": shift,
            "output_zero_point": zo,
        },
        args=[("in", source, "int8_t"), ("out", output, "int8_t")],
    )


def lower_reduce_max(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    shape, count = _reduction_shape(node, source)
    if count == 0 or node.count(source) // count != node.count(output):
        raise node.error("output size does not match the reduction")
    if node.quant(source) != node.quant(output):
        raise node.error("input and output quantization differ, which TFLM rejects")
    return KernelCall(
        kernel="tc_reduce_max",
        params_type="tc_reduce_max_params",
        params={"shape": shape},
        args=[("in", source, "int8_t"), ("out", output, "int8_t")],
    )


def lower_softmax(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    shape = node.shape(source)
    if not shape or node.count(output) != node.count(source):
        raise node.error("input and output shapes differ")
    (si, _), (so, zo) = node.quant(source), node.quant(output)
    if zo != -128 or so != f32(1.0) / f32(256):
        raise node.error("int8 output must have scale 1/256 and zero point -128, as TFLM requires")
    beta = f32(node.options().beta)
    scaled_diff_integer_bits = 5
    real = min(float(beta) * float(si) * (1 << (31 - scaled_diff_integer_bits)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier_greater_than_one(real, node.where)
    return KernelCall(
        kernel="tc_softmax",
        params_type="tc_softmax_params",
        params={
            "outer_size": node.count(source) // shape[-1],
            "depth": shape[-1],
            "input_multiplier": multiplier,
            "input_left_shift": left_shift,
            "diff_min": -input_radius(scaled_diff_integer_bits, left_shift),
        },
        args=[("in", source, "int8_t"), ("out", output, "int8_t")],
    )


def lower_logistic_or_tanh(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    if node.count(output) != node.count(source):
        raise node.error("input and output shapes differ")
    si, zi = node.quant(source)
    if node.op_name == "LOGISTIC" and node.quant(output)[1] != -128:
        raise node.error("int8 output must have zero point -128, as TFLM requires")
    input_integer_bits = 4
    fraction, left_shift = math.frexp(float(si) * float(1 << (31 - input_integer_bits)))
    multiplier = int(round_half_away(fraction * (1 << 31)))
    if left_shift < 0 or multiplier >= 1 << 31:
        raise node.error(f"input scale {float(si)!r} is outside what the kernel handles")
    return KernelCall(
        kernel="tc_logistic" if node.op_name == "LOGISTIC" else "tc_tanh",
        params_type="tc_fixed_point_activation_params",
        params={
            "count": node.count(source),
            "input_zero_point": zi,
            "input_range_radius": input_radius(input_integer_bits, left_shift),
            "input_multiplier": multiplier,
            "input_left_shift": left_shift,
        },
        args=[("in", source, "int8_t"), ("out", output, "int8_t")],
    )


def lower_rsqrt(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    if node.count(output) != node.count(source):
        raise node.error("input and output shapes differ")
    (si, zi), (so, zo) = node.quant(source), node.quant(output)
    # elementwise.cc SetRsqrtOutputMultiplier: sqrt and product in float, reciprocal in double.
    multiplier, shift = quantize_multiplier(1.0 / float(np.sqrt(si) * so))
    return KernelCall(
        kernel="tc_rsqrt",
        params_type="tc_rsqrt_params",
        params={
            "count": node.count(source),
            "input_zero_point": zi,
            "output_zero_point": zo,
            "output_multiplier": multiplier,
            "output_shift": shift,
        },
        args=[("in", source, "int8_t"), ("out", output, "int8_t")],
    )


def lower_quantize(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    (si, zi), (so, zo) = node.quant(source), node.quant(output)
    multiplier, shift = quantize_multiplier(float(si) / float(so))
    return KernelCall(
        kernel="tc_quantize",
        params_type="tc_quantize_params",
        params={
            "count": node.count(source),
            "input_zero_point": zi,
            "output_zero_point": zo,
            "multiplier": multiplier,
            "shift": shift,
        },
        args=[("in", source, "int8_t"), ("out", output, "int8_t")],
    )


def lower_concatenation(node: Node) -> KernelCall:
    options = node.options()
    output = node.output()
    if int(options.fusedActivationFunction) != 0:
        raise node.error("a fused activation is not supported")
    inputs = [node.input(i) for i in range(len(node.inputs))]
    if len(inputs) > MAX_CONCAT_INPUTS:
        raise node.error(f"{len(inputs)} inputs; at most {MAX_CONCAT_INPUTS} are supported")
    out_shape = node.shape(output)
    axis = int(options.axis)
    if axis < 0:
        axis += len(out_shape)
    for tensor in inputs:
        if node.quant(tensor) != node.quant(output):
            raise node.error("inputs must share the output's scale and zero point, as TFLM requires")
        if len(node.shape(tensor)) != len(out_shape):
            raise node.error("inputs and output differ in rank")
    blocks = [int(np.prod(node.shape(t)[axis:], dtype=np.int64)) for t in inputs]
    outer = int(np.prod(out_shape[:axis], dtype=np.int64))
    if outer * sum(blocks) != node.count(output):
        raise node.error("input sizes do not add up to the output")
    return KernelCall(
        kernel="tc_concatenation",
        params_type="tc_concatenation_params",
        params={
            "input_count": len(inputs),
            "outer_size": outer,
            "input_block_sizes": _padded(blocks, MAX_CONCAT_INPUTS, 0),
        },
        args=[("out", output, "int8_t")],
        concat_inputs=inputs,
    )


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def lower_strided_slice(node: Node) -> KernelCall:
    options = node.options()
    source, output = node.input(0), node.output()
    begin = node.input(1, dtypes=(INT32,), constant=True)
    end = node.input(2, dtypes=(INT32,), constant=True)
    strides = node.input(3, dtypes=(INT32,), constant=True)
    shape = node.check_rank(source, 4)
    if int(options.ellipsisMask) or int(options.newAxisMask):
        raise node.error("ellipsis and new-axis masks are not supported (TFLM ignores them)")
    begins = np.asarray(node.constant(begin)).reshape(-1).tolist()
    ends = np.asarray(node.constant(end)).reshape(-1).tolist()
    steps = np.asarray(node.constant(strides)).reshape(-1).tolist()
    if not len(begins) == len(ends) == len(steps) == len(shape):
        raise node.error("begin, end and strides must have one entry per input dimension")
    if 0 in steps:
        raise node.error("a stride of 0 is not allowed")
    # StridedSlicePadIndices to 4 dimensions, then the kernel's StridedSliceStart/EndForAxis.
    pad = 4 - len(shape)
    shape4 = (1,) * pad + shape
    begins, ends, steps = [0] * pad + begins, [1] * pad + ends, [1] * pad + steps
    full = (1 << pad) - 1
    begin_mask = (int(options.beginMask) << pad) | full
    end_mask = (int(options.endMask) << pad) | full
    shrink_mask = int(options.shrinkAxisMask) << pad
    offset = bool(options.offset)
    starts, stops = [], []
    for axis in range(4):
        size, stride = shape4[axis], steps[axis]
        start = begins[axis] + size if begins[axis] < 0 else begins[axis]
        start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
        if begin_mask & (1 << axis):
            start = 0 if stride > 0 else size - 1
        if shrink_mask & (1 << axis):
            stop = start if start >= size else start + 1
        else:
            stop = ends[axis] + start if offset else ends[axis]
            stop = stop + size if stop < 0 else stop
            stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
            if end_mask & (1 << axis):
                stop = size if stride > 0 else -1
        starts.append(start)
        stops.append(stop)
    selected = 1
    for start, stop, stride in zip(starts, stops, steps):
        selected *= max(0, -(-(stop - start) // stride))
    if selected != node.count(output):
        raise node.error("the slice does not match the output size")
    return KernelCall(
        kernel="tc_strided_slice",
        params_type="tc_strided_slice_params",
        params={"input_shape": list(shape4), "start": starts, "stop": stops, "stride": steps},
        args=[("in", source, "int8_t"), ("out", output, "int8_t")],
    )


def lower_transpose(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    perm_tensor = node.input(1, dtypes=(INT32,), constant=True)
    shape = node.check_rank(source, MAX_DIMS)
    perm = np.asarray(node.constant(perm_tensor)).reshape(-1).tolist()
    if sorted(perm) != list(range(len(shape))):
        raise node.error(f"permutation {perm} does not match {len(shape)} dimensions")
    strides = _row_major_strides(shape)
    out_shape = [shape[p] for p in perm]
    if tuple(out_shape) != node.shape(output):
        raise node.error("output shape does not match the permutation")
    merged_shape, (merged_strides,) = _merge_dims(out_shape, [strides[p] for p in perm])
    return KernelCall(
        kernel="tc_transpose",
        params_type="tc_transpose_params",
        params={
            "rank": len(merged_shape),
            "output_shape": _padded(merged_shape, MAX_DIMS, 1),
            "input_strides": _padded(merged_strides, MAX_DIMS, 0),
        },
        args=[("in", source, "int8_t"), ("out", output, "int8_t")],
    )


LOWERINGS = {
    "GATHER": lower_gather,
    "FULLY_CONNECTED": lower_fully_connected,
    "CONV_2D": lower_conv_2d,
    "BATCH_MATMUL": lower_batch_matmul,
    "ADD": lower_add_or_sub,
    "SUB": lower_add_or_sub,
    "MUL": lower_mul,
    "SQUARED_DIFFERENCE": lower_squared_difference,
    "MEAN": lower_mean_or_sum,
    "SUM": lower_mean_or_sum,
    "REDUCE_MAX": lower_reduce_max,
    "SOFTMAX": lower_softmax,
    "LOGISTIC": lower_logistic_or_tanh,
    "TANH": lower_logistic_or_tanh,
    "RSQRT": lower_rsqrt,
    "QUANTIZE": lower_quantize,
    "CONCATENATION": lower_concatenation,
    "STRIDED_SLICE": lower_strided_slice,
    "TRANSPOSE": lower_transpose,
    "RESHAPE": lower_alias,
    "EXPAND_DIMS": lower_alias,
    "SQUEEZE": lower_alias,
}


def lower(node: Node) -> KernelCall:
    lowering = LOWERINGS.get(node.op_name)
    if lowering is None:
        raise ToolchainError(f"compiled backend: unsupported operator {node.op_name} (node {node.index})")
    return lowering(node)
