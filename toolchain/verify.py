"""Stage 5, `textclf verify`: the INT8 model in the official TFLite Micro interpreter.

Runs the whole test split through TFLM (pip `tflite-micro`), measures the minimum arena, compares
with the float student and with TFLite's own int8 kernels, and saves TFLM's int8 outputs for a set
of sentences as golden vectors (text, token ids, int8 logits). TFLM — not TFLite, whose kernels
differ by a few LSB — is the reference the firmware must match bit for bit.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from toolchain import compression, evaluation, flatbuffer, frameworks, model_info, tflm
from toolchain import tokenizer as wordpiece
from toolchain.config import VerifyConfig
from toolchain.data import read_jsonl
from toolchain.progress import progress

VERSION = "2"

# Sentences the firmware must handle exactly like the workstation, beyond the test split.
EDGE_SENTENCES = (
    "",
    "!!!",
    "A tour de force: moving, funny and sad.",
    "Ce film était très ennuyeux… naïve, déjà vu.",
    "東京の映画 is great 🙂👍🏽",
    "ＦＵＬＬ－ＷＩＤＴＨ text and ﬁne ligatures",
    "unbelievably-overwrought,over-long,self-indulgent" * 3,
    "a " * 80,
)


def tflm_logits(interpreter: tflm.TflmInterpreter, ids: np.ndarray, desc: str) -> np.ndarray:
    out = []
    with progress(total=len(ids), desc=desc, unit="text") as bar:
        for row in ids:
            (logits,) = interpreter.run([row[np.newaxis, :].astype(np.int32)])
            out.append(logits.reshape(-1))
            bar.update(1)
    return np.stack(out).astype(np.int8)


def tflite_logits(model_bytes: bytes, ids: np.ndarray) -> np.ndarray:
    """TFLite's (not TFLM's) int8 kernels, default op resolver without delegates, for comparison."""
    import warnings

    tf = frameworks.tensorflow()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(
            model_content=model_bytes,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    outp = interpreter.get_output_details()[0]["index"]
    out = []
    for row in ids:
        interpreter.set_tensor(inp, row[np.newaxis, :].astype(np.int32))
        interpreter.invoke()
        out.append(interpreter.get_tensor(outp).reshape(-1))
    return np.stack(out).astype(np.int8)


def golden_indices(n: int, count: int) -> list[int]:
    """Evenly spread over the test split (deterministic)."""
    if count <= 0 or n == 0:
        return []
    return sorted(set(np.linspace(0, n - 1, min(count, n)).round().astype(int).tolist()))


def produce(config: VerifyConfig, data_dir: Path, student_dir: Path, convert_dir: Path, out: Path) -> dict:
    labels = json.loads((data_dir / "labels.json").read_text())
    test = read_jsonl(data_dir / "test.jsonl")
    truth = np.array([r["label"] for r in test])
    tokenizer = wordpiece.load(student_dir)
    ids = wordpiece.encode(tokenizer, [r["text"] for r in test])

    model_bytes = (convert_dir / "student_int8.tflite").read_bytes()
    model = flatbuffer.parse_model(model_bytes, "student_int8.tflite")
    output = model_info.tensor_entry(model, model.subgraph.outputs[0])
    arena = tflm.measure_arena(model_bytes, model_info.input_specs(model))
    interpreter = tflm.TflmInterpreter(model_bytes, arena, num_outputs=len(model.subgraph.outputs))

    micro = tflm_logits(interpreter, ids, "TFLM test split")
    # TF Lite has no DECODE: it runs a LUT-compressed model as the plain model it stands for.
    plain = compression.decompress_model(model_bytes) if compression.read(model) else model_bytes
    lite = tflite_logits(plain, ids)
    float_student = np.load(student_dir / "predictions_test.npy")
    metrics = {
        "labels": labels,
        "test_examples": len(test),
        "accuracy_int8_tflm": float((micro.argmax(1) == truth).mean()),
        "accuracy_int8_tflite": float((lite.argmax(1) == truth).mean()),
        "accuracy_float_student": float((float_student.argmax(1) == truth).mean()),
        "agreement_tflm_vs_float": float((micro.argmax(1) == float_student.argmax(1)).mean()),
        "tflm_vs_tflite_max_lsb": int(np.abs(micro.astype(int) - lite.astype(int)).max()),
        "arena_bytes": int(arena),
        "int8_bytes": len(model_bytes),
        "output_scale": output["scale"],
        "output_zero_point": output["zero_point"],
        "confusion_tflm": evaluation.confusion(truth, micro.argmax(1), len(labels)).tolist(),
        "classification_tflm": {k: v for k, v in evaluation.classification(truth, micro.argmax(1), labels).items()
                                if k != "confusion"},
    }
    np.save(out / "tflm_test_logits.npy", micro)
    np.save(out / "tflite_test_logits.npy", lite)

    vectors = []
    for index in golden_indices(len(test), config.golden_count):
        vectors.append({"text": test[index]["text"], "ids": ids[index].tolist(),
                        "logits": micro[index].tolist(), "label": int(micro[index].argmax()),
                        "true_label": int(truth[index])})
    edge_ids = wordpiece.encode(tokenizer, list(EDGE_SENTENCES))
    edge_logits = tflm_logits(interpreter, edge_ids, "TFLM edge sentences")
    for text, row, logits in zip(EDGE_SENTENCES, edge_ids, edge_logits):
        vectors.append({"text": text, "ids": row.tolist(), "logits": logits.tolist(),
                        "label": int(logits.argmax()), "true_label": None})
    goldens = {
        "labels": labels,
        "sequence_length": int(ids.shape[1]),
        "output_scale": output["scale"],
        "output_zero_point": output["zero_point"],
        "reference": "tflite-micro (pip) MicroInterpreter",
        "vectors": vectors,
    }
    (out / "goldens.json").write_text(json.dumps(goldens, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return {k: v for k, v in metrics.items() if k != "confusion_tflm"}
