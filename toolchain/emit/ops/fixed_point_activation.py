"""LOGISTIC and TANH (TFLM kernels/logistic.cc, tanh.cc, int8): the input rescaled to Q4.27, then
gemmlowp's fixed-point function."""
from __future__ import annotations

import math
from dataclasses import dataclass

from toolchain.contract import CStruct
from toolchain.emit.ops.common import KernelCall, Node
from toolchain.emit.quantization import input_radius, round_half_away

OPERATORS = ("LOGISTIC", "TANH")
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"TANH": (1,)}
INPUT_INTEGER_BITS = 4


@dataclass(frozen=True)
class FixedPointActivationParams(CStruct):
    C_NAME = "tc_fixed_point_activation_params"
    count: int
    input_zero_point: int
    input_range_radius: int
    input_multiplier: int
    input_left_shift: int


def lower(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    if node.count(output) != node.count(source):
        raise node.error("input and output shapes differ")
    si, zi = node.quant(source)
    node.quant(output)  # checked even where the kernel ignores it, as TFLM's Prepare reads it
    if node.op_name == "LOGISTIC" and node.quant(output)[1] != -128:
        raise node.error("int8 output must have zero point -128, as TFLM requires")
    fraction, left_shift = math.frexp(float(si) * float(1 << (31 - INPUT_INTEGER_BITS)))
    multiplier = int(round_half_away(fraction * (1 << 31)))
    if not 0 <= left_shift <= 30 or multiplier >= 1 << 31:
        raise node.error(f"input scale {float(si)!r} is outside what the kernel handles")
    params = FixedPointActivationParams(
        count=node.count(source),
        input_zero_point=zi,
        input_range_radius=input_radius(INPUT_INTEGER_BITS, left_shift),
        input_multiplier=multiplier,
        input_left_shift=left_shift,
    )
    kernel = "tc_logistic_s8" if node.op_name == "LOGISTIC" else "tc_tanh_s8"
    return KernelCall(kernel, params, (node.arg(source), node.arg(output, False)))
