"""ADD, SUB and SQUARED_DIFFERENCE (TFLM kernels/add.cc, sub.cc, squared_difference.cc, int8): both
inputs are brought to a common scale, combined in int32, then rescaled to the output. They share
one params struct; each computes its factors as its own TFLM Prepare does (the precision of each
step differs)."""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.contract import CStruct
from toolchain.emit.ops.common import BroadcastShape, KernelCall, Node, broadcast_shape
from toolchain.emit.quantization import (
    INT8_MAX,
    INT8_MIN,
    f32,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one,
)

OPERATORS = ("ADD", "SUB", "SQUARED_DIFFERENCE")
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"SQUARED_DIFFERENCE": (2,)}


@dataclass(frozen=True)
class RescaledBinaryParams(CStruct):
    C_NAME = "tc_rescaled_binary_params"
    broadcast: BroadcastShape
    left_shift: int
    input1_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_offset: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    output_offset: int
    activation_min: int
    activation_max: int


def _add_factors(sa, sb, so, left_shift: int) -> tuple[float, float, float]:
    # add_common.cc: the larger scale is taken in float, the ratios in double.
    twice_max = 2 * float(max(sa, sb))
    return float(sa) / twice_max, float(sb) / twice_max, twice_max / ((1 << left_shift) * float(so))


def _sub_factors(sa, sb, so, left_shift: int) -> tuple[float, float, float]:
    # sub_common.cc: every step in float.
    twice_max = f32(2) * max(sa, sb)
    return (float(f32(sa / twice_max)), float(f32(sb / twice_max)),
            float(f32(twice_max / (f32(1 << left_shift) * so))))


def lower(node: Node) -> KernelCall:
    a, b, output = node.input(0), node.input(1), node.output()
    (sa, za), (sb, zb), (so, zo) = node.quant(a), node.quant(b), node.quant(output)
    if node.op_name == "SQUARED_DIFFERENCE":
        left_shift = 7
        twice_max = 2.0 * float(max(sa, sb))
        real_out = (twice_max * twice_max) / float(f32(1 << (left_shift * 2)) * so)
        mo, sho = quantize_multiplier(real_out, node.where)
        real_a, real_b = float(sa) / twice_max, float(sb) / twice_max
        activation = (INT8_MIN, INT8_MAX)
    else:
        left_shift = 20
        factors = _add_factors if node.op_name == "ADD" else _sub_factors
        real_a, real_b, real_out = factors(sa, sb, so, left_shift)
        mo, sho = quantize_multiplier_smaller_than_one(real_out, node.where)
        activation = node.activation(output)
    ma, sha = quantize_multiplier_smaller_than_one(real_a, node.where)
    mb, shb = quantize_multiplier_smaller_than_one(real_b, node.where)
    params = RescaledBinaryParams(
        broadcast=broadcast_shape(node, a, b, output),
        left_shift=left_shift,
        input1_offset=-za,
        input1_multiplier=ma,
        input1_shift=sha,
        input2_offset=-zb,
        input2_multiplier=mb,
        input2_shift=shb,
        output_multiplier=mo,
        output_shift=sho,
        output_offset=zo,
        activation_min=activation[0],
        activation_max=activation[1],
    )
    kernel = {"ADD": "tc_add_s8", "SUB": "tc_sub_s8", "SQUARED_DIFFERENCE": "tc_squared_difference_s8"}
    return KernelCall(kernel[node.op_name], params, (node.arg(a), node.arg(b), node.arg(output, False)))
