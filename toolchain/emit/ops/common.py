"""What every operator's lowering shares: typed access to one operator of the model (`Node`), the
lowered call (`KernelCall` and its arguments), and the Prepare-time helpers several operators use
(requantization params, broadcast and reduction shapes). As TFLM pairs `fully_connected.cc` with
`fully_connected_common.cc`, each operator lives in its own module beside this one.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from toolchain import flatbuffer
from toolchain.compression import LutTensor
from toolchain.contract import MAX_DIMS, ConstArray, CStruct, Dims, check_range
from toolchain.emit.quantization import activation_range, f32
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import TfliteModel, schema

INT8 = schema.TensorType.INT8
INT32 = schema.TensorType.INT32
C_TYPES = {INT8: "int8_t", INT32: "int32_t"}
# The builtin options type of each operator whose lowering reads options (Node.options).
OPTIONS_TYPES = {
    "ADD": schema.AddOptionsT,
    "SUB": schema.SubOptionsT,
    "MUL": schema.MulOptionsT,
    "CONV_2D": schema.Conv2DOptionsT,
    "FULLY_CONNECTED": schema.FullyConnectedOptionsT,
    "GATHER": schema.GatherOptionsT,
    "CONCATENATION": schema.ConcatenationOptionsT,
    "SOFTMAX": schema.SoftmaxOptionsT,
    "STRIDED_SLICE": schema.StridedSliceOptionsT,
    "BATCH_MATMUL": schema.BatchMatMulOptionsT,
}


# ------------------------------------------------------------------------------ the lowered call


@dataclass(frozen=True)
class TensorArg:
    """A tensor passed to a kernel: an activation in the arena or a constant of the model."""

    tensor: int
    c_type: str
    is_input: bool


@dataclass(frozen=True)
class NullArg:
    """NULL for an optional tensor the operator does not have (a bias)."""


@dataclass(frozen=True)
class ArrayArg:
    """A constant laid out anew for the kernel (a packed filter), passed in place of a tensor."""

    array: ConstArray


@dataclass(frozen=True)
class TensorListArg:
    """CONCATENATION's inputs, passed as an array of pointers."""

    tensors: tuple[int, ...]


Arg = TensorArg | NullArg | ArrayArg | TensorListArg


@dataclass(frozen=True)
class SharedArray(ConstArray):
    """Constant data a params struct points to that belongs to the model rather than to one call
    (the index bytes and value tables of a LUT-compressed tensor, which several operators may
    read): emitted once, among the model's constant tensors."""

    tensor: int  # the model tensor it comes from


@dataclass(frozen=True)
class KernelCall:
    """One lowered operator: the C kernel, its params and its arguments (after the params, in the
    kernel's order). `kernel` is None for the renaming operators, whose output shares the input's
    bytes."""

    kernel: str | None
    params: CStruct | None = None
    args: tuple[Arg, ...] = ()
    macs: int = 0  # multiply-accumulates (FULLY_CONNECTED, CONV_2D, BATCH_MATMUL), else 0
    # Bytes by which the output may start before its input and overlap it, because the kernel
    # writes each output row only after it has read the input rows it needs (see
    # conv_2d.streaming_lead). None: input and output must not overlap.
    streaming_lead: int | None = None
    # With no kernel: whether the output is the input's bytes under another name (RESHAPE, ...);
    # False for DECODE, whose outputs are read in place by their consumers (ops/decode.py).
    aliases_input: bool = True

    def arrays(self) -> list[ConstArray]:
        """The const arrays the call needs emitted with it: the params' and those passed as
        arguments (SharedArrays are emitted with the model's constants instead)."""
        found = self.params.arrays() if self.params is not None else []
        found += [arg.array for arg in self.args if isinstance(arg, ArrayArg)]
        return [array for array in found if not isinstance(array, SharedArray)]

    def shared_arrays(self) -> list[SharedArray]:
        found = self.params.arrays() if self.params is not None else []
        return [array for array in found if isinstance(array, SharedArray)]


