"""BATCH_MATMUL (TFLM kernels/batch_matmul.cc, int8 path): up to three broadcast batch dimensions."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.contract import CStruct, Dims3
from toolchain.emit.ops.common import KernelCall, Node, input_reach
from toolchain.emit.quantization import INT8_MAX, INT8_MIN, f32, quantize_multiplier
from toolchain.flatbuffer import schema

OPERATORS = ("BATCH_MATMUL",)
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"BATCH_MATMUL": (2,)}


@dataclass(frozen=True)
class BatchMatmulParams(CStruct):
    C_NAME = "tc_batch_matmul_params"
    batch_shape: Dims3
    lhs_batch_strides: Dims3
    rhs_batch_strides: Dims3
    rows: int
    cols: int
    depth: int
    adj_x: int
    adj_y: int
    lhs_offset: int
    rhs_offset: int
    output_multiplier: int
    output_shift: int
    output_offset: int
    activation_min: int
    activation_max: int


def _batch_extents(shape: tuple[int, ...]) -> tuple[int, ...]:
    """reference_ops batch_matmul::extent for the three batch dimensions of a 5-D shape."""
    return tuple(0 if shape[i] == 1 else int(np.prod(shape[i + 1 :], dtype=np.int64)) for i in range(3))


def lower(node: Node) -> KernelCall:
    options = node.options_of(schema.BatchMatMulOptionsT, required=True)
    lhs = node.input(0)
    rhs = node.input(1)
    output = node.output()
    adj_x, adj_y = bool(options.adjX), bool(options.adjY)
    lhs_shape, rhs_shape = node.check_rank(lhs, 5), node.check_rank(rhs, 5)
    if len(lhs_shape) < 2 or len(rhs_shape) < 2:
        raise node.error("operands must have at least 2 dimensions")
    if len(node.shape(output)) < max(len(lhs_shape), len(rhs_shape)):
        raise node.error("the output has fewer dimensions than an operand, which TFLM's Prepare refuses")
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
    if depth != rhs_depth or int(np.prod(batch_shape, dtype=np.int64)) * rows * cols != node.count(output):
        raise node.error("operand and output shapes do not fit together")
    # TFLM's Prepare rewrites the output's shape to this one (ReshapeOutputTensor); a model saying
    # another has no defined result there.
    rank = max(len(lhs_shape), len(rhs_shape))
    if node.shape(output) != tuple(batch_shape[3 - (rank - 2):]) + (rows, cols):
        raise node.error(f"output shape {list(node.shape(output))} is not the product's shape")
    lhs_scale, lhs_zp = node.quant(lhs)
    rhs_scale, rhs_zp = node.quant(rhs)
    if depth * input_reach(lhs_zp) * input_reach(rhs_zp) > (1 << 31) - 1:
        raise node.error(f"depth {depth}: the int32 accumulator can overflow")
    output_scale, output_zp = node.quant(output)
    multiplier, shift = quantize_multiplier(float(f32(lhs_scale * rhs_scale)) / float(output_scale), node.where)
    params = BatchMatmulParams(
        batch_shape=tuple(batch_shape),
        lhs_batch_strides=_batch_extents(lhs5),
        rhs_batch_strides=_batch_extents(rhs5),
        rows=rows,
        cols=cols,
        depth=depth,
        adj_x=int(adj_x),
        adj_y=int(adj_y),
        lhs_offset=-lhs_zp,
        rhs_offset=-rhs_zp,
        output_multiplier=multiplier,
        output_shift=shift,
        output_offset=output_zp,
        activation_min=INT8_MIN,
        activation_max=INT8_MAX,
    )
    kernel = "tc_batch_matmul_s8_opt" if node.settings.kernels == "optimized" else "tc_batch_matmul_s8"
    return KernelCall(kernel, params, (node.arg(lhs), node.arg(rhs), node.arg(output, False)),
                      macs=int(np.prod(batch_shape, dtype=np.int64)) * rows * cols * depth)
