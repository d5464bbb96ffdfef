"""Reading .tflite files through TFLite Micro's generated flatbuffer schema module.

Everything here goes through `schema_py_generated` (the object API, `ModelT`); nothing parses the
format by hand. What this module adds is validation: a corrupt or truncated file becomes a
`ToolchainError` naming the problem instead of an exception deep inside the generated code.
"""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from toolchain.errors import ToolchainError

FILE_IDENTIFIER = b"TFL3"
# The schema version TFLite Micro runs (it refuses any other).
SCHEMA_VERSION = 3
# A model for a microcontroller is kilobytes to a few megabytes; a larger file is refused before it
# is read (flatbuffers cannot exceed 2 GB anyway).
MAX_MODEL_BYTES = 256 * 1024 * 1024

TENSOR_TYPE_NAMES = {
    value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")
}
BUILTIN_OP_NAMES = {
    value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")
}
NUMPY_DTYPES = {
    schema.TensorType.FLOAT32: np.float32,
    schema.TensorType.FLOAT16: np.float16,
    schema.TensorType.FLOAT64: np.float64,
    schema.TensorType.INT8: np.int8,
    schema.TensorType.UINT8: np.uint8,
    schema.TensorType.INT16: np.int16,
    schema.TensorType.UINT16: np.uint16,
    schema.TensorType.INT32: np.int32,
    schema.TensorType.UINT32: np.uint32,
    schema.TensorType.INT64: np.int64,
    schema.TensorType.UINT64: np.uint64,
    schema.TensorType.BOOL: np.bool_,
}
FLOAT_TYPES = {
    schema.TensorType.FLOAT16,
    schema.TensorType.FLOAT32,
    schema.TensorType.FLOAT64,
    schema.TensorType.BFLOAT16,
    schema.TensorType.COMPLEX64,
    schema.TensorType.COMPLEX128,
    schema.TensorType.FLOAT8_E4M3FN,
    schema.TensorType.FLOAT8_E5M2,
}
# Bytes per element, for sub-byte types the packed size rounds up per tensor.
_ELEMENT_BITS = {
    schema.TensorType.INT2: 2,
    schema.TensorType.INT4: 4,
    schema.TensorType.UINT4: 4,
    schema.TensorType.BFLOAT16: 16,
    schema.TensorType.COMPLEX64: 64,
    schema.TensorType.COMPLEX128: 128,
    schema.TensorType.FLOAT8_E4M3FN: 8,
    schema.TensorType.FLOAT8_E5M2: 8,
}


def tensor_type_name(tensor_type: int) -> str:
    return TENSOR_TYPE_NAMES.get(tensor_type, f"TYPE_{tensor_type}")


def numpy_dtype(tensor_type: int):
    try:
        return NUMPY_DTYPES[tensor_type]
    except KeyError:
        raise ToolchainError(f"tensor type {tensor_type_name(tensor_type)} is not supported here") from None


def element_bits(tensor_type: int) -> int:
    if tensor_type in NUMPY_DTYPES:
        return np.dtype(NUMPY_DTYPES[tensor_type]).itemsize * 8
    return _ELEMENT_BITS.get(tensor_type, 0)


def ints(vector) -> list[int]:
    """A flatbuffer vector of integers (None when absent) as a list of Python ints."""
    return [] if vector is None else [int(v) for v in vector]


def tensor_nbytes(tensor: schema.TensorT) -> int:
    """Size of the tensor's data in bytes (0 for a type with no fixed element size). Computed in
    Python integers: a damaged shape cannot overflow it."""
    count = math.prod(ints(tensor.shape))
    return (count * element_bits(tensor.type) + 7) // 8


def decode_name(raw) -> str:
    if raw is None:
        return ""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def op_name(model: schema.ModelT, op: schema.OperatorT) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == schema.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + decode_name(code.customCode)
    return BUILTIN_OP_NAMES.get(builtin, f"BUILTIN_{builtin}")


@dataclass(frozen=True)
class Quantization:
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1


