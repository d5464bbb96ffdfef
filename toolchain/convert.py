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

VERSION = "1"
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


def produce(config: ConvertConfig, student_dir: Path, teacher_dir: Path, out: Path) -> dict:
    saved_model = student_dir / "saved_model"
    calibration = np.load(student_dir / "calibration_ids.npy")[: config.calibration_examples]
    sizes = {
        "teacher_checkpoint": directory_bytes(teacher_dir / "model"),
        "saved_model": directory_bytes(saved_model),
    }
    for kind in FORMATS:
        data = convert(saved_model, kind, calibration if kind == "int8" else None)
        (out / f"student_{kind}.tflite").write_bytes(data)
        sizes[kind] = len(data)
    int8 = flatbuffer.parse_model((out / "student_int8.tflite").read_bytes(), "student_int8.tflite")
    integer, floats = fully_integer(int8)
    if not integer:
        raise ToolchainError(f"INT8 model is not fully integer: float tensors {', '.join(floats[:4])}")
    (out / "sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
    return {"bytes": sizes, "calibration_examples": len(calibration)}
