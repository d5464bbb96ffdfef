"""CONCATENATION (TFLM kernels/concatenation.cc, int8): a copy, the inputs sharing the output's
quantization."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.contract import MAX_CONCAT_INPUTS, ConcatSizes, CStruct
from toolchain.emit.ops.common import KernelCall, Node, TensorListArg, padded
from toolchain.flatbuffer import schema

OPERATORS = ("CONCATENATION",)


@dataclass(frozen=True)
class ConcatenationParams(CStruct):
    C_NAME = "tc_concatenation_params"
    input_count: int
    outer_size: int
    input_block_sizes: ConcatSizes


def lower(node: Node) -> KernelCall:
    options = node.options_of(schema.ConcatenationOptionsT, required=True)
    output = node.output()
    if int(options.fusedActivationFunction) != 0:
        raise node.error("a fused activation is not supported")
    inputs = [node.input(i) for i in range(len(node.inputs))]
    if not 1 <= len(inputs) <= MAX_CONCAT_INPUTS:
        raise node.error(f"{len(inputs)} inputs; 1 to {MAX_CONCAT_INPUTS} are supported")
    out_shape = node.shape(output)
    axis = int(options.axis)
    if axis < 0:
        axis += len(out_shape)
    if not 0 <= axis < len(out_shape):
        raise node.error(f"axis {int(options.axis)} is out of range")
    for tensor in inputs:
        if node.quant(tensor) != node.quant(output):
            raise node.error("inputs must share the output's scale and zero point, as TFLM requires")
        shape = node.shape(tensor)
        if len(shape) != len(out_shape) or shape[:axis] != out_shape[:axis] or shape[axis + 1:] != out_shape[axis + 1:]:
            raise node.error("input and output shapes differ outside the concatenation axis")
    blocks = [int(np.prod(node.shape(t)[axis:], dtype=np.int64)) for t in inputs]
    outer = int(np.prod(out_shape[:axis], dtype=np.int64))
    if outer * sum(blocks) != node.count(output):
        raise node.error("input sizes do not add up to the output")
    params = ConcatenationParams(input_count=len(inputs), outer_size=outer,
                                 input_block_sizes=padded(blocks, MAX_CONCAT_INPUTS, 0))
    return KernelCall("tc_concatenation_s8", params, (TensorListArg(tuple(inputs)), node.arg(output, False)))
