"""LUT-compressed weights in TensorFlow Lite Micro's format: reading them, and making them.

TFLite Micro's compression module (pip `tflite-micro`, `...micro.compression.compress`) rewrites a
constant tensor T that holds few distinct values as

- T itself, rewritten as a 1-D UINT8 constant: one table index per element, `b` bits each
  (1 <= b <= 7), most significant bit first, one bit stream over the elements in row-major order,
  zero bits filling the last byte (the "encoded" tensor);
- a new 1-D UINT8 constant "<T>_ancillary": a 16-byte header (byte 0 decode type, 0 = LUT; byte 1
  metadata version 1; byte 4 LUT version 1; byte 5 bits 2-0 the bit width, bit 3 reserved, bits
  7-4 the table axis or 15 for one table; byte 6 the table stride, entries per table), then the
  value tables, each `stride` entries of T's element type, zero-padded;
- a new tensor "<T>_decoded" with T's shape, type and quantization and no data, written at run
  time by a CUSTOM "TFLM_DECODE" operator inserted before each operator that reads T, whose
  inputs are [encoded, ancillary] pairs and outputs the decoded tensors.

`read` finds every such triple through the schema module and validates it so that a decoder that
reads bits p*b .. p*b+b-1 of the index bytes and entry `table(p) * stride + index` of the tables
never leaves either array; everything else is refused with one line naming the problem.
The semantics are those of the interpreter the project uses as its oracle: its DECODE takes the
number of value tables and their axis from the decoded tensor's QUANTIZATION (scale count,
quantized dimension), not from the header's axis field. A file in which the two disagree decodes
differently in TFLite Micro than its compressor meant, so it is refused, naming the fix.

`compress_model` makes such files: each named tensor is clustered to at most 2^b values (optimal
1-D k-means, the zero point kept as a level), its quantization restated per channel where the
tables are per channel (the same scale and zero point repeated: the same real values), and TFLM's
own compressor writes the result. `cluster_model` is the same model before the last step: TFLite
Micro runs it with exactly the outputs of the compressed one (no DECODE buffer in its arena);
`decompress_model` turns a compressed file back into that form.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import flatbuffers
import numpy as np

from toolchain import flatbuffer
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import TfliteModel, schema

DECODE_OP = "CUSTOM:TFLM_DECODE"
HEADER_BYTES = 16
LUT_DECODE_TYPE = 0
DECODE_TYPE_NAMES = {0: "LUT", 1: "Huffman", 2: "pruning"}
METADATA_VERSION = 1
LUT_VERSION = 1
ONE_TABLE_AXIS = 15  # header byte 5, bits 7-4
MAX_BIT_WIDTH = 7
MAX_TABLE_STRIDE = 128
# The decoders compute bit positions p * b in 32 bits.
MAX_INDEX_BITS = (1 << 31) - 1
# Element types TFLite Micro's LUT decoder writes (decode_state_lut.cc).
VALUE_TYPES = {
    schema.TensorType.BOOL: np.dtype("bool"),
    schema.TensorType.FLOAT32: np.dtype("<f4"),
    schema.TensorType.INT8: np.dtype("i1"),
    schema.TensorType.INT16: np.dtype("<i2"),
    schema.TensorType.INT32: np.dtype("<i4"),
    schema.TensorType.INT64: np.dtype("<i8"),
}
# What compress_model clusters; int8 tensors (weights, embeddings) are what the kernels read in
# place, the others (a bias) are decoded at build time by the compiled backend.
CLUSTER_TYPES = (schema.TensorType.INT8, schema.TensorType.INT16, schema.TensorType.INT32)
MAX_CLUSTER_VALUES = 1024  # distinct values per slice the exact clustering accepts


# ------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class LutTensor:
    """One LUT-compressed tensor as one DECODE operator delivers it to the operators reading it."""

    decode_op: int  # the DECODE operator's index
    encoded_tensor: int
    ancillary_tensor: int
    decoded_tensor: int  # what the consumers read
    encoded_buffer: int  # the data of the encoded and ancillary tensors (shared when identical)
    ancillary_buffer: int
    name: str
    shape: tuple[int, ...]
    tensor_type: int  # schema.TensorType of the decoded tensor
    bit_width: int
    table_stride: int  # entries per value table
    channels: int  # value tables; 1 = one table for the whole tensor
    channel_axis: int | None  # 0 or the last axis; None for one table
    tables: np.ndarray  # (channels, table_stride) of the decoded type
    packed: bytes  # exactly ceil(count * bit_width / 8) bytes
    consumers: tuple[tuple[int, int], ...] = ()  # (operator index, input position)

    @property
    def count(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def channel_run(self) -> int:
        """Consecutive elements (row-major) that read one table before the next: element p reads
        table (p / channel_run) % channels."""
        if self.channels == 1:
            return self.count
        if self.channel_axis == len(self.shape) - 1:
            return 1
        return self.count // self.channels

    @property
    def flash_bytes(self) -> int:
        """What reading it in place costs: the index bytes and the value tables."""
        return len(self.packed) + self.tables.nbytes

    def indices(self) -> np.ndarray:
        return unpack_indices(self.packed, self.bit_width, self.count)

    def decode(self) -> np.ndarray:
        """The whole tensor, as TFLite Micro's DECODE writes it."""
        table = (np.arange(self.count, dtype=np.int64) // self.channel_run) % self.channels
        return self.tables[table, self.indices()].reshape(self.shape)


def unpack_indices(packed: bytes, bit_width: int, count: int) -> np.ndarray:
    """`count` indices of `bit_width` bits, most significant bit first, one stream."""
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8))[: count * bit_width]
    weights = 1 << np.arange(bit_width - 1, -1, -1, dtype=np.int64)
    return bits.reshape(count, bit_width).astype(np.int64) @ weights