def quantization(tensor: schema.TensorT) -> Quantization | None:
    """The tensor's quantization as TFLite Micro reads it (micro_allocator.cc): none unless both
    the scales and the zero points are present; zero points that are not one per scale are the
    first zero point for every channel."""
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0 or q.zeroPoint is None or len(q.zeroPoint) == 0:
        return None
    zero_points = [int(z) for z in q.zeroPoint]
    if len(zero_points) != len(q.scale):
        zero_points = zero_points[:1] * len(q.scale)
    return Quantization(
        scales=tuple(float(s) for s in q.scale),
        zero_points=tuple(zero_points),
        axis=int(q.quantizedDimension),
    )


@dataclass
class TfliteModel:
    """A validated .tflite model: its bytes and the schema's object tree."""

    source: str
    data: bytes
    model: schema.ModelT

    @property
    def subgraph(self) -> schema.SubGraphT:
        return self.model.subgraphs[0]

    def buffer_data(self, tensor: schema.TensorT) -> bytes | None:
        """The constant data behind a tensor, or None for activations."""
        buffer = self.model.buffers[tensor.buffer]
        if buffer.data is not None and len(buffer.data):
            return bytes(np.asarray(buffer.data, dtype=np.uint8))
        if buffer.offset and buffer.size:
            return self.data[buffer.offset : buffer.offset + buffer.size]
        return None

    def constant(self, tensor_index: int) -> np.ndarray | None:
        tensor = self.subgraph.tensors[tensor_index]
        raw = self.buffer_data(tensor)
        if raw is None:
            return None
        shape = tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()
        return np.frombuffer(raw, dtype=numpy_dtype(tensor.type)).reshape(shape)


def read_model(path: Path | str) -> TfliteModel:
    """Reads and validates a .tflite file; its size and identifier are checked before the file is
    read as a whole."""
    path = Path(path)
    if not path.exists():
        raise ToolchainError(f"model file not found: {path}")
    if not path.is_file():
        raise ToolchainError(f"not a file: {path}")
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_MODEL_BYTES:
                raise ToolchainError(
                    f"{path}: {size:,} bytes is too large for a microcontroller model (at most {MAX_MODEL_BYTES:,})"
                )
            head = stream.read(8)
            _check_header(head, str(path))
            data = head + stream.read(MAX_MODEL_BYTES)
    except OSError as exc:
        raise ToolchainError(f"{path}: cannot be read ({exc.strerror})") from None
    return parse_model(data, str(path))


def _check_header(data: bytes, source: str) -> None:
    if len(data) < 8:
        raise ToolchainError(f"{source}: not a TFLite model: only {len(data)} bytes")
    identifier = data[4:8]
    if identifier != FILE_IDENTIFIER:
        raise ToolchainError(
            f"{source}: not a TFLite model: file identifier is {identifier!r}, expected {FILE_IDENTIFIER!r}"
        )


def parse_model(data: bytes, source: str = "<bytes>") -> TfliteModel:
    _check_header(data, source)
    if len(data) > MAX_MODEL_BYTES:
        raise ToolchainError(f"{source}: {len(data):,} bytes is too large for a microcontroller model")
    try:
        _check_vector_lengths(data)
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    except ToolchainError as exc:
        raise ToolchainError(f"{source}: corrupt or truncated TFLite model: {exc}") from None
    except (struct.error, IndexError, ValueError, TypeError, UnicodeDecodeError, OverflowError,
            MemoryError, AttributeError) as exc:
        raise ToolchainError(
            f"{source}: corrupt or truncated TFLite model: the flatbuffer cannot be read "
            f"({type(exc).__module__}.{type(exc).__name__}: {exc})"
        ) from None
    _check_references(model, len(data), source)
    _refuse_metadata_compression(model, source)
    result = TfliteModel(source=source, data=data, model=model)
    _check_constant_sizes(result, source)
    return result


