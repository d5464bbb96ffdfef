"""CONV_2D (TFLM kernels/conv.cc, int8 path: ConvPerChannel), with the optimized kernel's packed
filter layout and the streaming bound the memory planner uses."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.contract import ConstArray, CStruct
from toolchain.emit.ops.common import INT32, ArrayArg, KernelCall, Node, RequantizeParams, check_accumulator, requantize_params
from toolchain.emit.ops.decode import LutParams, lut_params
from toolchain.emit.quantization import quantize_multiplier
from toolchain.flatbuffer import schema

OPERATORS = ("CONV_2D",)
# TFLM's Prepare takes at most these inputs: input, filter, optional bias.
MAX_INPUTS = 3


@dataclass(frozen=True)
class Conv2DParams(CStruct):
    C_NAME = "tc_conv_2d_params"
    batches: int
    input_height: int
    input_width: int
    input_depth: int
    filter_height: int
    filter_width: int
    filter_input_depth: int
    output_height: int
    output_width: int
    output_depth: int
    stride_height: int
    stride_width: int
    dilation_height: int
    dilation_width: int
    pad_height: int
    pad_width: int
    input_offset: int
    requantize: RequantizeParams


@dataclass(frozen=True)
class Conv2DLutParams(CStruct):
    """CONV_2D with a LUT-compressed filter, read in place (ops/decode.py). The kernel writes its
    output block of channels by block, so it has no streaming lead."""

    C_NAME = "tc_conv_2d_lut_params"
    conv: Conv2DParams
    filter: LutParams


def output_size(padding: int, size: int, filter_size: int, stride: int, dilation: int) -> int:
    effective = (filter_size - 1) * dilation + 1
    if padding == schema.Padding.SAME:
        return (size + stride - 1) // stride
    return (size + stride - effective) // stride


def leading_padding(stride: int, dilation: int, size: int, filter_size: int, out_size: int) -> int:
    effective = (filter_size - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - size, 0)
    return total // 2


def streaming_lead(out_width: int, out_row: int, in_row: int, pad: int) -> int:
    """How far below its input a 1-row, stride-1 convolution's output may start.

    tc_conv_2d_s8_opt writes output row t after reading input rows t - pad ... and never reads a
    row below t - pad again, so row t may land on input bytes below row t - pad: with the input at
    output + lead, row t ends at (t + 1) * out_row, which must not pass lead + (t - pad) * in_row."""
    return max((t + 1) * out_row - max(0, t - pad) * in_row for t in range(out_width))


def pack_filter(weights: np.ndarray) -> np.ndarray:
    """The packed filter layout of tc_conv_2d_s8_opt (textclf_kernels.h): per block of 4 output
    channels, filter row and run of 4 row values w0..w3, each channel's {w0 | w2 << 16,
    w1 | w3 << 16} as int16 halves of int32 words."""
    out_depth, filter_height, filter_width, in_depth = weights.shape
    blocks, runs = out_depth // 4, filter_width * in_depth // 4
    values = weights.astype(np.int64).reshape(blocks, 4, filter_height, runs, 4)
    values = values.transpose(0, 2, 3, 1, 4)  # block, row, run, channel, value
    even = (values[..., 0] & 0xFFFF) | (values[..., 2] << 16)
    odd = (values[..., 1] & 0xFFFF) | (values[..., 3] << 16)
    return np.stack([even, odd], axis=-1).astype(np.int32).reshape(-1)


# TFLM keeps strides, dilations and paddings in int16_t (ConvParams, PaddingValues): larger values
# wrap there. The bound also keeps every index product of the kernels inside int32.
INT16_MAX = (1 << 15) - 1


def _positive(node: Node, what: str, value: int) -> int:
    if not 1 <= value <= INT16_MAX:
        raise node.error(f"{what} {value} is out of range (1 to {INT16_MAX}, TFLM's int16)")
    return value


def lower(node: Node) -> KernelCall:
    options = node.options_of(schema.Conv2DOptionsT, required=True)
    if len(node.inputs) > MAX_INPUTS:
        raise node.error(f"{len(node.inputs)} inputs; TFLM's CONV_2D takes at most {MAX_INPUTS}")
    source = node.input(0)
    conv_filter = node.input(1)
    bias = node.optional_input(2, dtypes=(INT32,))
    output = node.output()
    in_shape, filter_shape, out_shape = node.shape(source), node.shape(conv_filter), node.shape(output)
    if len(in_shape) != 4 or len(filter_shape) != 4 or len(out_shape) != 4:
        raise node.error("input, filter and output must be 4-D")
    if 0 in in_shape or 0 in filter_shape or 0 in out_shape:
        raise node.error("a tensor is empty")
    batches, in_h, in_w, in_d = in_shape
    out_d, f_h, f_w, f_in_d = filter_shape
    padding = int(options.padding)
    if padding not in (schema.Padding.SAME, schema.Padding.VALID):
        raise node.error(f"padding {padding} is not SAME or VALID")
    stride_h = _positive(node, "stride", int(options.strideH))
    stride_w = _positive(node, "stride", int(options.strideW))
    dil_h = _positive(node, "dilation", int(options.dilationHFactor))
    dil_w = _positive(node, "dilation", int(options.dilationWFactor))
    for size, taps, dilation in ((in_h, f_h, dil_h), (in_w, f_w, dil_w)):
        if size > 1 << 24 or (taps - 1) * dilation + 1 > 1 << 24:
            raise node.error("the input or the dilated filter is too large")
    out_h = output_size(padding, in_h, f_h, stride_h, dil_h)
    out_w = output_size(padding, in_w, f_w, stride_w, dil_w)
    if (batches, out_h, out_w, out_d) != out_shape or in_d % f_in_d or out_d % (in_d // f_in_d):
        raise node.error("input, filter and output shapes do not fit together")
    if bias is not None and node.count(bias) != out_d:
        raise node.error("the bias does not have one value per output channel")
    input_scale, input_zp = node.quant(source)
    output_scale, _ = node.quant(output)
    check_accumulator(node, conv_filter, bias, input_zp, f_h * f_w * f_in_d)
    scales = node.filter_scales(conv_filter, out_d)
    # PopulateConvolutionQuantizationParams: one multiplier per channel, per-tensor scales broadcast.
    quantized = [quantize_multiplier(float(input_scale) * float(s) / float(output_scale), node.where)
                 for s in scales]
    if len(quantized) == 1:
        quantized = quantized * out_d
    pad_w = leading_padding(stride_w, dil_w, in_w, f_w, out_w)
    pad_h = leading_padding(stride_h, dil_h, in_h, f_h, out_h)
    if max(pad_h, pad_w) > INT16_MAX:
        raise node.error(f"padding {max(pad_h, pad_w)} is out of range (TFLM's int16)")
    params = Conv2DParams(
        batches=batches,
        input_height=in_h,
        input_width=in_w,
        input_depth=in_d,
        filter_height=f_h,
        filter_width=f_w,
        filter_input_depth=f_in_d,
        output_height=out_h,
        output_width=out_w,
        output_depth=out_d,
        stride_height=stride_h,
        stride_width=stride_w,
        dilation_height=dil_h,
        dilation_width=dil_w,
        pad_height=pad_h,
        pad_width=pad_w,
        input_offset=-input_zp,
        requantize=requantize_params(
            node, [m for m, _ in quantized], [s for _, s in quantized], output, node.activation(output)
        ),
    )
    macs = batches * out_h * out_w * out_d * f_h * f_w * f_in_d
    args_after = (node.arg(bias), node.arg(output, False))
    lut = node.lut(conv_filter)
    if lut is not None:
        return KernelCall("tc_conv_2d_s8_lut", Conv2DLutParams(params, lut_params(lut)),
                          (node.arg(source), *args_after), macs=macs)
    if node.settings.kernels == "reference":
        return KernelCall("tc_conv_2d_s8", params, (node.arg(source), node.arg(conv_filter), *args_after),
                          macs=macs)
    # The packed filter replaces the int8 one where the in-bounds taps of a row are contiguous in
    # the input (one group, no x-dilation), in whole runs of 4 values, for blocks of 4 channels.
    contiguous_rows = f_in_d == in_d and (dil_w == 1 or f_w == 1)
    packed = (node.settings.packed_filters and node.is_constant(conv_filter) and contiguous_rows
              and in_d % 4 == 0 and out_d % 4 == 0)
    filters = (
        (node.arg(None), ArrayArg(ConstArray(f"{node.params_name}_packed_filter", "int32_t",
                                             pack_filter(node.constant(conv_filter)))))
        if packed else (node.arg(conv_filter), node.arg(None))
    )
    streams = batches == 1 and in_h == 1 and out_h == 1 and stride_w == 1
    return KernelCall(
        "tc_conv_2d_s8_opt",
        params,
        (node.arg(source), *filters, *args_after),
        macs=macs,
        streaming_lead=streaming_lead(out_w, out_d, in_d, pad_w) if streams else None,
    )