def is_decode(model: TfliteModel, op) -> bool:
    return flatbuffer.op_name(model.model, op) == DECODE_OP


def read(model: TfliteModel) -> list[LutTensor]:
    """Every LUT-compressed tensor of the model, validated, in operator order; [] for a plain model.
    Raises ToolchainError (one line) for anything outside what TFLite Micro decodes as meant."""
    found = []
    for index, op in enumerate(model.subgraph.operators or []):
        if is_decode(model, op):
            found += _read_decode(model, index, op)
    if not found:
        return []
    if len(model.model.subgraphs) != 1:
        raise _error("DECODE", "compressed models with more than one subgraph are not supported")
    return _check_dataflow(model, found)


def _error(where: str, message: str) -> ToolchainError:
    return ToolchainError(f"compressed model: {where}: {message}")


def _tensor_list(values) -> list[int]:
    return [int(i) for i in (values if values is not None else [])]


def _read_decode(model: TfliteModel, index: int, op) -> list[LutTensor]:
    where = f"DECODE (node {index})"
    inputs, outputs = _tensor_list(op.inputs), _tensor_list(op.outputs)
    if not outputs or len(inputs) != 2 * len(outputs):
        raise _error(where, f"{len(inputs)} inputs for {len(outputs)} outputs; an (encoded, ancillary) "
                            "pair per output is required")
    if -1 in inputs or -1 in outputs:
        raise _error(where, "an input or output is missing")
    return [_read_pair(model, index, inputs[2 * k], inputs[2 * k + 1], outputs[k]) for k in range(len(outputs))]


def _uint8_constant(model: TfliteModel, tensor: int, what: str, where: str) -> bytes:
    t = model.subgraph.tensors[tensor]
    data = model.buffer_data(t)
    if data is None:
        raise _error(where, f"the {what} tensor {flatbuffer.decode_name(t.name)!r} is not a constant")
    if t.type != schema.TensorType.UINT8:
        raise _error(where, f"the {what} tensor is {flatbuffer.tensor_type_name(t.type)}, not UINT8")
    return data


def _runtime_tables(tensor, shape: tuple[int, ...], where: str) -> tuple[int, int | None]:
    """(table count, axis) as TFLite Micro's DECODE derives them from the decoded tensor."""
    q = flatbuffer.quantization(tensor)
    if q is None or len(q.scales) == 1:
        return 1, None
    if q.axis not in (0, len(shape) - 1):
        raise _error(where, f"the decoded tensor is quantized along axis {q.axis}; TFLite Micro decodes "
                            "value tables along axis 0 or the last axis only")
    if shape[q.axis] != len(q.scales):
        raise _error(where, f"the decoded tensor has {len(q.scales)} scales for {shape[q.axis]} channels")
    return len(q.scales), q.axis


