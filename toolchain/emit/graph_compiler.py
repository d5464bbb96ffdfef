"""The compiled backend: a full-int8 .tflite becomes C that calls the kernel library in order.

For every operator the compiler computes what TFLite Micro's kernel computes in Prepare
(toolchain/emit/ops/, one module per operator) and emits it as `const` data; the kernels
(toolchain/device/runtime/kernels/) reproduce TFLM's int8 Eval bit for bit. Every activation gets
a fixed offset in one arena (toolchain/emit/memory_plan.py); RESHAPE, EXPAND_DIMS and SQUEEZE emit
no code, their output shares their input's bytes. The C text comes from the templates
`graph.h.j2` / `graph.c.j2`.

The model is untrusted: before lowering, the graph's structure is checked (operators in an order
where every tensor is written before it is read, one writer per tensor, sane shapes), and every
number that reaches C is range-checked by its params dataclass. An operator, option or type
combination outside what the kernels reproduce raises ToolchainError naming the operator.

A LUT-compressed model (TFLM's DECODE operators, toolchain/compression.py) is read and validated
first; its decoded tensors are constants here, read in place from the compressed bytes by the
kernels that can (ops/decode.py), never planned in the arena.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain import compression, flatbuffer
from toolchain.contract import ConstArray, check_range
from toolchain.emit import memory_plan, ops
from toolchain.emit.ops.common import C_TYPES, ArrayArg, KernelCall, Node, Options, TensorArg, TensorListArg
from toolchain.emit.render import render
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import TfliteModel

# An activation larger than this cannot be the working memory of a microcontroller model, and
# keeping every size below it keeps all index arithmetic of the kernels inside int32.
MAX_TENSOR_BYTES = 1 << 28


@dataclass(frozen=True)
class IoTensor:
    """A graph input or output as the generated C exposes it."""

    tensor: int
    name: str
    c_type: str
    shape: tuple[int, ...]
    offset: int
    bytes: int
    scale: float | None
    zero_point: int | None

    @property
    def length(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass(frozen=True)
class CompiledOp:
    """One operator of the compiled graph: its lowered call and what benchmarks want to know."""

    node: int
    op: str
    call: KernelCall
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    output_shapes: tuple[tuple[int, ...], ...]

    @property
    def kernel(self) -> str | None:
        return self.call.kernel

    @property
    def macs(self) -> int:
        return self.call.macs


@dataclass(frozen=True)
class ConstantTensor:
    """A constant tensor of the model that a kernel reads, emitted as a `static const` array."""

    tensor: int
    name: str  # the tensor's name in the model (untrusted text: comments escape it)
    array: ConstArray


@dataclass
class CompiledGraph:
    ops: list[CompiledOp]
    constants: list[ConstantTensor]
    inputs: list[IoTensor]
    outputs: list[IoTensor]
    arena_bytes: int
    tensor_offsets: dict[int, int]  # activation tensor -> arena offset
    # (input tensor, output tensor, lead): operators whose output starts `lead` bytes below their
    # input and overlaps it, as the kernel allows (conv_2d.streaming_lead).
    streamed: list[tuple[int, int, int]]

    @property
    def weight_bytes(self) -> int:
        """Constant tensors and the arrays laid out anew for kernels (packed filters)."""
        packed = sum(arg.array.nbytes for op in self.ops for arg in op.call.args if isinstance(arg, ArrayArg))
        return sum(c.array.nbytes for c in self.constants) + packed

    def argument(self, arg) -> dict:
        """How the template passes one kernel argument: NULL, a constant array, a typed address in
        the arena, or (CONCATENATION) a list of those."""
        if isinstance(arg, TensorListArg):
            return {"kind": "list", "items": [self.argument(TensorArg(t, "int8_t", True)) for t in arg.tensors]}
        if isinstance(arg, ArrayArg):
            return {"kind": "constant", "name": arg.array.name}
        if isinstance(arg, TensorArg):
            if arg.tensor in self.tensor_offsets:
                return {"kind": "arena", "c_type": arg.c_type, "const": arg.is_input,
                        "offset": self.tensor_offsets[arg.tensor]}
            return {"kind": "constant", "name": f"tc_tensor_{arg.tensor}"}
        return {"kind": "null"}

    def arguments(self, op: CompiledOp) -> list[dict]:
        return [self.argument(arg) for arg in op.call.args]

    def render(self, prefix: str, source: str) -> dict[str, str]:
        """{file name: text}: `<prefix>_graph.h` and `<prefix>_graph.c`; `source` names the model."""
        context = {"prefix": prefix, "graph": self, "float_literal": float_literal}
        return {
            f"{prefix}_graph.h": render("graph.h.j2", source, **context),
            f"{prefix}_graph.c": render("graph.c.j2", source, **context),
        }


def compile_graph(model: TfliteModel, options: Options = Options()) -> CompiledGraph:
    return _Compiler(model, options).compile()


class _Compiler:
    def __init__(self, model: TfliteModel, options: Options):
        if len(model.model.subgraphs) != 1:
            raise ToolchainError(
                f"compiled backend: the model has {len(model.model.subgraphs)} subgraphs; only one is supported"
            )
        self.model = model
        self.options = options
        self.subgraph = model.subgraph
        self.tensors = self.subgraph.tensors or []
        self.operators = list(self.subgraph.operators or [])
        self.graph_inputs = [int(i) for i in (self.subgraph.inputs if self.subgraph.inputs is not None else [])]
        self.graph_outputs = [int(i) for i in (self.subgraph.outputs if self.subgraph.outputs is not None else [])]
        luts = compression.read(model)
        self.compressed = {lut.decoded_tensor: lut for lut in luts}  # decoded tensor -> its LUT
        self.decode_ops = {lut.decode_op for lut in luts}

    def is_constant(self, tensor: int) -> bool:
        return tensor in self.compressed or self.model.buffer_data(self.tensors[tensor]) is not None

    def name(self, tensor: int) -> str:
        return flatbuffer.decode_name(self.tensors[tensor].name)

    def compile(self) -> CompiledGraph:
        self._check_structure()
        compiled: list[CompiledOp] = []
        aliases: dict[int, int] = {}  # output tensor -> input tensor whose bytes it shares
        for index in range(len(self.operators)):
            node = Node(self.model, index, self.options, self.compressed)
            call = ops.lower(node)
            if call.kernel is None and call.aliases_input:
                aliases[node.outputs[0]] = node.inputs[0]
            compiled.append(CompiledOp(index, node.op_name, call, tuple(node.inputs), tuple(node.outputs),
                                       tuple(node.shape(t) for t in node.outputs)))
        self._check_io()
        plan, offsets, streamed = self._plan(aliases, [op.call for op in compiled])
        return CompiledGraph(
            ops=compiled,
            constants=self._constants(compiled),
            inputs=[self._io(t, offsets) for t in self.graph_inputs],
            outputs=[self._io(t, offsets) for t in self.graph_outputs],
            arena_bytes=plan.arena_bytes,
            tensor_offsets=offsets,
            streamed=streamed,
        )

    def _check_structure(self) -> None:
        """The order TFLM runs the operators in must be one where each activation is written before
        it is read, by exactly one operator; shapes must be sane sizes."""
        if not self.operators:
            raise ToolchainError("compiled backend: the model has no operators")
        if not self.graph_inputs or not self.graph_outputs:
            raise ToolchainError("compiled backend: the model has no inputs or no outputs")
        for index, tensor in enumerate(self.tensors):
            shape = [int(d) for d in tensor.shape] if tensor.shape is not None else []
            if any(d < 0 for d in shape):
                raise ToolchainError(f"compiled backend: tensor {index} has a negative dimension")
            if flatbuffer.tensor_nbytes(tensor) > MAX_TENSOR_BYTES:
                raise ToolchainError(f"compiled backend: tensor {index} is larger than {MAX_TENSOR_BYTES} bytes")
        written = set(self.graph_inputs)
        if len(written) != len(self.graph_inputs):
            raise ToolchainError("compiled backend: a graph input is listed twice")
        for node, op in enumerate(self.operators):
            if node in self.decode_ops:
                continue  # constants in, constants out: compression.read checked its tensors
            name = flatbuffer.op_name(self.model.model, op)
            inputs = [int(t) for t in (op.inputs if op.inputs is not None else []) if t != -1]
            outputs = [int(t) for t in (op.outputs if op.outputs is not None else [])]
            for tensor in inputs:
                if not self.is_constant(tensor) and tensor not in written:
                    raise ToolchainError(
                        f"compiled backend: {name} (node {node}) reads tensor {tensor} before any operator writes it"
                    )
            for tensor in outputs:
                if tensor == -1 or tensor in written or self.is_constant(tensor):
                    raise ToolchainError(
                        f"compiled backend: {name} (node {node}) writes tensor {tensor}, which is already "
                        "written, a graph input or a constant"
                    )
                written.add(tensor)
        for tensor in self.graph_outputs:
            if tensor not in written:
                raise ToolchainError(f"compiled backend: graph output {tensor} is never written")

    def _check_io(self) -> None:
        for index in self.graph_inputs + self.graph_outputs:
            if self.tensors[index].type not in C_TYPES:
                raise ToolchainError(
                    f"compiled backend: graph input/output {index} is "
                    f"{flatbuffer.tensor_type_name(self.tensors[index].type)}; only int8 and int32 are supported"
                )

    def _plan(self, aliases: dict[int, int], calls: list[KernelCall]):
        def owner(tensor: int) -> int:
            # Terminates: _check_structure makes every alias point to an earlier-written tensor.
            while tensor in aliases:
                tensor = aliases[tensor]
            return tensor

        n_ops = len(self.operators)
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        size: dict[int, int] = {}

        def touch(tensor: int, when: int) -> None:
            key = owner(tensor)
            first[key] = min(first.get(key, when), when)
            last[key] = max(last.get(key, when), when)
            size[key] = max(size.get(key, 0), flatbuffer.tensor_nbytes(self.tensors[tensor]))

        for tensor in self.graph_inputs:
            touch(tensor, 0)
        for node, op in enumerate(self.operators):
            for tensor in list(op.inputs if op.inputs is not None else []) + list(op.outputs):
                if tensor != -1 and not self.is_constant(tensor):
                    touch(int(tensor), node)
        for tensor in self.graph_outputs:
            touch(tensor, n_ops)
        # An output allowed to overlap its input (a streaming kernel) is planned as one buffer
        # holding both: the output at its start, the input `lead` (aligned) bytes in.
        io = {owner(t) for t in self.graph_inputs + self.graph_outputs}
        merged: dict[int, tuple[int, int]] = {}  # input owner -> (output owner, aligned lead)
        streamed = []
        for node, call in enumerate(calls):
            if call.streaming_lead is None:
                continue
            source, target = owner(self.operators[node].inputs[0]), owner(self.operators[node].outputs[0])
            taken = {k for pair in merged.items() for k in (pair[0], pair[1][0])}
            if last[source] != node or source in io or target in io or {source, target} & taken:
                continue
            lead = memory_plan.align(call.streaming_lead)
            merged[source] = (target, lead)
            first[target] = first.pop(source)
            last.pop(source)
            size[target] = max(size[target], lead + size.pop(source))
            streamed.append((int(self.operators[node].inputs[0]), int(self.operators[node].outputs[0]),
                             call.streaming_lead))
        buffers = [memory_plan.Buffer(key=k, size=size[k], first=first[k], last=last[k]) for k in sorted(first)]
        plan = memory_plan.plan_memory(buffers)
        check_range(plan.arena_bytes, "int32_t", "compiled backend: arena size")
        placed = dict(plan.offsets)
        for source, (target, lead) in merged.items():
            placed[source] = placed[target] + lead
        activations = set(placed) | set(aliases)
        offsets = {t: placed[owner(t)] for t in sorted(activations)}
        return plan, offsets, streamed

    def _constants(self, compiled: list[CompiledOp]) -> list[ConstantTensor]:
        """Constant tensors the calls read, in order of first use: whole (a compressed one decoded
        here) when passed as a tensor, as index bytes and value tables when read in place."""
        seen: dict[int | str, ConstantTensor] = {}
        for op in compiled:
            tensors = []
            for arg in op.call.args:
                if isinstance(arg, TensorArg):
                    tensors.append(arg.tensor)
                elif isinstance(arg, TensorListArg):
                    tensors += list(arg.tensors)
            for tensor in tensors:
                if tensor not in seen and self.is_constant(tensor):
                    lut = self.compressed.get(tensor)
                    values = lut.decode() if lut is not None else self.model.constant(tensor)
                    seen[tensor] = ConstantTensor(
                        tensor, self.name(tensor),
                        ConstArray(f"tc_tensor_{tensor}", C_TYPES[self.tensors[tensor].type], values),
                    )
            for array in op.call.shared_arrays():
                if array.name not in seen:
                    seen[array.name] = ConstantTensor(array.tensor, self.name(array.tensor), array)
        return list(seen.values())

    def _io(self, tensor: int, offsets: dict[int, int]) -> IoTensor:
        q = flatbuffer.quantization(self.tensors[tensor])
        return IoTensor(
            tensor=tensor,
            name=self.name(tensor),
            c_type=C_TYPES[self.tensors[tensor].type],
            shape=tuple(int(d) for d in self.tensors[tensor].shape),
            offset=offsets[tensor],
            bytes=flatbuffer.tensor_nbytes(self.tensors[tensor]),
            scale=q.scales[0] if q is not None else None,
            zero_point=q.zero_points[0] if q is not None else None,
        )


def float_literal(value: float) -> str:
    """A float constant that reads back as the same float32."""
    value = np.float32(value)
    if not np.isfinite(value):
        raise ToolchainError(f"compiled backend: {float(value)!r} cannot be a C float constant")
    text = np.format_float_positional(value, unique=True, trim="0")
    if "." not in text:
        text += ".0"
    return text + "f"

