"""STRIDED_SLICE (TFLM kernels/strided_slice.cc, int8, up to 4 dimensions): start, stop and stride
per dimension resolved from the masks as TFLM's StridedSlice{Start,End}ForAxis do."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.contract import CStruct, Dims4
from toolchain.emit.ops.common import INT32, KernelCall, Node

OPERATORS = ("STRIDED_SLICE",)
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


def lower(node: Node) -> KernelCall:
    options = node.options()
    if options is None or not hasattr(options, "beginMask"):
        raise node.error("the operator has no strided slice options")
    source, output = node.input(0), node.output()
    begin = node.input(1, dtypes=(INT32,), constant=True)
    end = node.input(2, dtypes=(INT32,), constant=True)
    strides = node.input(3, dtypes=(INT32,), constant=True)
    shape = node.check_rank(source, RANK)
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
    pad = RANK - len(shape)
    shape4 = (1,) * pad + shape
    begins, ends, steps = [0] * pad + begins, [1] * pad + ends, [1] * pad + steps
    full = (1 << pad) - 1
    begin_mask = (int(options.beginMask) << pad) | full
    end_mask = (int(options.endMask) << pad) | full
    shrink_mask = int(options.shrinkAxisMask) << pad
    offset = bool(options.offset)
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
    params = StridedSliceParams(input_shape=tuple(shape4), start=tuple(starts), stop=tuple(stops),
                                stride=tuple(steps))
    return KernelCall("tc_strided_slice_s8", params, (node.arg(source), node.arg(output, False)))
