"""MUL (TFLM kernels/mul.cc, int8 path), with broadcasting."""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.contract import CStruct
from toolchain.emit.ops.common import BroadcastShape, KernelCall, Node, broadcast_shape
from toolchain.emit.quantization import quantize_multiplier

OPERATORS = ("MUL",)
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"MUL": (2,)}


@dataclass(frozen=True)
class MulParams(CStruct):
    C_NAME = "tc_mul_params"
    broadcast: BroadcastShape
    input1_offset: int
    input2_offset: int
    output_multiplier: int
    output_shift: int
    output_offset: int
    activation_min: int
    activation_max: int


def lower(node: Node) -> KernelCall:
    a, b, output = node.input(0), node.input(1), node.output()
    (sa, za), (sb, zb), (so, zo) = node.quant(a), node.quant(b), node.quant(output)
    multiplier, shift = quantize_multiplier(float(sa) * float(sb) / float(so), node.where)
    act_min, act_max = node.activation(output)
    params = MulParams(
        broadcast=broadcast_shape(node, a, b, output),
        input1_offset=-za,
        input2_offset=-zb,
        output_multiplier=multiplier,
        output_shift=shift,
        output_offset=zo,
        activation_min=act_min,
        activation_max=act_max,
    )
    return KernelCall("tc_mul_s8", params, (node.arg(a), node.arg(b), node.arg(output, False)))
