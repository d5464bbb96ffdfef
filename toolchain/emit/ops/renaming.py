"""RESHAPE, EXPAND_DIMS, SQUEEZE: no code; the output shares the input's bytes. What TFLM's
Prepare checks of each is checked here (reshape_common.cc, expand_dims.cc, squeeze.cc)."""
from __future__ import annotations

import numpy as np

from toolchain.emit.ops.common import INT8, INT32, KernelCall, Node
from toolchain.flatbuffer import schema

OPERATORS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"RESHAPE": (1, 2), "EXPAND_DIMS": (2,), "SQUEEZE": (1,)}
MAX_SQUEEZE_DIMS = 8  # squeeze.cc


def _expanded_shape(node: Node, shape: tuple[int, ...]) -> tuple[int, ...]:
    axis_tensor = node.input(1, dtypes=(INT32,), constant=True)
    values = np.asarray(node.constant(axis_tensor)).reshape(-1)
    if len(node.shape(axis_tensor)) > 1 or not values.size:
        raise node.error("the axis must be one value")
    axis = int(values[0])
    axis = axis + len(shape) + 1 if axis < 0 else axis
    if not 0 <= axis <= len(shape):
        raise node.error(f"axis {int(values[0])} is out of range")
    return shape[:axis] + (1,) + shape[axis:]


def _squeezed_shape(node: Node, shape: tuple[int, ...]) -> tuple[int, ...]:
    options = node.options_of(schema.SqueezeOptionsT)
    dims = [int(d) for d in options.squeezeDims] if options is not None and options.squeezeDims is not None else []
    if len(shape) > MAX_SQUEEZE_DIMS:
        raise node.error(f"{len(shape)} dimensions; TFLM squeezes at most {MAX_SQUEEZE_DIMS}")
    squeeze = [False] * len(shape)
    if not dims:
        squeeze = [size == 1 for size in shape]
    for dim in dims:
        current = dim + len(shape) if dim < 0 else dim
        if not 0 <= current < len(shape) or shape[current] != 1:
            raise node.error(f"dimension {dim} cannot be squeezed")
        squeeze[current] = True
    return tuple(size for size, drop in zip(shape, squeeze) if not drop)


def lower(node: Node) -> KernelCall:
    source = node.input(0, dtypes=(INT8, INT32), constant=False)
    output = node.output(dtypes=(INT8, INT32))
    if node.dtype(source) != node.dtype(output) or node.count(source) != node.count(output):
        raise node.error("input and output differ in type or size")
    if node.count(source) == 0:
        raise node.error("the tensor is empty")
    expected = None
    if node.op_name == "EXPAND_DIMS":
        expected = _expanded_shape(node, node.shape(source))
    elif node.op_name == "SQUEEZE":
        expected = _squeezed_shape(node, node.shape(source))
    if expected is not None and node.shape(output) != expected:
        raise node.error(f"output shape {list(node.shape(output))} should be {list(expected)}")
    return KernelCall(kernel=None)