@dataclass(frozen=True)
class Options:
    """How the compiler lowers: `kernels` "optimized" (the _opt kernels where they apply) or
    "reference" (TFLM's plain loops everywhere); `packed_filters` widens convolution filters to the
    interleaved int16 layout of the 4-channel dot product (pays off with SMLAD: DSP cores)."""

    kernels: str = "optimized"
    packed_filters: bool = True

    def __post_init__(self):
        if self.kernels not in ("optimized", "reference"):
            raise ToolchainError(f"kernels must be 'optimized' or 'reference', not {self.kernels!r}")


# ------------------------------------------------------------------------------------ the node


def _type_names(dtypes) -> str:
    return ", ".join(flatbuffer.tensor_type_name(t) for t in dtypes)


class Node:
    """One operator of the model with typed access to its tensors and TFLM's Prepare checks.
    `compressed` maps the DECODE outputs of a LUT-compressed model to what they decode
    (toolchain.compression.read): to the lowerings they are constants."""

    def __init__(self, model: TfliteModel, index: int, settings: Options = Options(),
                 compressed: Mapping[int, LutTensor] | None = None):
        self.model = model
        self.index = index
        self.settings = settings
        self.compressed = compressed or {}
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
        return int(np.prod(self.shape(index), dtype=np.int64)) if self.shape(index) else 1

    def is_constant(self, index: int) -> bool:
        return index in self.compressed or self.model.buffer_data(self.tensors[index]) is not None

    def constant(self, index: int) -> np.ndarray:
        """A constant's values (a compressed one decoded, as TFLM's DECODE would)."""
        if index in self.compressed:
            return self.compressed[index].decode()
        return self.model.constant(index)

    def lut(self, index: int) -> LutTensor | None:
        """The LUT-compressed int8 tensor an input reads, for the kernels that read it in place."""
        lut = self.compressed.get(index)
        return lut if lut is not None and lut.tensor_type == INT8 else None

    def dtype(self, index: int) -> int:
        return self.tensors[index].type

    def quant(self, index: int) -> tuple[np.float32, int]:
        """Per-tensor (scale as float32, zero point); a scale that is not a positive finite float32
        or a zero point outside the tensor's type is refused."""
        q = flatbuffer.quantization(self.tensors[index])
        if q is None:
            raise self.error(f"tensor {self.name(index)!r} has no quantization parameters")
        if q.per_channel:
            raise self.error(f"tensor {self.name(index)!r} is quantized per channel")
        scale, zero_point = f32(q.scales[0]), q.zero_points[0]
        if not (np.isfinite(scale) and scale > 0):
            raise self.error(f"tensor {self.name(index)!r} has scale {float(scale)!r}")
        c_type = C_TYPES.get(self.dtype(index), "int32_t")
        check_range(zero_point, c_type, f"{self.where}: zero point of tensor {self.name(index)!r}")
        return scale, zero_point

    def name(self, index: int) -> str:
        return flatbuffer.decode_name(self.tensors[index].name)

    def type_name(self, index: int) -> str:
        return flatbuffer.tensor_type_name(self.dtype(index))

    def options_of(self, kind: type, required: bool = False):
        """The operator's builtin options, checked to be `kind` (e.g. schema.Conv2DOptionsT).

        A damaged model can pair an operator with another operator's options (the opcode changed
        under them) or with none. TFLite Micro then reads none (builtin_options_as_X() is null) and
        runs with zeroed params; the compiler refuses options of another type outright, and
        missing options where the operator needs them (`required`); otherwise None means TFLM's
        defaults (all fields zero)."""
        options = self.op.builtinOptions
        if options is None:
            if required:
                raise self.error("the operator has no options")
            return None
        if not isinstance(options, kind):
            raise self.error(f"the operator carries {type(options).__name__.removesuffix('T')}, "
                             f"not {kind.__name__.removesuffix('T')} (a damaged model)")
        bias_type = getattr(options, "quantizedBiasType", None)
        if bias_type is not None and bias_type not in flatbuffer.TENSOR_TYPE_NAMES:
            # TFLM's parser converts it to a tensor type and refuses the model if it cannot.
            raise self.error(f"quantized bias type {bias_type} is not a tensor type")
        return options

    def options(self):
        """The builtin options, checked against the type this operator takes (OPTIONS_TYPES)."""
        kind = OPTIONS_TYPES.get(self.op_name)
        if kind is None:
            raise self.error("the compiled backend reads no options for this operator")
        return self.options_of(kind)

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
        """The fused activation's clamp range; the options must be this operator's own."""
        options = self.options()
        code = int(options.fusedActivationFunction) if options is not None else 0
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

    def arg(self, tensor: int | None, is_input: bool = True) -> TensorArg | NullArg:
        if tensor is None:
            return NullArg()
        return TensorArg(tensor, C_TYPES[self.dtype(tensor)], is_input)

    def array(self, suffix: str, c_type: str, values) -> ConstArray:
        return ConstArray(f"{self.params_name}_{suffix}", c_type, np.asarray(values))

    def filter_scales(self, filter_tensor: int, channels: int) -> list[np.float32]:
        """Weight scales, one per output channel (dimension 0) or one for all. TFLM's int8 kernels
        take weights as symmetric: a non-zero weight zero point is rejected."""
        q = flatbuffer.quantization(self.tensors[filter_tensor])
        if q is None:
            raise self.error("the weights have no quantization parameters")
        if any(z != 0 for z in q.zero_points):
            raise self.error("the weights are not symmetrically quantized")
        if not all(np.isfinite(f32(s)) and f32(s) > 0 for s in q.scales):
            raise self.error("a weight scale is not a positive finite number")
        if q.per_channel:
            if len(q.scales) != channels or q.axis != 0:
                raise self.error("per-channel weight scales do not match the output channels")
            return [f32(s) for s in q.scales]
        return [f32(q.scales[0])]


