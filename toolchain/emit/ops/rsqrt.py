"""RSQRT (TFLM kernels/elementwise.cc, int8)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.contract import CStruct
from toolchain.emit.ops.common import KernelCall, Node
from toolchain.emit.quantization import quantize_multiplier

OPERATORS = ("RSQRT",)
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"RSQRT": (1,)}


@dataclass(frozen=True)
class RsqrtParams(CStruct):
    C_NAME = "tc_rsqrt_params"
    count: int
    input_zero_point: int
    output_zero_point: int
    output_multiplier: int
    output_shift: int


def lower(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    if node.count(output) != node.count(source):
        raise node.error("input and output shapes differ")
    (si, zi), (so, zo) = node.quant(source), node.quant(output)
    if zi != -128:
        # TFLM's Eval stops on any input below the zero point ("Rsqrt is only defined for positive
        # values"); with the zero point at -128 none exists, as in every converted LayerNorm.
        raise node.error(f"input zero point {zi}: inputs below it are negative, which TFLM refuses when it runs")
    # elementwise.cc SetRsqrtOutputMultiplier: sqrt and product in float, reciprocal in double.
    multiplier, shift = quantize_multiplier(1.0 / float(np.sqrt(si) * so), node.where)
    params = RsqrtParams(count=node.count(source), input_zero_point=zi, output_zero_point=zo,
                         output_multiplier=multiplier, output_shift=shift)
    return KernelCall("tc_rsqrt_s8", params, (node.arg(source), node.arg(output, False)))
