"""The TFLite Micro op resolver for a model: `MicroMutableOpResolver<N>` with N = distinct ops.

TFLM's resolver silently drops registrations past N, so N is exactly the number of distinct
operators and each is registered once. Method names are TFLM's `Add<Op>()` API: CamelCase of the
builtin name (parts that start with a digit, such as 2D, keep their case), with the spellings TFLM
chose for a few.
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain import flatbuffer
from toolchain.emit.render import render
from toolchain.errors import ToolchainError

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


def resolver_method(op: str) -> str:
    if op not in TFLM_BUILTINS:
        raise ToolchainError(f"TFLite Micro's op resolver has no registration for operator {op}")
    parts = (part if part[0].isdigit() else part.capitalize() for part in op.split("_"))
    return _IRREGULAR.get(op) or "Add" + "".join(parts)


@dataclass(frozen=True)
class Resolver:
    ops: tuple[str, ...]  # distinct builtin names, sorted

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(resolver_method(op) for op in self.ops)


def model_resolver(model: flatbuffer.TfliteModel) -> Resolver:
    ops = sorted({flatbuffer.op_name(model.model, op) for op in model.subgraph.operators or []})
    for op in ops:
        resolver_method(op)
    return Resolver(tuple(ops))


def generate(model: flatbuffer.TfliteModel, source: str) -> dict[str, str]:
    resolver = model_resolver(model)
    return {
        "tc_op_resolver.h": render(
            "tc_op_resolver.h.j2", source, registrations=list(zip(resolver.ops, resolver.methods))
        )
    }
