"""TRANSPOSE (TFLM kernels/transpose.cc, int8): the output in order, the input through permuted
strides."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.contract import MAX_DIMS, CStruct, Dims
from toolchain.emit.ops.common import INT32, KernelCall, Node, merge_dims, padded, row_major_strides

OPERATORS = ("TRANSPOSE",)
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"TRANSPOSE": (2,)}


@dataclass(frozen=True)
class TransposeParams(CStruct):
    C_NAME = "tc_transpose_params"
    rank: int
    output_shape: Dims
    input_strides: Dims


def lower(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    perm_tensor = node.input(1, dtypes=(INT32,), constant=True)
    shape = node.check_rank(source, MAX_DIMS)
    perm = np.asarray(node.constant(perm_tensor)).reshape(-1).tolist()
    if sorted(perm) != list(range(len(shape))):
        raise node.error(f"permutation {perm} does not match {len(shape)} dimensions")
    strides = row_major_strides(shape)
    out_shape = [shape[p] for p in perm]
    if tuple(out_shape) != node.shape(output):
        raise node.error("output shape does not match the permutation")
    merged_shape, (merged_strides,) = merge_dims(out_shape, [strides[p] for p in perm])
    params = TransposeParams(rank=len(merged_shape), output_shape=padded(merged_shape, MAX_DIMS, 1),
                             input_strides=padded(merged_strides, MAX_DIMS, 0))
    return KernelCall("tc_transpose_s8", params, (node.arg(source), node.arg(output, False)))
