"""QUANTIZE from int8 to int8 (TFLM kernels/quantize.cc: a requantization)."""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.contract import CStruct
from toolchain.emit.ops.common import KernelCall, Node
from toolchain.emit.quantization import quantize_multiplier

OPERATORS = ("QUANTIZE",)
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"QUANTIZE": (1,)}


@dataclass(frozen=True)
class QuantizeParams(CStruct):
    C_NAME = "tc_quantize_params"
    count: int
    input_zero_point: int
    output_zero_point: int
    multiplier: int
    shift: int


def lower(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    if node.count(output) != node.count(source):
        raise node.error("input and output shapes differ")
    (si, zi), (so, zo) = node.quant(source), node.quant(output)
    multiplier, shift = quantize_multiplier(float(si) / float(so), node.where)
    params = QuantizeParams(count=node.count(source), input_zero_point=zi, output_zero_point=zo,
                            multiplier=multiplier, shift=shift)
    return KernelCall("tc_quantize_s8", params, (node.arg(source), node.arg(output, False)))