def _read_pair(model: TfliteModel, op_index: int, encoded: int, ancillary: int, decoded: int) -> LutTensor:
    out = model.subgraph.tensors[decoded]
    name = flatbuffer.decode_name(out.name)
    where = f"DECODE (node {op_index}) of {name!r}"
    packed = _uint8_constant(model, encoded, "encoded", where)
    blob = _uint8_constant(model, ancillary, "ancillary", where)
    if model.buffer_data(out) is not None:
        raise _error(where, "the decoded tensor already holds data")
    if out.type not in VALUE_TYPES:
        raise _error(where, f"decoded type {flatbuffer.tensor_type_name(out.type)} is not one TFLite Micro's "
                            "LUT decoder writes")
    shape = tuple(int(d) for d in out.shape) if out.shape is not None else ()
    if any(d < 1 for d in shape):
        raise _error(where, f"the decoded shape {list(shape)} has an empty or unknown dimension")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1

    if len(blob) < HEADER_BYTES:
        raise _error(where, f"the ancillary data has {len(blob)} bytes, less than its {HEADER_BYTES}-byte header")
    kind = blob[0]
    if kind != LUT_DECODE_TYPE:
        label = DECODE_TYPE_NAMES.get(kind, "custom" if kind >= 128 else "reserved")
        raise _error(where, f"decode type {kind} ({label}) is not supported; only LUT (0) is")
    if blob[1] != METADATA_VERSION:
        raise _error(where, f"decode metadata version {blob[1]} is not supported (only {METADATA_VERSION})")
    if blob[4] != LUT_VERSION:
        raise _error(where, f"LUT version {blob[4]} is not supported (only {LUT_VERSION})")
    if blob[5] & 0x08:
        raise _error(where, "the reserved bit 3 of the LUT parameter byte is set")
    bit_width, header_axis, stride = blob[5] & 0x07, blob[5] >> 4, blob[6]
    if not 1 <= bit_width <= MAX_BIT_WIDTH:
        raise _error(where, f"index bit width {bit_width} is outside 1..{MAX_BIT_WIDTH}")
    largest_stride = min(MAX_TABLE_STRIDE, 1 << bit_width)
    if not 1 <= stride <= largest_stride:
        raise _error(where, f"value table stride {stride} is outside 1..{largest_stride} for {bit_width}-bit indices")

    channels, axis = _runtime_tables(out, shape, where)
    item = VALUE_TYPES[out.type].itemsize
    table_bytes = len(blob) - HEADER_BYTES
    if table_bytes != channels * stride * item:
        stored = table_bytes / (stride * item)
        fix = ("compress it per tensor" if channels == 1 else
               f"compress it per channel along axis {axis}, the axis it is quantized along")
        raise _error(where, f"the ancillary data holds {stored:g} value tables of {stride} entries, but TFLite "
                            f"Micro decodes this tensor with {channels} (one per quantization scale); {fix}")
    if channels > 1 and header_axis != axis:
        raise _error(where, f"the value tables run along axis {header_axis}, but TFLite Micro reads them along "
                            f"axis {axis} (the quantization axis); compress it per channel along axis {axis}")
    if channels == 1 and header_axis != ONE_TABLE_AXIS and header_axis >= max(len(shape), 1):
        raise _error(where, f"the header names axis {header_axis} of a rank-{len(shape)} tensor")
    if count * bit_width > MAX_INDEX_BITS:
        raise _error(where, f"{count} indices of {bit_width} bits are too many")
    expected = (count * bit_width + 7) // 8
    if len(packed) != expected:
        raise _error(where, f"{len(packed)} index bytes for {count} indices of {bit_width} bits; "
                            f"{expected} expected")
    tables = np.frombuffer(blob[HEADER_BYTES:], dtype=VALUE_TYPES[out.type]).reshape(channels, stride)
    lut = LutTensor(
        decode_op=op_index, encoded_tensor=encoded, ancillary_tensor=ancillary, decoded_tensor=decoded,
        encoded_buffer=int(model.subgraph.tensors[encoded].buffer),
        ancillary_buffer=int(model.subgraph.tensors[ancillary].buffer), name=name, shape=shape,
        tensor_type=out.type, bit_width=bit_width, table_stride=stride, channels=channels, channel_axis=axis,
        tables=tables, packed=bytes(packed),
    )
    largest = int(lut.indices().max())
    if largest >= stride:
        raise _error(where, f"index {largest} is past the end of a {stride}-entry value table")
    return lut


