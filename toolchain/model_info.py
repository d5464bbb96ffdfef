"""`toolchain inspect`: what a .tflite model holds and what TFLite Micro needs to run it."""
from __future__ import annotations

import collections
import json
from pathlib import Path

from toolchain import flatbuffer, tflm
from toolchain.errors import ToolchainError
from toolchain.flatbuffer import TfliteModel, decode_name, ints


def tensor_entry(model: TfliteModel, index: int) -> dict:
    tensor = model.subgraph.tensors[index]
    quant = flatbuffer.quantization(tensor)
    entry = {
        "index": int(index),
        "name": decode_name(tensor.name),
        "shape": ints(tensor.shape),
        "dtype": flatbuffer.tensor_type_name(tensor.type).lower(),
        "bytes": flatbuffer.tensor_nbytes(tensor),
        "constant": model.buffer_data(tensor) is not None,
    }
    if quant is not None:
        entry["scale"] = list(quant.scales) if quant.per_channel else quant.scales[0]
        entry["zero_point"] = list(quant.zero_points) if quant.per_channel else quant.zero_points[0]
        if quant.per_channel:
            entry["quantized_dimension"] = quant.axis
    return entry


def input_specs(model: TfliteModel) -> list[tflm.InputSpec]:
    specs = []
    for index in ints(model.subgraph.inputs):
        tensor = model.subgraph.tensors[index]
        specs.append(
            tflm.InputSpec(
                shape=tuple(ints(tensor.shape)),
                dtype=flatbuffer.numpy_dtype(tensor.type).__name__,
            )
        )
    return specs


def check_structure(model: TfliteModel) -> None:
    """The first subgraph is a graph TFLite Micro can run in its stored order: it has inputs and
    outputs, and every operator reads only constants, graph inputs, variables and tensors an
    earlier operator wrote, and writes tensors nothing else writes (no operator is its own input,
    as a RESHAPE whose output is its input would be)."""
    subgraph = model.subgraph
    tensors = subgraph.tensors or []
    inputs, outputs = ints(subgraph.inputs), ints(subgraph.outputs)
    source = model.source
    if not inputs or not outputs:
        raise ToolchainError(f"{source}: the graph has no {'inputs' if not inputs else 'outputs'}")
    for tensor in inputs:
        if model.buffer_data(tensors[tensor]) is not None:
            raise ToolchainError(f"{source}: graph input {tensor} is a constant")
    if len(set(inputs)) != len(inputs):
        raise ToolchainError(f"{source}: a graph input is listed twice")
    written = set(inputs) | {i for i, t in enumerate(tensors) if t.isVariable}
    for node, op in enumerate(subgraph.operators or []):
        name = flatbuffer.op_name(model.model, op)
        for tensor in ints(op.inputs):
            if tensor != -1 and tensor not in written and model.buffer_data(tensors[tensor]) is None:
                raise ToolchainError(
                    f"{source}: operator {node} ({name}) reads tensor {tensor} before any operator writes it"
                )
        op_outputs = ints(op.outputs)
        if not op_outputs:
            raise ToolchainError(f"{source}: operator {node} ({name}) has no outputs")
        for tensor in op_outputs:
            if tensor == -1 or tensor in written or model.buffer_data(tensors[tensor]) is not None:
                raise ToolchainError(
                    f"{source}: operator {node} ({name}) writes tensor {tensor}, which is a graph input, "
                    "a constant or written before"
                )
            written.add(tensor)
    for tensor in outputs:
        if tensor not in written and model.buffer_data(tensors[tensor]) is None:
            raise ToolchainError(f"{source}: graph output {tensor} is never written")


# Tensor types TFLite Micro can size (memory_helpers.cc TfLiteTypeSizeOf); its memory planner stops
# on a model holding a tensor of any other type, used or not.
TFLM_SIZED_TYPES = frozenset(
    getattr(flatbuffer.schema.TensorType, name)
    for name in ("FLOAT16", "BFLOAT16", "FLOAT32", "FLOAT64", "INT16", "INT32", "UINT32", "UINT8", "UINT16",
                 "INT8", "INT64", "UINT64", "BOOL", "RESOURCE", "COMPLEX64", "COMPLEX128", "INT4")
)


def check_tflm_types(model: TfliteModel) -> None:
    """Every tensor has a type TFLite Micro can allocate (a model for a microcontroller)."""
    for index, tensor in enumerate(model.subgraph.tensors or []):
        if tensor.type not in TFLM_SIZED_TYPES:
            raise ToolchainError(
                f"{model.source}: tensor {index} is {flatbuffer.tensor_type_name(tensor.type)}, "
                "a type TFLite Micro cannot hold"
            )


