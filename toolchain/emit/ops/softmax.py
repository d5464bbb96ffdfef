"""SOFTMAX (TFLM kernels/softmax.cc, int8 in and out) over the last dimension."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.contract import CStruct
from toolchain.emit.ops.common import KernelCall, Node
from toolchain.emit.quantization import f32, input_radius, quantize_multiplier_greater_than_one
from toolchain.flatbuffer import schema

OPERATORS = ("SOFTMAX",)
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"SOFTMAX": (1,)}
SCALED_DIFF_INTEGER_BITS = 5


@dataclass(frozen=True)
class SoftmaxParams(CStruct):
    C_NAME = "tc_softmax_params"
    outer_size: int
    depth: int
    input_multiplier: int
    input_left_shift: int
    diff_min: int


def lower(node: Node) -> KernelCall:
    options = node.options_of(schema.SoftmaxOptionsT, required=True)
    source, output = node.input(0), node.output()
    shape = node.shape(source)
    # TFLM's kernel walks the input's shape and assumes the output's is the same (MatchingDim is
    # only a debug check): a model where they differ has no defined result.
    if not shape or shape[-1] == 0 or node.shape(output) != shape:
        raise node.error("input and output shapes differ or are empty")
    (si, _), (so, zo) = node.quant(source), node.quant(output)
    if zo != -128 or so != f32(1.0) / f32(256):
        raise node.error("int8 output must have scale 1/256 and zero point -128, as TFLM requires")
    beta = f32(options.beta)
    if not (np.isfinite(beta) and beta > 0):
        raise node.error(f"beta {float(beta)!r} is not a positive finite number")
    real = min(float(beta) * float(si) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier_greater_than_one(real, node.where)
    params = SoftmaxParams(
        outer_size=node.count(source) // shape[-1],
        depth=shape[-1],
        input_multiplier=multiplier,
        input_left_shift=left_shift,
        diff_min=-input_radius(SCALED_DIFF_INTEGER_BITS, left_shift),
    )
    return KernelCall("tc_softmax_s8", params, (node.arg(source), node.arg(output, False)))