def _check_dataflow(model: TfliteModel, found: list[LutTensor]) -> list[LutTensor]:
    """A decoded tensor is written by its DECODE only, read by ordinary operators only and is no
    graph output; encoded and ancillary tensors feed DECODEs only. Fills in the consumers."""
    sub = model.subgraph
    decoded = {lut.decoded_tensor: lut for lut in found}
    if len(decoded) != len(found):
        raise _error("DECODE", "a tensor is written by two DECODE operators")
    raw = {lut.encoded_tensor for lut in found} | {lut.ancillary_tensor for lut in found}
    consumers: dict[int, list[tuple[int, int]]] = {t: [] for t in decoded}
    for index, op in enumerate(sub.operators or []):
        decode = is_decode(model, op)
        for position, tensor in enumerate(_tensor_list(op.inputs)):
            if tensor in decoded:  # (a DECODE reading one was refused: its inputs must be constants)
                consumers[tensor].append((index, position))
            elif tensor in raw and not decode:
                name = flatbuffer.decode_name(sub.tensors[tensor].name)
                raise _error(f"{flatbuffer.op_name(model.model, op)} (node {index})",
                             f"reads the encoded or ancillary tensor {name!r}, which only DECODE may read")
        for tensor in _tensor_list(op.outputs):
            if tensor in decoded and not decode:
                raise _error(f"{flatbuffer.op_name(model.model, op)} (node {index})",
                             f"writes {decoded[tensor].name!r}, a DECODE output")
            if tensor in raw:
                raise _error(f"node {index}", "writes an encoded or ancillary tensor")
    for tensor in set(_tensor_list(sub.outputs)) | set(_tensor_list(sub.inputs)):
        if tensor in decoded:
            raise _error(f"DECODE (node {decoded[tensor].decode_op})",
                         f"its output {decoded[tensor].name!r} is a graph input or output")
    return [replace(lut, consumers=tuple(consumers[lut.decoded_tensor])) for lut in found]


# ------------------------------------------------------------------------------ model editing


def _unpack(data: bytes, source: str) -> tuple[TfliteModel, schema.ModelT]:
    """The validated model and a private object tree to edit."""
    model = flatbuffer.parse_model(bytes(data), source)
    return model, schema.ModelT.InitFromPackedBuf(bytes(data), 0)


def _pack(tree: schema.ModelT) -> bytes:
    """Serialized, then realigned by TFLite Micro's own tool (the Python builder ignores the
    schema's force_align: 16 on buffer data, which Cortex-M TFLM relies on)."""
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=flatbuffer.FILE_IDENTIFIER)
    return _align(bytes(builder.Output()))


def _align(data: bytes) -> bytes:
    from tflite_micro.tensorflow.lite.micro.tools import tflite_flatbuffer_align_wrapper

    with tempfile.TemporaryDirectory(prefix="textclf-align-") as work:
        source, target = os.path.join(work, "in.tflite"), os.path.join(work, "out.tflite")
        with open(source, "wb") as f:
            f.write(data)
        tflite_flatbuffer_align_wrapper.align_tflite_model(source, target)
        with open(target, "rb") as f:
            return f.read()


def decompress_model(data: bytes, source: str = "<bytes>") -> bytes:
    """The plain model a compressed one stands for: every DECODE removed and its consumers reading
    a constant with the decoded values (the encoded and ancillary tensors are dropped from use).
    TFLite Micro gives the same outputs on both; this one needs no DECODE buffer in its arena."""
    model, tree = _unpack(data, source)
    luts = read(model)
    sub = tree.subgraphs[0]
    for lut in luts:
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(np.ascontiguousarray(lut.decode()).tobytes(), dtype=np.uint8)
        tree.buffers.append(buffer)
        sub.tensors[lut.decoded_tensor].buffer = len(tree.buffers) - 1
        # The encoded tensor stays, unread; its table-count quantization on a 1-D tensor is invalid
        # for TF Lite's loader, which checks every tensor.
        sub.tensors[lut.encoded_tensor].quantization = None
    decodes = {lut.decode_op for lut in luts}
    sub.operators = [op for i, op in enumerate(sub.operators or []) if i not in decodes]
    return _pack(tree)


# --------------------------------------------------------------------------------- clustering