def fully_integer(model: TfliteModel) -> tuple[bool, list[str]]:
    """True when no tensor any operator reads or writes is floating point; else the offenders."""
    floats = []
    tensors = model.subgraph.tensors
    for op in model.subgraph.operators or []:
        for index in ints(op.inputs) + ints(op.outputs):
            if index != -1 and tensors[index].type in flatbuffer.FLOAT_TYPES:
                name = decode_name(tensors[index].name)
                if name not in floats:
                    floats.append(name)
    return not floats, floats


def describe(path: Path, measure: bool = True) -> dict:
    """Everything `inspect` prints, as a JSON-ready dict. Raises ToolchainError on bad input."""
    model = flatbuffer.read_model(path)
    check_structure(model)
    subgraph = model.subgraph
    ops = [flatbuffer.op_name(model.model, op) for op in subgraph.operators or []]
    counts = collections.Counter(ops)
    tensors = [tensor_entry(model, i) for i in range(len(subgraph.tensors or []))]
    is_integer, float_tensors = fully_integer(model)
    report = {
        "file": str(path),
        "file_bytes": len(model.data),
        "schema_version": int(model.model.version),
        "description": decode_name(model.model.description),
        "subgraphs": len(model.model.subgraphs),
        "inputs": [tensor_entry(model, i) for i in ints(subgraph.inputs)],
        "outputs": [tensor_entry(model, i) for i in ints(subgraph.outputs)],
        "operators": [{"op": name, "count": counts[name]} for name in sorted(counts)],
        "operator_sequence": ops,
        "tensors": tensors,
        "constant_bytes": sum(t["bytes"] for t in tensors if t["constant"]),
        "activation_bytes": sum(t["bytes"] for t in tensors if not t["constant"]),
        "buffers": len(model.model.buffers or []),
        "fully_integer": is_integer,
        "float_tensors": float_tensors,
    }
    if measure:
        arena = tflm.measure_arena(model.data, input_specs(model))
        report["tflm"] = {"supported": True, "all_ops": sorted(counts), "arena_bytes": arena}
    return report


def format_report(report: dict) -> str:
    lines = [
        f"Model      {report['file']} ({report['file_bytes']:,} bytes, schema v{report['schema_version']}, "
        f"{report['subgraphs']} subgraph(s))",
    ]

    def io_line(entry):
        text = f"  #{entry['index']:<3} {entry['name']}  {entry['dtype']} {entry['shape']}"
        if "scale" in entry:
            text += f"  scale={_fmt_quant(entry['scale'])} zero_point={_fmt_quant(entry['zero_point'])}"
        return text

    lines.append("Inputs")
    lines += [io_line(e) for e in report["inputs"]]
    lines.append("Outputs")
    lines += [io_line(e) for e in report["outputs"]]
    total_ops = sum(o["count"] for o in report["operators"])
    lines.append(f"Operators  {total_ops} in graph, {len(report['operators'])} distinct")
    lines += [f"  {o['op']:<24} x{o['count']}" for o in report["operators"]]
    lines.append(
        f"Tensors    {len(report['tensors'])} ({report['constant_bytes']:,} bytes constant, "
        f"{report['activation_bytes']:,} bytes of activations), {report['buffers']} buffers"
    )
    name_width = min(48, max([len(t["name"]) for t in report["tensors"]] + [4]))
    for t in report["tensors"]:
        kind = "const" if t["constant"] else "act"
        quant = f" scale={_fmt_quant(t['scale'])} zp={_fmt_quant(t['zero_point'])}" if "scale" in t else ""
        name = t["name"] if len(t["name"]) <= name_width else "..." + t["name"][-(name_width - 3):]
        lines.append(
            f"  {t['index']:>4} {name:<{name_width}} {t['dtype']:<8} {t['shape']!s:<16} "
            f"{t['bytes']:>9,} B {kind}{quant}"
        )
    if report["fully_integer"]:
        lines.append("Integer    fully integer: no floating-point tensor on the path")
    else:
        lines.append(f"Integer    NOT fully integer: float tensors {', '.join(report['float_tensors'][:6])}"
                     + (" ..." if len(report["float_tensors"]) > 6 else ""))
    if "tflm" in report:
        lines.append(
            f"TFLM       every operator supported (loaded and invoked by tflite-micro); "
            f"minimum arena {report['tflm']['arena_bytes']:,} bytes (measured by search)"
        )
    return "\n".join(lines)


def _fmt_quant(value) -> str:
    if isinstance(value, list):
        head = ", ".join(f"{v:.6g}" for v in value[:3])
        return f"[{head}{', ...' if len(value) > 3 else ''}] ({len(value)} channels)"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2)
