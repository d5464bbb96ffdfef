"""TFLM's Prepare-time quantization arithmetic, reproduced bit for bit in Python.

The compiled backend computes in the toolchain what TFLite Micro's kernels compute in Prepare.
The precision of every step matters: TFLM mixes float (the tensors' scales are float32) and
double arithmetic, so each helper names the C type it emulates; float32 steps go through numpy's
float32, which rounds like the host build's SSE arithmetic.
"""
from __future__ import annotations

import math

import numpy as np

from toolchain.errors import ToolchainError

INT8_MIN, INT8_MAX = -128, 127


def f32(value) -> np.float32:
    return np.float32(value)


def round_half_away(value: float) -> float:
    """TfLiteRound / std::round: halves away from zero."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


# MultiplyByQuantizedMultiplier's shift range (TFLM DCHECKs it; the C kernels shift by it).
MIN_SHIFT, MAX_SHIFT = -31, 30


def quantize_multiplier(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplier (quantization_util.cc): real = multiplier / 2^31 * 2^shift.

    A factor that is negative, not finite, or too large for the kernels' shift range comes from a
    damaged model: refused, naming `what`."""
    if not math.isfinite(real) or real < 0.0:
        raise ToolchainError(f"{what}: rescaling factor {real!r} is not a finite non-negative number")
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    fixed = int(round_half_away(fraction * (1 << 31)))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < MIN_SHIFT:
        return 0, 0
    if shift > MAX_SHIFT:
        raise ToolchainError(
            f"{what}: rescaling factor {real!r} needs a shift of {shift}; at most {MAX_SHIFT} is possible"
        )
    return fixed, shift


def quantize_multiplier_smaller_than_one(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: TFLM aborts unless 0 < real < 1."""
    if not 0.0 < real < 1.0:
        raise ToolchainError(f"{what}: rescaling factor {real!r} is not in (0, 1), which TFLM rejects")
    return quantize_multiplier(real, what)


def quantize_multiplier_greater_than_one(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne: TFLM aborts unless real > 1."""
    if not real > 1.0:
        raise ToolchainError(f"{what}: rescaling factor {real!r} is not above 1, which TFLM rejects")
    return quantize_multiplier(real, what)


def input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: the largest input difference whose rescaled value still fits."""
    rescaled = (
        1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    )
    return math.floor(rescaled)


def quantize_value(scale: np.float32, zero_point: int, value: float) -> int:
    """kernel_util.cc Quantize: zero_point + round(value / scale), the division in float."""
    return zero_point + int(round_half_away(float(f32(value) / scale)))


def activation_range(activation: int, scale: np.float32, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int8 output; activation codes of the schema."""
    if activation == 0:  # NONE
        return INT8_MIN, INT8_MAX
    if activation == 1:  # RELU
        return max(INT8_MIN, quantize_value(scale, zero_point, 0.0)), INT8_MAX
    if activation == 2:  # RELU_N1_TO_1
        return (
            max(INT8_MIN, quantize_value(scale, zero_point, -1.0)),
            min(INT8_MAX, quantize_value(scale, zero_point, 1.0)),
        )
    if activation == 3:  # RELU6
        return (
            max(INT8_MIN, quantize_value(scale, zero_point, 0.0)),
            min(INT8_MAX, quantize_value(scale, zero_point, 6.0)),
        )
    raise ToolchainError(f"fused activation {activation} is not supported")