def _cluster_costs(values: np.ndarray, weights: np.ndarray, center: float | None = None) -> np.ndarray:
    """cost[i, j]: weighted squared error of values[i..j] (sorted) around their weighted mean, or
    around `center`; +inf below the diagonal."""
    w = np.concatenate([[0.0], np.cumsum(weights)])
    s = np.concatenate([[0.0], np.cumsum(weights * values)])
    q = np.concatenate([[0.0], np.cumsum(weights * values * values)])
    i, j = np.triu_indices(len(values))
    n_w, n_s, n_q = w[j + 1] - w[i], s[j + 1] - s[i], q[j + 1] - q[i]
    cost = np.full((len(values), len(values)), np.inf)
    if center is None:
        cost[i, j] = np.maximum(n_q - n_s * n_s / n_w, 0.0)
    else:
        cost[i, j] = n_q - 2 * center * n_s + center * center * n_w
    return cost


def _partitions(cost: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """best[m, j]: least cost of the first j values in exactly m clusters (inf if impossible);
    start[m, j]: where the last of those clusters starts."""
    n = cost.shape[0]
    best = np.full((k + 1, n + 1), np.inf)
    best[0, 0] = 0.0
    start = np.zeros((k + 1, n + 1), dtype=np.int64)
    for m in range(1, k + 1):
        total = best[m - 1, :n, None] + cost  # [i, j]: clusters over 0..i-1, then i..j
        start[m, 1:] = np.argmin(total, axis=0)
        best[m, 1:] = total[start[m, 1:], np.arange(n)]
    return best, start


def _backtrack(start: np.ndarray, m: int, j: int) -> list[tuple[int, int]]:
    """The clusters (first, end) of the first j values in m clusters, left to right."""
    spans = []
    while m > 0:
        i = int(start[m, j])
        spans.append((i, j))
        j, m = i, m - 1
    return spans[::-1]


def cluster_levels(values: np.ndarray, weights: np.ndarray, k: int, pinned: int | None = None) -> np.ndarray:
    """The level of each of `values` (distinct, ascending, with their counts as `weights`) in the
    least-squares clustering into at most k levels (optimal 1-D k-means by dynamic programming),
    levels rounded to integers. A `pinned` value among them stays a level and keeps its value
    exactly: its cluster is centred on it (the [PAD] row, zero-point weights)."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    n = len(values)
    if n <= k:
        return values.astype(np.int64)
    free_cost = _cluster_costs(values, weights)
    spans: list[tuple[int, int, float | None]]
    where = np.flatnonzero(values == pinned) if pinned is not None else np.array([], dtype=np.int64)
    if len(where) == 0:
        _, start = _partitions(free_cost, k)
        spans = [(i, j, None) for i, j in _backtrack(start, k, n)]
    else:
        z = int(where[0])
        # Clusters left of the pinned one (over values[:a]), the pinned one (values[a:n-r], centred
        # on the pinned value), clusters right of it (values[n-r:], by the same recursion mirrored).
        left_best, left_start = _partitions(free_cost, k - 1)
        right_cost = _cluster_costs(values[::-1], weights[::-1])
        right_best, right_start = _partitions(right_cost, k - 1)
        pinned_cost = _cluster_costs(values, weights, float(pinned))
        a = np.arange(z + 1)[:, None]
        r = np.arange(n - z)[None, :]
        middle = pinned_cost[a, n - 1 - r]
        best = (np.inf, 0, 0, 0)
        for m in range(k):
            total = left_best[m, : z + 1, None] + middle + right_best[k - 1 - m, None, : n - z]
            flat = int(np.argmin(total))
            if total.flat[flat] < best[0]:
                best = (float(total.flat[flat]), m, flat // (n - z), flat % (n - z))
        _, m, a_best, r_best = best
        spans = [(i, j, None) for i, j in _backtrack(left_start, m, a_best)]
        spans.append((a_best, n - r_best, float(pinned)))
        spans += [(n - j, n - i, None) for i, j in reversed(_backtrack(right_start, k - 1 - m, r_best))]
    levels = np.empty(n, dtype=np.int64)
    for i, j, center in spans:
        if center is None:
            center = float(np.sum(values[i:j] * weights[i:j]) / np.sum(weights[i:j]))
        levels[i:j] = int(np.floor(center + 0.5))
    return levels


def cluster(array: np.ndarray, bits: int, axis: int | None, zero_points: Sequence[int]) -> np.ndarray:
    """`array` with each slice along `axis` (or the whole, for None) snapped to at most 2^bits
    levels; values equal to the slice's zero point stay as they are."""
    k = 1 << bits
    info = np.iinfo(array.dtype)
    slices = [array] if axis is None else list(np.moveaxis(array, axis, 0))
    out = []
    for index, part in enumerate(slices):
        values, counts = np.unique(part, return_counts=True)
        if len(values) > MAX_CLUSTER_VALUES and len(values) > k:
            raise ToolchainError(f"{len(values)} distinct values in one slice; at most {MAX_CLUSTER_VALUES} "
                                 "can be clustered")
        zero_point = zero_points[index] if len(zero_points) > 1 else zero_points[0]
        levels = np.clip(cluster_levels(values, counts, k, int(zero_point)), info.min, info.max)
        out.append(levels[np.searchsorted(values, part)].astype(array.dtype))
    return out[0] if axis is None else np.moveaxis(np.stack(out), 0, axis)


# ------------------------------------------------------------------------------- compression


@dataclass(frozen=True)
class TensorSpec:
    """One tensor to compress: by index or by its (unique) name in the model; `bits` per index
    (1 to 7: at most 2^bits values per table); `axis` None for one value table for the whole
    tensor, else one table per slice along axis 0 or the last axis."""

    tensor: int | str
    bits: int
    axis: int | None = None


@dataclass(frozen=True)
class _Plan:
    index: int
    name: str
    bits: int
    axis: int | None
    restate: bool  # quantization restated per channel along `axis`


def _resolve(model: TfliteModel, spec: TensorSpec, source: str) -> _Plan:
    sub = model.subgraph
    what = f"{source}: compress tensor {spec.tensor!r}"
    if isinstance(spec.tensor, str):
        matches = [i for i, t in enumerate(sub.tensors or []) if flatbuffer.decode_name(t.name) == spec.tensor]
        if len(matches) != 1:
            raise ToolchainError(f"{what}: {len(matches)} tensors have that name; one is required")
        index = matches[0]
    elif isinstance(spec.tensor, (int, np.integer)) and not isinstance(spec.tensor, bool):
        index = int(spec.tensor)
        if not 0 <= index < len(sub.tensors or []):
            raise ToolchainError(f"{what}: no such tensor (the model has {len(sub.tensors or [])})")
    else:
        raise ToolchainError(f"{what}: name a tensor by index or name")
    tensor = sub.tensors[index]
    name = flatbuffer.decode_name(tensor.name)
    what = f"{source}: compress tensor {name!r}"
    if not isinstance(spec.bits, int) or isinstance(spec.bits, bool) or not 1 <= spec.bits <= MAX_BIT_WIDTH:
        raise ToolchainError(f"{what}: bits must be 1 to {MAX_BIT_WIDTH}, not {spec.bits!r}")
    if model.buffer_data(tensor) is None:
        raise ToolchainError(f"{what}: it is not a constant")
    if tensor.type not in CLUSTER_TYPES:
        raise ToolchainError(f"{what}: it is {flatbuffer.tensor_type_name(tensor.type)}; "
                             "int8, int16 and int32 tensors can be compressed")
    shape = tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()
    axis = spec.axis
    if axis is not None:
        if not isinstance(axis, int) or isinstance(axis, bool) or axis not in (0, len(shape) - 1) or not shape:
            raise ToolchainError(f"{what}: the table axis must be None, 0 or the last axis ({len(shape) - 1})")
    q = flatbuffer.quantization(tensor)
    restate = False
    if q is not None and q.per_channel:
        if axis != q.axis:
            raise ToolchainError(f"{what}: it is quantized per channel along axis {q.axis}, and TFLite Micro "
                                 f"decodes it with one table per channel; compress it per channel along axis {q.axis}")
    elif axis is not None and shape[axis] > 1:
        if q is None:
            raise ToolchainError(f"{what}: it has no quantization parameters, so TFLite Micro decodes it with one "
                                 "value table; compress it per tensor")
        restate = True
    return _Plan(index, name, spec.bits, axis, restate)


def _plans(model: TfliteModel, specs: Sequence[TensorSpec], source: str) -> list[_Plan]:
    if len(model.model.subgraphs) != 1:
        raise ToolchainError(f"{source}: only single-subgraph models can be compressed")
    if read(model):
        raise ToolchainError(f"{source}: the model is already compressed")
    plans = [_resolve(model, spec, source) for spec in specs]
    if not plans:
        raise ToolchainError(f"{source}: no tensors to compress")
    if len({p.index for p in plans}) != len(plans):
        raise ToolchainError(f"{source}: a tensor is named twice")
    # Tensors sharing data (the converter merges identical constants) are compressed together or
    # not at all: TFLite Micro's compressor silently skips data an uncompressed tensor still reads.
    planned = {p.index: p for p in plans}
    tensors = model.subgraph.tensors
    for plan in plans:
        for other, tensor in enumerate(tensors):
            if other == plan.index or tensor.buffer != tensors[plan.index].buffer:
                continue
            twin = planned.get(other)
            if twin is None or (twin.bits, twin.axis) != (plan.bits, plan.axis):
                raise ToolchainError(
                    f"{source}: compress tensor {plan.name!r}: its data is shared with tensor "
                    f"{flatbuffer.decode_name(tensor.name)!r} ({other}); compress that one too, with the same "
                    "bits and axis")
    return plans


def _clustered(model: TfliteModel, tree: schema.ModelT, plans: list[_Plan]) -> schema.ModelT:
    sub = tree.subgraphs[0]
    for plan in plans:
        tensor = sub.tensors[plan.index]
        values = model.constant(plan.index)
        q = flatbuffer.quantization(model.subgraph.tensors[plan.index])
        zero_points = q.zero_points if q is not None else (0,)
        clustered = cluster(values, plan.bits, plan.axis, zero_points)
        tree.buffers[tensor.buffer].data = np.frombuffer(clustered.tobytes(), dtype=np.uint8)
        tree.buffers[tensor.buffer].offset = 0
        tree.buffers[tensor.buffer].size = 0
        if plan.restate:
            channels = int(values.shape[plan.axis])
            tensor.quantization.scale = [float(q.scales[0])] * channels
            tensor.quantization.zeroPoint = [int(q.zero_points[0])] * channels
            tensor.quantization.quantizedDimension = plan.axis
    return tree


def cluster_model(model_bytes: bytes, tensors: Sequence[TensorSpec], source: str = "<bytes>") -> bytes:
    """The model with each named tensor clustered as compress_model clusters it (and its
    quantization restated likewise), left uncompressed: TFLite Micro's outputs on it equal those
    on compress_model's result, with an ordinary arena."""
    model, tree = _unpack(model_bytes, source)
    return _pack(_clustered(model, tree, _plans(model, tensors, source)))


def compress_model(model_bytes: bytes, tensors: Sequence[TensorSpec], source: str = "<bytes>") -> bytes:
    """The model with each named tensor clustered to at most 2^bits values (the zero point kept as
    a level), then LUT-compressed by TFLite Micro's compressor. The result is read back and checked
    to decode to exactly the clustered values."""
    model, tree = _unpack(model_bytes, source)
    plans = _plans(model, tensors, source)
    clustered_bytes = _pack(_clustered(model, tree, plans))
    compress = importlib.import_module("tflite_micro.tensorflow.lite.micro.compression.compress")
    spec = importlib.import_module("tflite_micro.tensorflow.lite.micro.compression.spec")
    requests = [
        spec.Tensor(subgraph=0, tensor=plan.index, compression=[spec.LookUpTableCompression(
            index_bitwidth=plan.bits,
            mode=spec.PerTensor() if plan.axis is None else spec.PerChannel(axis=plan.axis))])
        for plan in plans
    ]
    # The compressor warns (warnings and stderr prints) when a tensor needs fewer bits than asked.
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            result = bytes(compress.compress(clustered_bytes, requests))
    except Exception as exc:  # the compressor's own errors (CompressionError, ValueError, ...), in one line
        raise ToolchainError(f"{source}: TFLite Micro's compressor failed: {exc}") from None
    _check_result(result, clustered_bytes, plans, source)
    return result


def _check_result(result: bytes, clustered_bytes: bytes, plans: list[_Plan], source: str) -> None:
    clustered = flatbuffer.parse_model(clustered_bytes, source)
    luts = {lut.encoded_tensor: lut for lut in read(flatbuffer.parse_model(result, source))}
    for plan in plans:
        lut = luts.get(plan.index)
        if lut is None or not np.array_equal(lut.decode(), clustered.constant(plan.index)):
            raise ToolchainError(f"{source}: tensor {plan.name!r} did not compress to its clustered values")
