"""MEAN, SUM and REDUCE_MAX (TFLM kernels/reduce.cc, int8 path). MEAN and SUM share one kernel:
MEAN's 1/count is folded into the multiplier as TFLM's Eval folds it."""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.contract import CStruct
from toolchain.emit.ops.common import KernelCall, Node, ReductionShape, input_reach, reduction_shape
from toolchain.emit.quantization import quantize_multiplier

OPERATORS = ("MEAN", "SUM", "REDUCE_MAX")
# Inputs TFLM's Prepare insists on (its TF_LITE_ENSURE_EQ(NumInputs(node), n)); absent optional ones count.
INPUT_COUNTS = {"MEAN": (2,), "SUM": (2,), "REDUCE_MAX": (2,)}


@dataclass(frozen=True)
class ReduceSumParams(CStruct):
    C_NAME = "tc_reduce_sum_params"
    shape: ReductionShape
    input_zero_point: int
    multiplier: int
    shift: int
    output_zero_point: int


@dataclass(frozen=True)
class ReduceMaxParams(CStruct):
    C_NAME = "tc_reduce_max_params"
    shape: ReductionShape


def lower(node: Node) -> KernelCall:
    source, output = node.input(0), node.output()
    shape, count = reduction_shape(node, source)
    if count == 0 or node.count(source) // count != node.count(output):
        raise node.error("output size does not match the reduction")
    optimized = node.settings.kernels == "optimized"
    args = (node.arg(source), node.arg(output, False))
    if node.op_name == "REDUCE_MAX":
        if node.quant(source) != node.quant(output):
            raise node.error("input and output quantization differ, which TFLM rejects")
        return KernelCall("tc_reduce_max_s8_opt" if optimized else "tc_reduce_max_s8",
                          ReduceMaxParams(shape=shape), args)
    (si, zi), (so, zo) = node.quant(source), node.quant(output)
    if count * input_reach(zi) > (1 << 31) - 1:
        raise node.error(f"{count} values per output: the int32 sum can overflow")
    multiplier, shift = quantize_multiplier(float(si) / float(so), node.where)
    if node.op_name == "MEAN":
        # QuantizedMeanOrSum folds 1/count into the multiplier before rescaling.
        fold = max(0, min(count.bit_length() - 1, 32, 31 + shift))
        multiplier = (multiplier << fold) // count
        shift -= fold
    params = ReduceSumParams(shape=shape, input_zero_point=zi, multiplier=multiplier, shift=shift,
                             output_zero_point=zo)
    return KernelCall("tc_reduce_sum_s8_opt" if optimized else "tc_reduce_sum_s8", params, args)
