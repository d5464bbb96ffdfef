"""Evaluation as library code: classification figures (accuracy, per-class precision, recall and F1,
macro-F1, the confusion matrix), distributions of costs, and the accuracy-vs-size Pareto front.
`verify`, `report`, `validate` and `search` all compute their figures here."""
from __future__ import annotations

import numpy as np


def confusion(truth, predicted, num_labels: int) -> np.ndarray:
    """matrix[true][predicted] counts."""
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def classification(truth, predicted, labels: list[str]) -> dict:
    """Accuracy, and per class precision, recall, F1 and support, and macro-F1 (the unweighted mean
    of the classes' F1: a weak minority class shows, where accuracy hides it). A class never
    predicted has precision 0; never present, recall 0 (both then count as 0 in the mean)."""
    matrix = confusion(truth, predicted, len(labels))
    total = int(matrix.sum())
    per_class = {}
    f1s = []
    for k, label in enumerate(labels):
        tp = int(matrix[k, k])
        predicted_k, actual_k = int(matrix[:, k].sum()), int(matrix[k, :].sum())
        precision = tp / predicted_k if predicted_k else 0.0
        recall = tp / actual_k if actual_k else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": actual_k}
        f1s.append(f1)
    return {
        "accuracy": float(np.trace(matrix) / total) if total else 0.0,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_class": per_class,
        "confusion": matrix.tolist(),
        "examples": total,
    }


def distribution(values) -> dict:
    """mean, p50, p99, min and max of a list of numbers (costs per sentence)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return {"count": 0}
    return {
        "count": int(array.size),
        "mean": float(array.mean()),
        "p50": float(np.percentile(array, 50)),
        "p99": float(np.percentile(array, 99)),
        "min": float(array.min()),
        "max": float(array.max()),
    }


def pareto_front(rows: list[dict], better: str, smaller: str) -> list[dict]:
    """The rows no other row beats: at least as good on `better` (higher is better) and on
    `smaller` (lower is better), and strictly on one. In order of `smaller`."""
    front = []
    for row in rows:
        dominated = any(
            other[better] >= row[better] and other[smaller] <= row[smaller]
            and (other[better] > row[better] or other[smaller] < row[smaller])
            for other in rows
        )
        if not dominated:
            front.append(row)
    return sorted(front, key=lambda r: (r[smaller], -r[better]))


def format_classification(figures: dict) -> list[str]:
    """Lines of a per-class table (for the terminal and for report.md)."""
    lines = ["| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    for label, row in figures["per_class"].items():
        lines.append(f"| {label.replace('|', '/')} | {100 * row['precision']:.1f}% | {100 * row['recall']:.1f}% | "
                     f"{100 * row['f1']:.1f}% | {row['support']} |")
    lines.append(f"| **macro** | | | **{100 * figures['macro_f1']:.1f}%** | {figures['examples']} |")
    return lines
