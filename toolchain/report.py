"""Stage 6, `textclf report`: the model directory `models/<name>/`.

Collects the artifacts the firmware and users need (the three .tflite files, the vocabulary and
tokenizer, goldens, the config that made them) and writes metrics.json with every figure,
report.md, and PNG plots: size per format, accuracy per stage, confusion matrix.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from toolchain import evaluation
from toolchain.stages import read_stamp

VERSION = "3"
COPIED = {
    "distill": ("vocab.txt", "tokenizer.json"),
    "convert": ("student_fp32.tflite", "student_fp16.tflite", "student_int8.tflite"),
    "verify": ("goldens.json",),
}


# No software/version stamp in the PNGs: same metrics, same bytes.
NO_METADATA = {"Software": None}


def _bar_chart(plt, path: Path, title: str, ylabel: str, labels, values, colors, fmt: str,
               log_scale: bool = False, y_limits=None) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    bars = ax.bar(labels, values, color=colors)
    if log_scale:
        ax.set_yscale("log")
    if y_limits:
        ax.set_ylim(*y_limits)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    for bar, value in zip(bars, values):
        ax.annotate(fmt.format(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=NO_METADATA)
    plt.close(fig)


def _plots(metrics: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = out / "plots"
    plots.mkdir()

    sizes = metrics["sizes_bytes"]
    names = ["teacher_checkpoint", "saved_model", "fp32", "fp16", "int8"]
    _bar_chart(plt, plots / "sizes.png", "Model size per format", "KiB (log scale)",
               ["teacher\ncheckpoint", "float student\nSavedModel", "student\nFP32 .tflite",
                "student\nFP16 .tflite", "student\nINT8 .tflite"],
               [sizes[n] / 1024 for n in names], ["#888", "#6a9", "#48c", "#48c", "#c64"], "{:,.0f}",
               log_scale=True)
    acc = metrics["accuracy_test"]
    values = [100 * acc[s] for s in ("teacher", "float_student", "int8_tflite", "int8_tflm")]
    _bar_chart(plt, plots / "accuracy.png", "Accuracy per stage", "test accuracy (%)",
               ["teacher\n(PyTorch)", "float student\n(Keras)", "INT8 student\n(TFLite)",
                "INT8 student\n(TFLite Micro)"], values, ["#888", "#6a9", "#48c", "#c64"], "{:.1f}",
               y_limits=(max(0, min(values) - 10), 100))

    matrix = np.array(metrics["confusion_int8_tflm"])
    names = metrics["labels"]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted (INT8 on TFLite Micro)")
    ax.set_ylabel("true label")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black")
    ax.set_title("Confusion matrix (test split)")
    fig.tight_layout()
    fig.savefig(plots / "confusion.png", dpi=100, metadata=NO_METADATA)
    plt.close(fig)


def _markdown(m: dict) -> str:
    acc, sizes = m["accuracy_test"], m["sizes_bytes"]
    gap = 100 * (acc["teacher"] - acc["int8_tflm"])
    lines = [
        f"# Model `{m['name']}`",
        "",
        f"Task: {m['data']['source']} — labels {', '.join(m['labels'])}; "
        f"{m['data']['examples']['train']:,} train / {m['data']['examples']['validation']:,} validation / "
        f"{m['data']['examples']['test']:,} test examples; "
        f"{sum(m['data']['transfer'].values()):,} transfer texts labelled by the teacher.",
        "",
        f"Teacher: `{m['teacher']['teacher']}`. Student: `{m['student']['architecture']}`, "
        f"{m['student']['parameters']:,} parameters, vocabulary {m['student']['vocab_size']:,} WordPiece pieces, "
        f"sequence length {m['student']['sequence_length']}.",
        "",
        "## Accuracy (test split)",
        "",
        "| stage | accuracy |",
        "| --- | --- |",
        f"| teacher (PyTorch, fp32) | {100 * acc['teacher']:.2f}% |",
        f"| float student (Keras) | {100 * acc['float_student']:.2f}% |",
        f"| INT8 student, TFLite kernels | {100 * acc['int8_tflite']:.2f}% |",
        f"| INT8 student, TFLite Micro | {100 * acc['int8_tflm']:.2f}% |",
        "",
        f"INT8 on TFLite Micro is {abs(gap):.2f} points {'below' if gap >= 0 else 'above'} the teacher; "
        f"it agrees with the float student on "
        f"{100 * m['verify']['agreement_tflm_vs_float']:.1f}% of test sentences. TFLM and TFLite int8 logits "
        f"differ by up to {m['verify']['tflm_vs_tflite_max_lsb']} LSB.",
        "",
        "![accuracy](plots/accuracy.png)",
        "",
        "## Size",
        "",
        "| format | bytes |",
        "| --- | --- |",
        f"| teacher checkpoint | {sizes['teacher_checkpoint']:,} |",
        f"| float student SavedModel | {sizes['saved_model']:,} |",
        f"| student FP32 .tflite | {sizes['fp32']:,} |",
        f"| student FP16 .tflite | {sizes['fp16']:,} |",
        f"| student INT8 .tflite | {sizes['int8']:,} |",
        "",
        f"TFLite Micro arena (measured minimum): {m['verify']['arena_bytes']:,} bytes.",
        "",
        "![sizes](plots/sizes.png)",
        "",
        "## Confusion matrix (INT8 on TFLite Micro)",
        "",
        "![confusion](plots/confusion.png)",
        "",
        "## Per class (INT8 on TFLite Micro, test split)",
        "",
        *evaluation.format_classification(m["verify"]["classification_tflm"]),
        "",
        "## Stage times (the run that produced each stage)",
        "",
        "| stage | seconds |",
        "| --- | --- |",
    ]
    lines += [f"| {stage} | {seconds:.0f} |" for stage, seconds in m["stage_seconds"].items()]
    lines += ["", f"Sum: {sum(m['stage_seconds'].values()) / 60:.1f} minutes.", ""]
    return "\n".join(lines)


def produce(name: str, config_toml: str, stage_dirs: dict[str, Path], out: Path) -> dict:
    for stage, files in COPIED.items():
        for file in files:
            shutil.copy2(stage_dirs[stage] / file, out / file)
    (out / "config.toml").write_text(config_toml, encoding="utf-8")
    stamps = {stage: read_stamp(directory) for stage, directory in stage_dirs.items()}
    teacher = json.loads((stage_dirs["teacher"] / "metrics.json").read_text())
    student = json.loads((stage_dirs["distill"] / "metrics.json").read_text())
    verify = json.loads((stage_dirs["verify"] / "metrics.json").read_text())
    sizes = json.loads((stage_dirs["convert"] / "sizes.json").read_text())
    metrics = {
        "name": name,
        "labels": verify["labels"],
        "data": stamps["data"]["summary"],
        "teacher": teacher,
        "student": student,
        "sizes_bytes": sizes,
        "verify": {k: v for k, v in verify.items() if k != "confusion_tflm"},
        "accuracy_test": {
            "teacher": teacher["accuracy"]["test"],
            "float_student": verify["accuracy_float_student"],
            "int8_tflite": verify["accuracy_int8_tflite"],
            "int8_tflm": verify["accuracy_int8_tflm"],
        },
        "confusion_int8_tflm": verify["confusion_tflm"],
        "stage_seconds": {stage: stamp["seconds"] for stage, stamp in stamps.items()},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _plots(metrics, out)
    (out / "report.md").write_text(_markdown(metrics), encoding="utf-8")
    return {"accuracy_test": metrics["accuracy_test"], "int8_bytes": sizes["int8"],
            "arena_bytes": verify["arena_bytes"]}
