"""The compiled backend: a full-int8 .tflite becomes C that calls the kernel library in order.

For every operator the compiler computes what TFLite Micro's kernel computes in Prepare
(toolchain/emit/operators.py) and emits it as `const` data; the kernels
(firmware/lib/textclf/src/kernels/) reproduce TFLM's int8 Eval bit for bit. Every activation gets a
fixed offset in one arena (toolchain/emit/memory_plan.py); RESHAPE, EXPAND_DIMS and SQUEEZE emit no
code, their output shares their input's bytes. All C text comes from templates/tc_model_graph.*.j2.

The flatbuffer is read only through toolchain/flatbuffer.py. An operator, option or type
combination outside what the kernels reproduce raises ToolchainError naming the operator.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain import flatbuffer
from toolchain.emit import memory_plan, operators
from toolchain.emit.operators import KernelCall
from toolchain.emit.render import render
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import TfliteModel, schema

HEADER_FILE = "tc_model_graph.h"
SOURCE_FILE = "tc_model_graph.c"
C_TYPES = {schema.TensorType.INT8: "int8_t", schema.TensorType.INT32: "int32_t"}


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
    """What the benchmarks need to know about one operator of the compiled graph."""

    node: int
    op: str
    kernel: str | None  # C function; None when the output shares the input's bytes
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    output_shapes: tuple[tuple[int, ...], ...]
    macs: int  # multiply-accumulates (FULLY_CONNECTED, CONV_2D, BATCH_MATMUL), else 0


@dataclass
class CompiledGraph:
    files: dict[str, str]
    arena_bytes: int
    weight_bytes: int  # constant tensors and packed weights emitted as arrays
    ops: list[CompiledOp]
    inputs: list[IoTensor]
    outputs: list[IoTensor]
    tensor_offsets: dict[int, int]  # activation tensor -> arena offset
    plan: memory_plan.MemoryPlan  # buffer keys are the tensors that own each buffer
    # (input tensor, output tensor, lead): operators whose output starts `lead` bytes below their
    # input and overlaps it, as the kernel allows (operators.streaming_lead).
    streamed: list[tuple[int, int, int]]


def generate(model_path: Path, source: str) -> dict[str, str]:
    """{file name: text} for firmware/lib/textclf_model/src/; `source` names the model in headers."""
    return compile_graph(model_path, source).files


def compile_graph(model_path: Path, source: str) -> CompiledGraph:
    model = flatbuffer.read_model(model_path)
    return _Compiler(model, source).compile()


class _Compiler:
    def __init__(self, model: TfliteModel, source: str):
        if len(model.model.subgraphs) != 1:
            raise ToolchainError(
                f"compiled backend: the model has {len(model.model.subgraphs)} subgraphs; "
                "only one is supported"
            )
        self.model = model
        self.source = source
        self.subgraph = model.subgraph
        self.tensors = self.subgraph.tensors or []
        self.operators = list(self.subgraph.operators or [])
        self.graph_inputs = [int(i) for i in self.subgraph.inputs]
        self.graph_outputs = [int(i) for i in self.subgraph.outputs]

    def is_constant(self, tensor: int) -> bool:
        return self.model.buffer_data(self.tensors[tensor]) is not None

    def name(self, tensor: int) -> str:
        return flatbuffer.decode_name(self.tensors[tensor].name)

    def compile(self) -> CompiledGraph:
        calls: list[KernelCall] = []
        aliases: dict[int, int] = {}  # output tensor -> input tensor whose bytes it shares
        ops: list[CompiledOp] = []
        for index in range(len(self.operators)):
            node = operators.Node(self.model, index)
            call = operators.lower(node)
            if call.kernel is None:
                aliases[node.outputs[0]] = node.inputs[0]
            calls.append(call)
            ops.append(
                CompiledOp(
                    node=index,
                    op=node.op_name,
                    kernel=call.kernel,
                    inputs=tuple(node.inputs),
                    outputs=tuple(node.outputs),
                    output_shapes=tuple(node.shape(t) for t in node.outputs),
                    macs=call.macs,
                )
            )
        self._check_io()
        plan, tensor_offsets, streamed = self._plan(aliases, calls)
        constants = self._constants(calls)
        inputs = [self._io(t, tensor_offsets) for t in self.graph_inputs]
        outputs = [self._io(t, tensor_offsets) for t in self.graph_outputs]
        files = self._render(calls, ops, constants, tensor_offsets, plan.arena_bytes, inputs, outputs)
        return CompiledGraph(
            files=files,
            arena_bytes=plan.arena_bytes,
            weight_bytes=sum(values.nbytes for _, _, values in constants)
            + sum(values.nbytes for call in calls for _, values in call.packed_weights),
            ops=ops,
            inputs=inputs,
            outputs=outputs,
            tensor_offsets=tensor_offsets,
            plan=plan,
            streamed=streamed,
        )

    def _check_io(self) -> None:
        for index in self.graph_inputs + self.graph_outputs:
            if self.tensors[index].type not in C_TYPES:
                raise ToolchainError(
                    f"compiled backend: graph input/output {self.name(index)!r} is "
                    f"{flatbuffer.tensor_type_name(self.tensors[index].type)}; "
                    "only int8 and int32 are supported"
                )
            if self.is_constant(index):
                raise ToolchainError(
                    f"compiled backend: graph input/output {self.name(index)!r} is a constant"
                )

    def _plan(self, aliases: dict[int, int], calls: list[KernelCall]):
        def owner(tensor: int) -> int:
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
        buffers = [
            memory_plan.Buffer(key=k, size=size[k], first=first[k], last=last[k]) for k in sorted(first)
        ]
        plan = memory_plan.plan_memory(buffers)
        placed = dict(plan.offsets)
        for source, (target, lead) in merged.items():
            placed[source] = placed[target] + lead
        activations = set(placed) | set(aliases)
        offsets = {t: placed[owner(t)] for t in sorted(activations)}
        return plan, offsets, streamed

    def _constants(self, calls: list[KernelCall]) -> list[tuple[int, str, np.ndarray]]:
        """Constant tensors the calls read, in order of first use: (tensor, C type, values)."""
        seen: dict[int, tuple[int, str, np.ndarray]] = {}
        for call in calls:
            for tensor in [t for _, t, _ in call.args] + (call.concat_inputs or []):
                if tensor is not None and tensor not in seen and self.is_constant(tensor):
                    seen[tensor] = (tensor, C_TYPES[self.tensors[tensor].type], self.model.constant(tensor))
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

    # ---------------------------------------------------------------------------------- rendering

    def _tensor_arg(self, tensor: int | None, direction: str, c_type: str, offsets: dict[int, int]) -> dict:
        """How the template passes a tensor: NULL, a constant array, or a typed arena address."""
        if tensor is None:
            return {"null": True}
        if self.is_constant(tensor):
            return {"null": False, "constant": f"tc_tensor_{tensor}"}
        return {"null": False, "constant": None, "input": direction == "in", "c_type": c_type,
                "offset": offsets[tensor]}

    def _render(self, calls, ops, constants, offsets, arena_bytes, inputs, outputs) -> dict[str, str]:
        invocations = []
        for call, op in zip(calls, ops):
            invocations.append(
                {
                    "node": op.node,
                    "op": op.op,
                    "kernel": call.kernel,
                    "params_name": f"tc_op_{op.node}",
                    "params_type": call.params_type,
                    "params": call.params,
                    "arrays": [{"name": n, "c_type": "int32_t", "data": v} for n, v in call.packed_weights]
                    + [{"name": n, "c_type": t, "data": v} for n, t, v in call.arrays],
                    "concat_inputs": [self._tensor_arg(t, "in", "int8_t", offsets) for t in call.concat_inputs]
                    if call.concat_inputs is not None
                    else None,
                    "args": [self._tensor_arg(t, d, c, offsets) for d, t, c in call.args],
                }
            )
        context = {
            "header_file": HEADER_FILE,
            "arena_bytes": arena_bytes,
            "inputs": inputs,
            "outputs": outputs,
            "constants": [
                {
                    "name": f"tc_tensor_{tensor}",
                    "c_type": c_type,
                    "data": values,
                    "comment": f"{self.name(tensor)} {list(values.shape)}",
                }
                for tensor, c_type, values in constants
            ],
            "invocations": invocations,
            "float_literal": _float_literal,
        }
        return {
            HEADER_FILE: render("tc_model_graph.h.j2", self.source, **context),
            SOURCE_FILE: render("tc_model_graph.c.j2", self.source, **context),
        }


def _float_literal(value: float) -> str:
    """A float constant that reads back as the same float32."""
    text = np.format_float_positional(np.float32(value), unique=True, trim="0")
    if "." not in text:
        text += ".0"
    return text + "f"
