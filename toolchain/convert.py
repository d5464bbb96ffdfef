"""Stage 4, `textclf convert`: the float student as FP32, FP16 and full-INT8 `.tflite`.

INT8 is full integer quantization: int8 weights (per-channel for FULLY_CONNECTED/CONV_2D) and
int8 activations calibrated on training text, int8 output; token ids stay int32.
Writes student_fp32.tflite, student_fp16.tflite, student_int8.tflite and sizes.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from toolchain import flatbuffer, frameworks
from toolchain.config import ConvertConfig
from toolchain.errors import ToolchainError
from toolchain.model_info import fully_integer

VERSION = "2"
FORMATS = ("fp32", "fp16", "int8")


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def convert(saved_model: Path, kind: str, calibration: np.ndarray | None = None) -> bytes:
    tf = frameworks.tensorflow()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if kind == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif kind == "int8":
        if calibration is None or not len(calibration):
            raise ToolchainError("INT8 conversion needs calibration token ids")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([row[np.newaxis, :]] for row in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        return converter.convert()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ToolchainError(f"TFLite conversion ({kind}) failed: {first}") from None


def embedding_tensor(model: flatbuffer.TfliteModel) -> int:
    """The constant table the token ids GATHER from (the embedding)."""
    for op in model.subgraph.operators or []:
        if flatbuffer.op_name(model.model, op) == "GATHER" and model.buffer_data(model.subgraph.tensors[op.inputs[0]]):
            return int(op.inputs[0])
    raise ToolchainError("the INT8 model has no embedding table (a GATHER of a constant)")


def compress_embedding(model_bytes: bytes, bits: int, lut: str) -> bytes:
    """The embedding table in TFLite Micro's LUT-compressed form (its own compression module):
    `bits`-bit indices into value tables per column ("per_channel") or one for the table. The
    clustered training left at most 2^bits values per table or column."""
    from toolchain import compression

    model = flatbuffer.parse_model(model_bytes, "student_int8.tflite")
    spec = compression.TensorSpec(tensor=embedding_tensor(model), bits=bits, axis=1 if lut == "per_channel" else None)
    return compression.compress_model(model_bytes, [spec])


def produce(config: ConvertConfig, student_dir: Path, teacher_dir: Path, out: Path) -> dict:
    saved_model = student_dir / "saved_model"
    student = json.loads((student_dir / "metrics.json").read_text())
    calibration = np.load(student_dir / "calibration_ids.npy")[: config.calibration_examples]
    sizes = {
        "teacher_checkpoint": directory_bytes(teacher_dir / "model"),
        "saved_model": directory_bytes(saved_model),
    }
    for kind in FORMATS:
        data = convert(saved_model, kind, calibration if kind == "int8" else None)
        if kind == "int8" and student.get("embedding_bits"):
            sizes["int8_uncompressed"] = len(data)
            data = compress_embedding(data, student["embedding_bits"], student["embedding_lut"])
        (out / f"student_{kind}.tflite").write_bytes(data)
        sizes[kind] = len(data)
    int8 = flatbuffer.parse_model((out / "student_int8.tflite").read_bytes(), "student_int8.tflite")
    integer, floats = fully_integer(int8)
    if not integer:
        raise ToolchainError(f"INT8 model is not fully integer: float tensors {', '.join(floats[:4])}")
    (out / "sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
    return {"bytes": sizes, "calibration_examples": len(calibration)}
