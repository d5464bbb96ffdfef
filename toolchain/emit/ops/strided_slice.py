"""STRIDED_SLICE (TFLM kernels/strided_slice.cc, int8, up to 4 dimensions): start, stop and stride
per dimension resolved from the masks as TFLM's StridedSlice{Start,End}ForAxis do."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toolchain.contract import CStruct, Dims4
from toolchain.emit.ops.common import INT32, KernelCall, Node
from toolchain.flatbuffer import schema

OPERATORS = ("STRIDED_SLICE",)
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"STRIDED_SLICE": (4,)}
RANK = 4


@dataclass(frozen=True)
class StridedSliceParams(CStruct):
    C_NAME = "tc_strided_slice_params"
    input_shape: Dims4
    start: Dims4
    stop: Dims4
    stride: Dims4


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _prepare_shape(shape, begins, ends, steps, begin_mask: int, end_mask: int, shrink_mask: int) -> tuple[int, ...]:
    """The output shape TFLM's Prepare demands (strided_slice_common.cc CheckOutputSize, with
    strided_slice_logic.h StartForAxis / StopForAxis on the unpadded dimensions)."""
    result = []
    for axis, size in enumerate(shape):
        stride = steps[axis]
        if size == 0:
            start = stop = 0
        else:
            start = begins[axis]
            if begin_mask & (1 << axis):
                start = -(1 << 31) if stride > 0 else (1 << 31) - 1
            start = start + size if start < 0 else start
            start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
            stop = ends[axis]
            if end_mask & (1 << axis):
                stop = (1 << 31) - 1 if stride > 0 else -(1 << 31)
            stop = stop + size if stop < 0 else stop
            stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
        if shrink_mask & (1 << axis):
            continue
        result.append(max(0, math.ceil((stop - start) / stride)))
    return tuple(result)


def lower(node: Node) -> KernelCall:
    options = node.options_of(schema.StridedSliceOptionsT, required=True)
    source, output = node.input(0), node.output()
    begin = node.input(1, dtypes=(INT32,), constant=True)
    end = node.input(2, dtypes=(INT32,), constant=True)
    strides = node.input(3, dtypes=(INT32,), constant=True)
    shape = node.check_rank(source, RANK)
    if int(options.ellipsisMask) or int(options.newAxisMask) or bool(options.offset):
        raise node.error("ellipsis and new-axis masks and offset are not supported (TFLM ignores them)")
    begins = np.asarray(node.constant(begin)).reshape(-1).tolist()
    ends = np.asarray(node.constant(end)).reshape(-1).tolist()
    steps = np.asarray(node.constant(strides)).reshape(-1).tolist()
    if not len(begins) == len(ends) == len(steps) == len(shape):
        raise node.error("begin, end and strides must have one entry per input dimension")
    if 0 in steps:
        raise node.error("a stride of 0 is not allowed")
    expected = _prepare_shape(shape, begins, ends, steps, int(options.beginMask), int(options.endMask),
                              int(options.shrinkAxisMask))
    if node.shape(output) != expected:
        raise node.error(f"output shape {list(node.shape(output))} is not the slice's shape {list(expected)}, "
                         "which TFLM's Prepare requires")
    # StridedSlicePadIndices to 4 dimensions, then the kernel's StridedSliceStart/EndForAxis.
    pad = RANK - len(shape)
    shape4 = (1,) * pad + shape
    begins, ends, steps = [0] * pad + begins, [1] * pad + ends, [1] * pad + steps
    full = (1 << pad) - 1
    begin_mask = (int(options.beginMask) << pad) | full
    end_mask = (int(options.endMask) << pad) | full
    shrink_mask = int(options.shrinkAxisMask) << pad
    starts, stops = [], []
    for axis in range(RANK):
        size, stride = shape4[axis], steps[axis]
        start = begins[axis] + size if begins[axis] < 0 else begins[axis]
        start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
        if begin_mask & (1 << axis):
            start = 0 if stride > 0 else size - 1
        if shrink_mask & (1 << axis):
            stop = start if start >= size else start + 1
        else:
            stop = ends[axis]
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
    params = StridedSliceParams(input_shape=tuple(shape4), start=tuple(starts), stop=tuple(stops),
                                stride=tuple(steps))
    return KernelCall("tc_strided_slice_s8", params, (node.arg(source), node.arg(output, False)))