# ------------------------------------------------------------------ accumulator range (int32)


def input_reach(zero_point: int) -> int:
    """The largest |q - zero point| an int8 input can take."""
    return max(abs(-128 - zero_point), abs(127 - zero_point))


def check_accumulator(node: Node, weights: int, bias: int | None, input_zero_point: int, depth: int) -> None:
    """The multiply-accumulate kernels sum `depth` products (input - zero point) * weight and the
    bias in int32, as TFLM does. A model whose worst case leaves int32 (a damaged bias or a huge
    depth) would overflow: undefined behaviour in C. Refused, from the weights themselves when
    they are constants (per output channel, axis 0), else from the worst weight."""
    reach = input_reach(input_zero_point)
    if node.is_constant(weights):
        values = np.asarray(node.constant(weights), dtype=np.int64)
        worst = np.abs(values).reshape(max(values.shape[0], 1) if values.ndim else 1, -1).sum(axis=1) * reach
    else:
        worst = np.array([depth * 128 * reach], dtype=np.int64)
    if bias is not None:
        if not node.is_constant(bias):
            raise node.error("the bias is not a constant")
        worst = worst + np.abs(np.asarray(node.constant(bias), dtype=np.int64)).reshape(-1)
    if int(worst.max(initial=0)) > (1 << 31) - 1:
        raise node.error("the int32 accumulator can overflow (a bias or weight sum out of range)")


# ------------------------------------------------------------------------ shared params structs


@dataclass(frozen=True)
class RequantizeParams(CStruct):
    """tc_requantize_params: an int32 accumulator to int8, per channel or one multiplier for all."""

    C_NAME = "tc_requantize_params"
    multipliers: ConstArray
    shifts: ConstArray
    per_channel: int
    output_offset: int
    activation_min: int
    activation_max: int


def requantize_params(node: Node, multipliers, shifts, output: int, activation) -> RequantizeParams:
    _, output_zp = node.quant(output)
    return RequantizeParams(
        multipliers=node.array("multipliers", "int32_t", list(multipliers)),
        shifts=node.array("shifts", "int32_t", list(shifts)),
        per_channel=int(len(multipliers) > 1),
        output_offset=output_zp,
        activation_min=activation[0],
        activation_max=activation[1],
    )


@dataclass(frozen=True)
class BroadcastShape(CStruct):
    C_NAME = "tc_broadcast_shape"
    rank: int
    shape: Dims
    input1_strides: Dims
    input2_strides: Dims


