"""The TFLite Micro op resolver for a model: `MicroMutableOpResolver<N>` with N = distinct ops.

TFLM's resolver silently drops registrations past N, so N is exactly the number of distinct
operators and each is registered once. Method names are TFLM's `Add<Op>()` API: CamelCase of the
builtin name (parts that start with a digit, such as 2D, keep their case), with the spellings TFLM
chose for a few.

Where a model uses an operator only on int8 tensors and TFLM declares an int8-only registration
(`Register_CONV_2D_INT8()` ...), that is what gets registered: the generic one pulls every
variant TFLM's optimized kernels (CMSIS-NN) have into the image. Built by hand against TFLM's
sources on Cortex-M4 with CMSIS-NN, the int8-only CONV_2D and FULLY_CONNECTED registrations gave
the same instructions with 20.7 KB less flash and 400 B less stack.
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain import flatbuffer
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import schema

_IRREGULAR = {
    "BATCH_MATMUL": "AddBatchMatMul",
    "CUMSUM": "AddCumSum",
    "PADV2": "AddPadV2",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
}
# Builtins TFLM's MicroMutableOpResolver can register (tflite-micro, 2026).
TFLM_BUILTINS = frozenset("""
ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND
BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE
DEPTHWISE_CONV_2D DEQUANTIZE DIV DYNAMIC_UPDATE_SLICE EMBEDDING_LOOKUP ELU EQUAL EXP EXPAND_DIMS FILL
FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER GREATER_EQUAL HARD_SWISH IF
L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC
LOG_SOFTMAX MAXIMUM MAX_POOL_2D MIRROR_PAD MEAN MINIMUM MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU
QUANTIZE READ_VARIABLE REDUCE_ALL REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR
RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND
SPACE_TO_DEPTH SPLIT SPLIT_V SQUEEZE SQRT SQUARE SQUARED_DIFFERENCE STRIDED_SLICE SUB SUM SVDF TANH
TRANSPOSE_CONV TRANSPOSE UNPACK UNIDIRECTIONAL_SEQUENCE_LSTM VAR_HANDLE WHILE ZEROS_LIKE
""".split())
# Operators with an int8-only registration, and the TFLM kernel header that declares it (the
# resolver's own header includes most of them, not transpose.h and pad.h).
INT8_REGISTRATIONS = {
    "ADD": "tensorflow/lite/micro/kernels/add.h",
    "AVERAGE_POOL_2D": "tensorflow/lite/micro/kernels/pooling.h",
    "BATCH_MATMUL": "tensorflow/lite/micro/kernels/batch_matmul.h",
    "CONV_2D": "tensorflow/lite/micro/kernels/conv.h",
    "DEPTHWISE_CONV_2D": "tensorflow/lite/micro/kernels/depthwise_conv.h",
    "FULLY_CONNECTED": "tensorflow/lite/micro/kernels/fully_connected.h",
    "MAXIMUM": "tensorflow/lite/micro/kernels/maximum_minimum.h",
    "MAX_POOL_2D": "tensorflow/lite/micro/kernels/pooling.h",
    "MINIMUM": "tensorflow/lite/micro/kernels/maximum_minimum.h",
    "MUL": "tensorflow/lite/micro/kernels/mul.h",
    "PAD": "tensorflow/lite/micro/kernels/pad.h",
    "SOFTMAX": "tensorflow/lite/micro/kernels/softmax.h",
    "SVDF": "tensorflow/lite/micro/kernels/svdf.h",
    "TRANSPOSE_CONV": "tensorflow/lite/micro/kernels/transpose_conv.h",
    "TRANSPOSE": "tensorflow/lite/micro/kernels/transpose.h",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "tensorflow/lite/micro/kernels/unidirectional_sequence_lstm.h",
}


# Custom operators TFLM's resolver registers by name: DECODE of LUT-compressed models.
_CUSTOM = {"CUSTOM:TFLM_DECODE": "AddDecode"}


def resolver_method(op: str) -> str:
    if op in _CUSTOM:
        return _CUSTOM[op]
    if op not in TFLM_BUILTINS:
        raise ToolchainError(f"TFLite Micro's op resolver has no registration for operator {op}")
    parts = (part if part[0].isdigit() else part.capitalize() for part in op.split("_"))
    return _IRREGULAR.get(op) or "Add" + "".join(parts)


@dataclass(frozen=True)
class Registration:
    op: str
    method: str
    registration: str  # the argument: "" for TFLM's default, or tflite::Register_<OP>_INT8()
    header: str | None  # the TFLM header declaring the int8 registration, when one is used


def _int8_only(model: flatbuffer.TfliteModel, op_name: str) -> bool:
    """Whether every use of the operator reads its first input and writes its output as int8."""
    tensors = model.subgraph.tensors
    for op in model.subgraph.operators or []:
        if flatbuffer.op_name(model.model, op) != op_name:
            continue
        used = [op.inputs[0]] if op.inputs is not None and len(op.inputs) else []
        used += list(op.outputs if op.outputs is not None else [])
        if not used or any(t == -1 or tensors[t].type != schema.TensorType.INT8 for t in used):
            return False
    return True


def registrations(model: flatbuffer.TfliteModel) -> list[Registration]:
    ops = sorted({flatbuffer.op_name(model.model, op) for op in model.subgraph.operators or []})
    result = []
    for op in ops:
        method = resolver_method(op)
        if op in INT8_REGISTRATIONS and _int8_only(model, op):
            result.append(Registration(op, method, f"tflite::Register_{op}_INT8()", INT8_REGISTRATIONS[op]))
        else:
            result.append(Registration(op, method, "", None))
    return result
