"""FULLY_CONNECTED (TFLM kernels/fully_connected.cc, int8 path): per-tensor or per-channel weights."""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.contract import CStruct
from toolchain.emit.ops.common import INT32, KernelCall, Node, RequantizeParams, check_accumulator, requantize_params
from toolchain.emit.ops.decode import LutParams, lut_params
from toolchain.emit.quantization import quantize_multiplier
from toolchain.flatbuffer import schema

OPERATORS = ("FULLY_CONNECTED",)


@dataclass(frozen=True)
class FullyConnectedParams(CStruct):
    C_NAME = "tc_fully_connected_params"
    batches: int
    output_depth: int
    accum_depth: int
    input_offset: int
    requantize: RequantizeParams


@dataclass(frozen=True)
class FullyConnectedLutParams(CStruct):
    """FULLY_CONNECTED with LUT-compressed weights, read in place (ops/decode.py)."""

    C_NAME = "tc_fully_connected_lut_params"
    fully_connected: FullyConnectedParams
    weights: LutParams


def lower(node: Node) -> KernelCall:
    options = node.options_of(schema.FullyConnectedOptionsT)
    if options is not None and int(options.weightsFormat) != 0:
        raise node.error("shuffled weights are not supported")
    source = node.input(0)
    weights = node.input(1)
    bias = node.optional_input(2, dtypes=(INT32,))
    output = node.output()
    weights_shape = node.shape(weights)
    if len(weights_shape) != 2 or 0 in weights_shape:
        raise node.error("weights must be 2-D and non-empty")
    output_shape = node.shape(output)
    if not output_shape or output_shape[-1] == 0:
        raise node.error("the output is empty")
    output_depth = output_shape[-1]
    accum_depth = weights_shape[-1]
    batches = node.count(output) // output_depth
    if (output_depth > weights_shape[0] or batches * output_depth != node.count(output)
            or batches * accum_depth != node.count(source)):
        raise node.error("input, weights and output shapes do not fit together")
    if bias is not None and node.count(bias) != weights_shape[0]:
        raise node.error("the bias does not have one value per output channel")
    input_scale, input_zp = node.quant(source)
    output_scale, _ = node.quant(output)
    check_accumulator(node, weights, bias, input_zp, accum_depth)
    scales = node.filter_scales(weights, weights_shape[0])
    if len(scales) > 1:
        # FullyConnectedPerChannel: double(input) * double(filter) / double(output).
        reals = [float(input_scale) * float(s) / float(output_scale) for s in scales]
    else:
        # GetQuantizedConvolutionMultipler(..., bias, ...): the scale product is taken in double in
        # the pip tflite-micro build (a float product gives a multiplier a few units lower, which
        # changed 4 of 7,000 outputs of a test model at rounding ties).
        reals = [float(input_scale) * float(scales[0]) / float(output_scale)]
    quantized = [quantize_multiplier(r, node.where) for r in reals]
    params = FullyConnectedParams(
        batches=batches,
        output_depth=output_depth,
        accum_depth=accum_depth,
        input_offset=-input_zp,
        requantize=requantize_params(
            node, [m for m, _ in quantized], [s for _, s in quantized], output, node.activation(output)
        ),
    )
    macs = batches * output_depth * accum_depth
    lut = node.lut(weights)
    if lut is not None:
        return KernelCall("tc_fully_connected_s8_lut", FullyConnectedLutParams(params, lut_params(lut)),
                          (node.arg(source), node.arg(bias), node.arg(output, False)), macs=macs)
    kernel = "tc_fully_connected_s8_opt" if node.settings.kernels == "optimized" else "tc_fully_connected_s8"
    return KernelCall(
        kernel,
        params,
        (node.arg(source), node.arg(weights), node.arg(bias), node.arg(output, False)),
        macs=batches * output_depth * accum_depth,
    )