def _check_vector_lengths(data: bytes) -> None:
    """Rejects vector lengths the file cannot hold before the object API tries to iterate them."""
    limit = len(data) // 4
    root = schema.Model.GetRootAsModel(data, 0)
    for what, length in (
        ("operator codes", root.OperatorCodesLength()),
        ("subgraphs", root.SubgraphsLength()),
        ("buffers", root.BuffersLength()),
    ):
        if length > limit:
            raise ToolchainError(f"{what} count {length} exceeds the file size")
    for i in range(root.SubgraphsLength()):
        subgraph = root.Subgraphs(i)
        for what, length in (
            ("tensors", subgraph.TensorsLength()),
            ("operators", subgraph.OperatorsLength()),
            ("inputs", subgraph.InputsLength()),
            ("outputs", subgraph.OutputsLength()),
        ):
            if length > limit:
                raise ToolchainError(f"subgraph {i} {what} count {length} exceeds the file size")


def _check_references(model: schema.ModelT, size: int, source: str) -> None:
    def bad(message: str) -> ToolchainError:
        return ToolchainError(f"{source}: corrupt TFLite model: {message}")

    if not model.subgraphs:
        raise bad("no subgraphs")
    n_buffers = len(model.buffers or [])
    n_codes = len(model.operatorCodes or [])
    for buffer in model.buffers or []:
        if buffer.offset and buffer.offset + buffer.size > size:
            raise bad("a buffer points past the end of the file")
    for s, subgraph in enumerate(model.subgraphs):
        tensors = subgraph.tensors or []
        for tensor in tensors:
            if not 0 <= tensor.buffer < n_buffers:
                raise bad(f"tensor {decode_name(tensor.name)!r} refers to missing buffer {tensor.buffer}")
            if any(d < 0 for d in ints(tensor.shape)):
                raise bad(f"tensor {decode_name(tensor.name)!r} has a negative dimension")
            if tensor.type not in TENSOR_TYPE_NAMES:
                # TFLite Micro converts every tensor's type when it loads a model and stops here.
                raise bad(f"tensor {decode_name(tensor.name)!r} has unknown type {tensor.type}")
        for index in list(subgraph.inputs if subgraph.inputs is not None else []) + list(
            subgraph.outputs if subgraph.outputs is not None else []
        ):
            if not 0 <= index < len(tensors):
                raise bad(f"subgraph {s} input/output {index} is not a tensor")
        for o, op in enumerate(subgraph.operators or []):
            if not 0 <= op.opcodeIndex < n_codes:
                raise bad(f"operator {o} has unknown opcode index {op.opcodeIndex}")
            used = list(op.inputs if op.inputs is not None else []) + list(
                op.outputs if op.outputs is not None else []
            )
            for index in used:
                if index != -1 and not 0 <= index < len(tensors):
                    raise bad(f"operator {o} uses tensor {index}, but there are {len(tensors)}")


def _refuse_metadata_compression(model: schema.ModelT, source: str) -> None:
    """TFLite Micro's earlier LUT scheme (a "COMPRESSION_METADATA" entry; indices packed into the
    tensors' own buffers, so their sizes no longer match their shapes) is named here, before the
    size check below would call such a file corrupt. The current scheme is toolchain.compression."""
    if any(decode_name(m.name) == "COMPRESSION_METADATA" for m in model.metadata or []):
        raise ToolchainError(
            f"{source}: compressed with TFLite Micro's older COMPRESSION_METADATA scheme, which is not "
            "supported; compress the uncompressed model again with the current compressor (DECODE operators)"
        )


def _check_constant_sizes(model: TfliteModel, source: str) -> None:
    for tensor in model.subgraph.tensors or []:
        raw = model.buffer_data(tensor)
        if raw is None or element_bits(tensor.type) == 0 or tensor.type == schema.TensorType.STRING:
            continue
        expected = tensor_nbytes(tensor)
        if len(raw) != expected:
            raise ToolchainError(
                f"{source}: corrupt or truncated TFLite model: tensor {decode_name(tensor.name)!r} "
                f"needs {expected} bytes but its buffer holds {len(raw)}"
            )
