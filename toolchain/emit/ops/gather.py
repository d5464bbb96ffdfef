"""GATHER (TFLM kernels/gather.cc): rows of an int8 table (usually the embedding) by int32 index."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.contract import CStruct
from toolchain.emit.ops.common import INT32, KernelCall, Node
from toolchain.emit.ops.decode import LutParams, lut_params
from toolchain.flatbuffer import schema

OPERATORS = ("GATHER",)
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"GATHER": (2,)}


@dataclass(frozen=True)
class GatherParams(CStruct):
    C_NAME = "tc_gather_params"
    outer_size: int
    axis_size: int
    index_count: int
    inner_size: int


@dataclass(frozen=True)
class GatherLutParams(CStruct):
    """GATHER from a LUT-compressed table, read in place (ops/decode.py)."""

    C_NAME = "tc_gather_lut_params"
    gather: GatherParams
    table: LutParams


def lower(node: Node) -> KernelCall:
    table = node.input(0)
    indices = node.input(1, dtypes=(INT32,))
    output = node.output()
    options = node.options_of(schema.GatherOptionsT)
    shape = node.shape(table)
    axis = int(options.axis) if options is not None else 0
    batch_dims = int(options.batchDims) if options is not None else 0
    if axis < 0:
        axis += len(shape)
    if batch_dims != 0:
        raise node.error("batch_dims other than 0 is not supported")
    if not 0 <= axis < len(shape):
        raise node.error(f"axis {axis} is out of range")
    params = GatherParams(
        outer_size=int(np.prod(shape[:axis], dtype=np.int64)),
        axis_size=shape[axis],
        index_count=node.count(indices),
        inner_size=int(np.prod(shape[axis + 1 :], dtype=np.int64)),
    )
    if params.outer_size * params.index_count * params.inner_size != node.count(output):
        raise node.error("output size does not match the gathered size")
    # TFLM's Prepare rewrites the output's shape to this; a model that says otherwise runs on
    # undefined memory in TFLM (seen: other values than with the right shape).
    if node.shape(output) != shape[:axis] + node.shape(indices) + shape[axis + 1:]:
        raise node.error("the output shape is not the table's with the indices' shape at the axis")
    if node.is_constant(indices) and node.count(indices):
        values = np.asarray(node.constant(indices))
        if int(values.min()) < 0 or int(values.max()) >= shape[axis]:
            raise node.error("a constant index is outside the table (TFLM fails when it runs)")
    lut = node.lut(table)
    if lut is not None:
        return KernelCall("tc_gather_s8_lut", GatherLutParams(params, lut_params(lut)),
                          (node.arg(indices), node.arg(output, False)))
    return KernelCall("tc_gather_s8", params, (node.arg(table), node.arg(indices), node.arg(output, False)))