@dataclass(frozen=True)
class ReductionShape(CStruct):
    C_NAME = "tc_reduction_shape"
    kept_rank: int
    kept_shape: Dims
    kept_strides: Dims
    reduced_rank: int
    reduced_shape: Dims
    reduced_strides: Dims


# ------------------------------------------------------------------------------ shape helpers


def row_major_strides(shape) -> list[int]:
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return list(reversed(strides))


def merge_dims(shape, *stride_lists) -> tuple[list[int], list[list[int]]]:
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


def padded(values, length: int, fill: int) -> tuple[int, ...]:
    return tuple(values) + (fill,) * (length - len(values))


def broadcast_shape(node: Node, a: int, b: int, output: int) -> BroadcastShape:
    a_shape, b_shape = node.check_rank(a, MAX_DIMS), node.check_rank(b, MAX_DIMS)
    rank = max(len(a_shape), len(b_shape))
    a_ext = (1,) * (rank - len(a_shape)) + a_shape
    b_ext = (1,) * (rank - len(b_shape)) + b_shape
    out_shape = []
    for x, y in zip(a_ext, b_ext):
        if x != y and x != 1 and y != 1:
            raise node.error(f"shapes {list(a_shape)} and {list(b_shape)} do not broadcast")
        out_shape.append(y if x == 1 else x)
    if int(np.prod(out_shape, dtype=np.int64)) != node.count(output):
        raise node.error("output shape does not match the broadcast shape")
    # Inputs of one shape are combined element by element, whatever the output's shape; otherwise
    # TFLM walks the output's shape, which must then be the broadcast shape (leading 1s aside).
    out_given = node.check_rank(output, MAX_DIMS)
    if a_shape != b_shape and (1,) * (MAX_DIMS - len(out_given)) + out_given != (1,) * (MAX_DIMS - rank) + tuple(
            out_shape):
        raise node.error(f"output shape {list(out_given)} is not the broadcast shape {out_shape}")

    def strides(ext):
        row_major = row_major_strides(ext)
        return [0 if size == 1 and out != 1 else s for size, s, out in zip(ext, row_major, out_shape)]

    shape, (a_strides, b_strides) = merge_dims(out_shape, strides(a_ext), strides(b_ext))
    return BroadcastShape(
        rank=len(shape),
        shape=padded(shape, MAX_DIMS, 1),
        input1_strides=padded(a_strides, MAX_DIMS, 0),
        input2_strides=padded(b_strides, MAX_DIMS, 0),
    )


def reduction_shape(node: Node, source: int) -> tuple[ReductionShape, int]:
    """The reduction shape of a reduce op and the number of elements each output reduces."""
    shape = node.check_rank(source, MAX_DIMS)
    axis_tensor = node.input(1, dtypes=(INT32,), constant=True)
    axes: list[int] = []
    for axis in np.asarray(node.constant(axis_tensor)).reshape(-1).tolist():
        resolved = axis + len(shape) if axis < 0 else axis
        if not 0 <= resolved < len(shape):
            raise node.error(f"axis {axis} is out of range")
        if resolved not in axes:
            axes.append(resolved)
    strides = row_major_strides(shape)
    kept = [d for d in range(len(shape)) if d not in axes]
    reduced = sorted(axes)
    kept_shape, (kept_strides,) = merge_dims([shape[d] for d in kept], [strides[d] for d in kept])
    reduced_shape, (reduced_strides,) = merge_dims([shape[d] for d in reduced], [strides[d] for d in reduced])
    count = int(np.prod([shape[d] for d in reduced], dtype=np.int64))
    return ReductionShape(
        kept_rank=len(kept_shape),
        kept_shape=padded(kept_shape, MAX_DIMS, 1),
        kept_strides=padded(kept_strides, MAX_DIMS, 0),
        reduced_rank=len(reduced_shape),
        reduced_shape=padded(reduced_shape, MAX_DIMS, 1),
        reduced_strides=padded(reduced_strides, MAX_DIMS, 0),
    ), count

