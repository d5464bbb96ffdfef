"""Regenerates the README's figure tables from their sources, so that no figure is typed by hand:
the target table (toolchain.targets), the default model's metrics (models/default/metrics.json) and
the benchmarks' results (benchmarks/results/*.json). Each table sits between
`<!-- generated:NAME -->` and `<!-- /generated:NAME -->`.

    .venv/bin/python scripts/readme_figures.py          # rewrite README.md
    .venv/bin/python scripts/readme_figures.py --check  # exit 1 if README.md is out of date
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import read_results  # noqa: E402
from toolchain import targets  # noqa: E402

README = ROOT / "README.md"
MODEL = ROOT / "models" / "default"
NOT_MEASURED = "not measured yet (run the benchmark)"


def _kib(value) -> str:
    return "-" if value is None else f"{value / 1024:,.0f} KiB"


def targets_table() -> str:
    lines = ["| target | board | core | flash | RAM | DSP | FPU | default backend | measured on |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in targets.table():
        lines.append(f"| `{row['name']}` | {row['board']} | {row['isa']} | {_kib(row['flash_bytes'])} | "
                     f"{_kib(row['ram_bytes'])} | {'yes' if row['dsp'] else 'no'} | {row['fpu']} | "
                     f"{row['default_backend']} | {row['measured_on']}{' (proxy)' if row['note'] else ''} |")
    return "\n".join(lines)


def fit_table() -> str:
    results = read_results("fit_table")
    if not results:
        return NOT_MEASURED
    lines = [f"Model `{results['model']}` (`benchmarks/fit_table.py`): the runtime and the model on each core, "
             "without the app around them.", "",
             "| target | flash (weights + vocabulary + Unicode tables + code) | RAM (context + stack) | fits |",
             "| --- | --- | --- | --- |"]
    for fit in results["targets"]:
        budget = f" of {fit['flash_budget']:,}" if fit["flash_budget"] else ""
        ram_budget = f" of {fit['ram_budget']:,}" if fit["ram_budget"] else ""
        lines.append(
            f"| `{fit['target']}` | {fit['flash_bytes']:,}{budget} ({fit['weights_bytes']:,} + {fit['vocab_bytes']:,} + "
            f"{fit['unicode_bytes']:,} + {fit['code_bytes']:,}) | {fit['ram_bytes']:,}{ram_budget} "
            f"({fit['context_bytes']:,} + {fit['stack_bytes']:,}) | "
            f"{'yes' if fit['fits'] else 'no'} |")
    return "\n".join(lines)


def _validation_row(env: str, label: str) -> str:
    result = read_results(f"validate_{env}")
    if not result:
        return f"| {label} | {NOT_MEASURED} |"
    cost = result["cost"]
    return (f"| {label} | {result['logits_equal_tflm']:,} of {result['texts']:,} test sentences with TFLM's logits, "
            f"{result['token_ids_equal_python']:,} with the Python tokenizer's ids; accuracy on the device "
            f"{100 * result['accuracy_device']:.2f}%; {result['cost_unit']} per sentence mean {cost['mean']:,.0f}, "
            f"p99 {cost['p99']:,.0f}, max {cost['max']:,.0f}; run {result['wall_seconds']:.0f} s |")


def figures_table() -> str:
    metrics = json.loads((MODEL / "metrics.json").read_text())
    accuracy, sizes, verify = metrics["accuracy_test"], metrics["sizes_bytes"], metrics["verify"]
    compressed = "int8_uncompressed" in sizes  # shipped LUT-compressed
    classification = verify.get("classification_tflm")
    lines = ["| what | measured |", "| --- | --- |",
             f"| teacher accuracy (test) | {100 * accuracy['teacher']:.2f}% |",
             f"| INT8 student on TFLite Micro (test) | {100 * accuracy['int8_tflm']:.2f}% "
             f"({100 * (accuracy['int8_tflm'] - accuracy['teacher']):+.2f} points; float student "
             f"{100 * accuracy['float_student']:.2f}%)"
             + (f"; macro-F1 {100 * classification['macro_f1']:.2f}%" if classification else "") + " |",
             f"| INT8 `.tflite` | {sizes['int8']:,} B |",
             f"| TFLite Micro arena (measured minimum) | {verify['arena_bytes']:,} B"
             + (" (its DECODE operator writes the decoded embedding there)" if compressed else "") + " |"]
    footprint = read_results("firmware_footprint")
    lines.append("| `qemu_m4` firmware (`benchmarks/firmware_footprint.py`) | " + (
        f"flash {footprint['flash_bytes']:,} B (weights {footprint['flash_split']['weights']:,}, vocabulary + "
        f"Unicode {footprint['flash_split']['vocab + Unicode tables']:,}, code {footprint['flash_split']['code']:,}); "
        f"static tensor arena {footprint['arena_bytes']:,} B |" if footprint else f"{NOT_MEASURED} |"))
    lines.append(_validation_row("qemu_m4", "on Cortex-M4 in QEMU (`benchmarks/validate_targets.py`)"))
    lines.append(_validation_row("qemu_rv32", "on rv32imc in QEMU"))
    lines.append(_validation_row("qemu_m0", "on Cortex-M0 (micro:bit) in QEMU"))
    speed = read_results("host_speed")
    lines.append("| host: compiled backend vs TFLM interpreter (`benchmarks/host_speed.py`) | " + (
        f"{speed['compiled_invoke_us']} µs vs {speed['tflm_invoke_us']} µs per invoke = {speed['speedup']}×; "
        f"working memory {speed['compiled_arena_bytes']:,} B vs {speed['tflm_arena_bytes']:,} B"
        + ("; TFLM decodes the LUT-compressed embedding at every invoke" if compressed else "") + " |" if speed
        else f"{NOT_MEASURED} |"))
    fuzz = read_results("fuzz")
    lines.append("| fuzzing, libFuzzer with ASan + UBSan (`benchmarks/fuzz_classifier.py`) | " + (
        f"{fuzz['seconds']} s, {fuzz['executions']:,} executions, {fuzz['crashes']} crashes |" if fuzz
        else f"{NOT_MEASURED} |"))
    mutation = read_results("mutation")
    counts = mutation["counts"] if mutation else None
    lines.append("| mutated models through `inspect` and `export` (`benchmarks/mutation.py`) | " + (
        f"{counts['tried']:,} tried: {counts['rejected_with_error']:,} refused with one error line, "
        f"{counts['accepted_and_verified_bit_exact']:,} accepted and verified bit-exact against TFLM; "
        f"{counts['tracebacks']} tracebacks, {counts['hangs']} hangs, {counts['wrong_but_accepted']} wrong but "
        f"accepted; {counts['seconds']:.0f} s |" if counts else f"{NOT_MEASURED} |"))
    return "\n".join(lines)


def search_table(name: str) -> str:
    result = read_results(f"search_{name}")
    if not result:
        return NOT_MEASURED
    from toolchain.search import format_table

    return format_table(result)


def compression_table() -> str:
    result = read_results("compression")
    if not result:
        return NOT_MEASURED
    trained = (" (trained with its embedding clustered; the rows start from the plain INT8 model it stands for)"
               if result.get("clustered_in_training") else "")
    tables = "one table for the whole tensor" if result.get("table_axis") is None else "one table per column"
    lines = [f"Model `{result.get('model', 'default')}`{trained}: its embedding alone clustered after training, "
             f"{tables} "
             f"(`benchmarks/compression.py`; TFLite Micro on {result['text_count']:,} test sentences; "
             f"instructions per golden sentence on {result['core']}, every golden checked against TFLM):", "",
             "| embedding | `.tflite` | weights in flash | arena (compiled) | TFLM arena | accuracy (TFLM) "
             "| same label as int8 | instructions (mean) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        lines.append(f"| {row['variant']} | {row['tflite_bytes']:,} B | {row['weight_bytes']:,} B | "
                     f"{row['arena_bytes']:,} B | {row['tflm_arena_bytes']:,} B | {100 * row['accuracy_tflm']:.2f}% | "
                     f"{100 * row['labels_equal_uncompressed']:.2f}% | {row['instructions_mean']:,.0f} |")
    return "\n".join(lines)


SECTIONS = {"targets": targets_table, "fit": fit_table, "figures": figures_table,
            "search": lambda: search_table("default"), "search-microbit": lambda: search_table("microbit"),
            "search-stretch": lambda: search_table("stretch"),
            "compression": compression_table}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no generated:{name} section")
        table = make()
        text = pattern.sub(lambda m, table=table: m.group(1) + table + "\n" + m.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("README.md's generated figures are out of date: run scripts/readme_figures.py")
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
