"""DECODE (TFLM kernels/decode.cc, the CUSTOM "TFLM_DECODE" operator of LUT-compressed models,
toolchain/compression.py) and the compressed constants it stands for.

TFLite Micro's DECODE writes the whole decoded tensor into its arena before the consumer runs
(243 KB for the default model's embedding). The compiled backend emits no code for it: GATHER,
FULLY_CONNECTED and CONV_2D read a compressed int8 input in place (the _lut kernels, with the
`tc_lut_params` below in their params), and any other reader of a decoded tensor (a bias, a
compressed int32 constant) gets it decoded at build time into an ordinary constant. The memory
planner never sees a decoded tensor.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np

from toolchain.compression import LutTensor
from toolchain.contract import ConstArray, CStruct, Pointer
from toolchain.emit.ops.common import KernelCall, Node, SharedArray

OPERATORS = ("CUSTOM:TFLM_DECODE",)


@dataclass(frozen=True)
class LutParams(CStruct):
    """tc_lut_params: a compressed int8 tensor read in place (textclf_kernels.h)."""

    C_NAME = "tc_lut_params"
    indices: Annotated[ConstArray, Pointer("uint8_t")]
    values: Annotated[ConstArray, Pointer("int8_t")]
    bit_width: int
    table_stride: int
    channels: int
    channel_run: int


def lut_params(lut: LutTensor) -> LutParams:
    """The kernel's view of a compressed tensor. Its arrays are named after the model's buffers that
    hold them, so every operator reading the tensor (TFLM's compressor inserts one DECODE per
    reader) and every tensor with the same bytes (it merges identical buffers) share one copy."""
    return LutParams(
        indices=SharedArray(f"tc_buffer_{lut.encoded_buffer}", "uint8_t", np.frombuffer(lut.packed, np.uint8),
                            lut.encoded_tensor),
        values=SharedArray(f"tc_buffer_{lut.ancillary_buffer}_values", "int8_t", lut.tables.reshape(-1),
                           lut.ancillary_tensor),
        bit_width=lut.bit_width,
        table_stride=lut.table_stride,
        channels=lut.channels,
        channel_run=lut.channel_run,
    )


def lower(node: Node) -> KernelCall:
    if not node.outputs or any(t not in node.compressed for t in node.outputs):
        raise node.error("a DECODE operator that does not decode a validated LUT-compressed tensor")
    return KernelCall(None, aliases_input=False)
