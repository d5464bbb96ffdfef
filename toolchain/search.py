"""`textclf search`: the most accurate student a target can hold.

Candidates vary the architecture, the vocabulary size, the embedding and hidden widths and the
embedding's weight bits (LUT compression). For each, BEFORE any training, an untrained student of
exactly that shape is built, converted to full INT8 (and LUT-compressed), compiled by the graph
compiler and measured on the target's core: flash and RAM with the runtime and the firmware app
around it (the same measurement as the fit check), and instructions per sentence measured in QEMU
on validation sentences (they depend on shapes and on the vocabulary, not on the weights' values).
Only the candidates within the budget are trained — through the pipeline's own cached stages,
sharing the build's data and teacher — and the accuracy-vs-flash Pareto front is reported
(search.md, search.png and search.json in the build's search folder). The most accurate candidate
that fits is published as the build's model.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain import cbuild, emit, evaluation, frameworks, pipeline, targets
from toolchain import tokenizer as wordpiece
from toolchain.config import SEARCH_SPACE, BuildConfig, StudentConfig
from toolchain.errors import ToolchainError
from toolchain.resources import device_dir

# The space searched (config.SEARCH_SPACE; `--vocab-sizes` etc. narrow it); `--candidates N` takes
# N of its points (the corners first, then a seeded sample), so a small N still spans it.
SPACE = SEARCH_SPACE
COST_SENTENCES = 24
# What an image puts in flash (.data's initial values are copied from flash too) and what its
# static storage takes in RAM; the linker's stack and heap reservations are not counted: the
# stack a classification needs is the fit check's measured bound.
FLASH_SECTIONS = (".isr_vector", ".init", ".text", ".rodata", ".preinit_array", ".init_array", ".fini_array",
                  ".ARM.exidx", ".srodata")
RAM_SECTIONS = (".data", ".bss", ".sdata", ".sbss", ".tdata", ".tbss")
PREFIX = "classifier"


@dataclass(frozen=True)
class Candidate:
    architecture: str
    vocab_size: int
    embedding_dim: int
    hidden_dim: int
    embedding_bits: int

    @property
    def name(self) -> str:
        bits = f"-lut{self.embedding_bits}" if self.embedding_bits else ""
        return f"{self.architecture}-v{self.vocab_size}-d{self.embedding_dim}-h{self.hidden_dim}{bits}"

    def student(self, base: StudentConfig) -> StudentConfig:
        return dataclasses.replace(base, architecture=self.architecture, vocab_size=self.vocab_size,
                                   embedding_dim=self.embedding_dim, hidden_dim=self.hidden_dim,
                                   embedding_bits=self.embedding_bits)


@dataclass
class Footprint:
    flash_bytes: int  # the whole firmware app
    static_ram_bytes: int  # its .data and .bss
    ram_bytes: int  # static RAM and the stack a classification needs
    instructions_mean: float | None
    instructions_max: float | None
    fit: targets.Fit


def candidates(count: int, seed: int, space: dict[str, tuple] = SPACE) -> list[Candidate]:
    points = [Candidate(*values) for values in itertools.product(*(space[key] for key in SPACE))]
    corners = [points[0], points[-1]]
    rest = [p for p in points if p not in corners]
    random.Random(seed).shuffle(rest)
    return (corners + rest)[:count]


# ------------------------------------------------------------------------- before training


def untrained_model(config: BuildConfig, candidate: Candidate, vocab: list[str], labels: list[str],
                    calibration: np.ndarray, work: Path) -> bytes:
    """The candidate's INT8 .tflite with random weights (LUT-compressed when it has embedding bits):
    every shape, and so every byte count and every instruction, as the trained one will have."""
    from toolchain import convert, distill

    tf = frameworks.tensorflow()
    student = candidate.student(config.student)
    sized = dataclasses.replace(student, vocab_size=len(vocab))
    rng = np.random.default_rng(config.seed)
    table = rng.normal(size=(len(vocab), 8)).astype(np.float32)
    _, deployable, _, embedding, _ = distill.build_models(sized, len(labels), table, config.seed)
    # Every weight non-zero (the converter drops an all-zero bias, which a trained model never has)
    # and, with embedding bits, exactly 2^bits distinct levels in every value table (the compressor
    # sizes its tables by the values present), so the byte counts are the trained model's.
    for layer in deployable.layers:
        if layer is not embedding:
            layer.set_weights([rng.normal(0, 0.3, size=w.shape).astype(np.float32) for w in layer.get_weights()])
    weights = rng.normal(0, 0.3, size=embedding.get_weights()[0].shape).astype(np.float32)
    if candidate.embedding_bits:
        count = 1 << candidate.embedding_bits
        levels = (np.arange(count) - count // 2) / count  # includes 0.0, far apart on the INT8 grid
        weights = levels[rng.permuted(np.tile(np.arange(count), weights.size // count + 1))[: weights.size]]
        weights = weights.reshape(embedding.get_weights()[0].shape).astype(np.float32)
    weights[wordpiece.PAD_ID] = 0.0
    embedding.set_weights([weights])
    serve = tf.function(lambda ids: {"logits": deployable(ids, training=False)})
    signature = serve.get_concrete_function(tf.TensorSpec([1, student.sequence_length], tf.int32, name="ids"))
    tf.saved_model.save(deployable, str(work / "saved_model"), signatures={"serving_default": signature})
    model_bytes = convert.convert(work / "saved_model", "int8", calibration)
    if candidate.embedding_bits:
        model_bytes = convert.compress_embedding(model_bytes, candidate.embedding_bits, student.embedding_lut)
    return model_bytes


def footprint(config: BuildConfig, candidate: Candidate, target: targets.Target, dirs: dict[str, Path],
              teacher_vocab: list[str], texts: dict[str, list[str]]) -> Footprint:
    """Flash, RAM and instructions of the candidate on the target, measured on an untrained model."""
    import hashlib

    from toolchain.flatbuffer import parse_model

    labels = json.loads((dirs["data"] / "labels.json").read_text())
    vocab = wordpiece.prune_vocab(teacher_vocab, texts["counting"], candidate.vocab_size)
    student = candidate.student(config.student)
    tokenizer = wordpiece.build_tokenizer(vocab, student.sequence_length)
    calibration = wordpiece.encode(tokenizer, texts["train"][:200])
    with tempfile.TemporaryDirectory(prefix="textclf-candidate-") as tmp:
        work = Path(tmp)
        model_bytes = untrained_model(config, candidate, vocab, labels, calibration, work)
        # Named as the build publishes it: the name is a string in the image.
        model = emit.ModelDir(path=work, name=config.name, tflite=parse_model(model_bytes),
                              sha256=hashlib.sha256(model_bytes).hexdigest(), vocab=vocab,
                              sequence_length=student.sequence_length, labels=labels, goldens=[], arena_measured=16)
        from toolchain.emit.ops.common import Options

        library = emit.model_library(model, PREFIX, "compiled", Options(packed_filters=target.core.dsp))
        runtime = emit.runtime_library()
        fit = targets.check_fit(target, library, runtime)
        firmware_flash, firmware_ram, costs = measure_firmware(target, library, runtime, texts["validation"], work)
    return Footprint(
        flash_bytes=firmware_flash,
        static_ram_bytes=firmware_ram,
        ram_bytes=firmware_ram + fit.stack_bytes,
        instructions_mean=float(np.mean(costs)) if costs else None,
        instructions_max=float(np.max(costs)) if costs else None,
        fit=fit,
    )


def measure_firmware(target: targets.Target, library, runtime: dict[str, bytes], sentences: list[str], work: Path):
    """Flash and static RAM of the whole firmware app with this model on the target's core (plus the
    stack the fit check bounds), and the instructions per sentence in QEMU where the core runs
    there."""
    core = target.core.unbounded()
    runtime_src = cbuild.write_sources(work / "textclf", runtime)
    model_src = cbuild.write_sources(work / PREFIX, library.files)
    app = device_dir() / "app"
    model_sources = [p for p in cbuild.c_sources(model_src) if not p.name.endswith("_goldens.c")]
    build = cbuild.Build(core, include_dirs=[runtime_src, model_src, app])
    firmware = build.program(cbuild.c_sources(runtime_src) + model_sources +
                             [app / "main.c", app / "app.c", app / "counter.c"], work / "firmware.elf")
    sections = {}
    for line in cbuild.run_tool([core.size_tool, "-A", "-d", str(firmware)]).splitlines()[2:]:
        fields = line.split()
        if len(fields) == 3 and fields[1].isdigit():
            sections[fields[0]] = int(fields[1])
    flash = sum(sections.get(name, 0) for name in FLASH_SECTIONS) + sections.get(".data", 0)
    static_ram = sum(sections.get(name, 0) for name in RAM_SECTIONS)
    costs = []
    if not core.native:
        # QEMU emulates the board's real memory, so the timing program is linked for it; a model too
        # large for the board fails that link (the same sources just built) and gets no timing.
        bounded = cbuild.Build(target.core, include_dirs=[runtime_src, model_src, app])
        try:
            cost = bounded.program(cbuild.c_sources(runtime_src) + model_sources +
                                   [device_dir() / "checks" / "cost.c", app / "counter.c"], work / "cost.elf")
        except cbuild.CompileError:
            cost = None
        if cost is not None:
            lines = "".join(s.replace("\n", " ") + "\n" for s in sentences[:COST_SENTENCES]).encode("utf-8")
            result = cbuild.run(cost, target.core, stdin=lines, timeout=600)
            costs = [int(line.split()[1]) for line in result.stdout.decode().splitlines() if line.strip()]
    return flash, static_ram, costs


# ------------------------------------------------------------------------------- the search


def check_space(config: BuildConfig, space: dict[str, tuple]) -> None:
    """Every point of the space is a valid student (before any stage runs)."""
    from toolchain.config import validate

    for key, values in space.items():
        if key not in SPACE or not values:
            raise ToolchainError(f"search space: {key} needs at least one value")
    for candidate in candidates(len(list(itertools.product(*space.values()))), config.seed, space):
        validate(dataclasses.replace(config, student=candidate.student(config.student)))


def run(config: BuildConfig, target: targets.Target, count: int, max_flash: int | None, max_ram: int | None,
        max_instructions: int | None, jobs: int = 1, space: dict[str, tuple] = SPACE, log=print) -> dict:
    start = time.monotonic()
    flash_budget = min(filter(None, [max_flash, target.flash_bytes])) if (max_flash or target.flash_bytes) else None
    ram_budget = min(filter(None, [max_ram, target.ram_bytes])) if (max_ram or target.ram_bytes) else None
    if not cbuild.available(target.core):
        raise ToolchainError(f"the search for {target.name} needs {target.core.cc} (and QEMU), which is not installed")
    dirs = pipeline.stage_dirs(config)
    pipeline.run_until(config, "teacher")
    texts = stage_texts(dirs)
    teacher_vocab = wordpiece.read_vocab_file(dirs["teacher"] / "vocab.txt")
    rows = []
    for candidate in candidates(count, config.seed, space):
        log(f"[search] {candidate.name}: measuring an untrained model on {target.core.name}")
        measured = footprint(config, candidate, target, dirs, teacher_vocab, texts)
        row = {"candidate": candidate.name, **dataclasses.asdict(candidate), "flash_bytes": measured.flash_bytes,
               "ram_bytes": measured.ram_bytes, "static_ram_bytes": measured.static_ram_bytes,
               "instructions_mean": measured.instructions_mean,
               "instructions_max": measured.instructions_max, "model_flash_bytes": measured.fit.flash_bytes}
        row["fits"] = ((flash_budget is None or measured.flash_bytes <= flash_budget)
                       and (ram_budget is None or measured.ram_bytes <= ram_budget)
                       and (max_instructions is None or (measured.instructions_mean or 0) <= max_instructions))
        rows.append(row)
    fitting = [row for row in rows if row["fits"]]
    if not fitting:
        smallest = min(rows, key=lambda r: r["flash_bytes"])
        raise ToolchainError(
            f"no candidate fits the budget (flash {flash_budget:,} B, RAM {ram_budget:,} B): the smallest, "
            f"{smallest['candidate']}, needs {smallest['flash_bytes']:,} B of flash and {smallest['ram_bytes']:,} B of RAM"
        )
    _train_all(config, fitting, jobs, log)
    front = evaluation.pareto_front([r for r in fitting if "accuracy" in r], "accuracy", "flash_bytes")
    best = max(fitting, key=lambda r: (r["accuracy"], -r["flash_bytes"]))
    result = {"target": target.name, "flash_budget": flash_budget, "ram_budget": ram_budget,
              "space": {key: list(values) for key, values in space.items()},
              "max_instructions": max_instructions, "candidates": rows, "front": [r["candidate"] for r in front],
              "best": best["candidate"], "seconds": round(time.monotonic() - start, 1)}
    return result


def stage_texts(dirs: dict[str, Path]) -> dict[str, list[str]]:
    """The data stage's texts a footprint needs: train and transfer (the vocabulary's counts, as
    distill prunes it), validation (the sentences timed)."""
    from toolchain.data import read_jsonl

    texts = {name: [r["text"] for r in read_jsonl(dirs["data"] / f"{name}.jsonl")]
             for name in ("train", "validation", "transfer")}
    texts["counting"] = [t.replace("[MASK]", " ") for t in texts["train"] + texts["transfer"]]
    return texts


def _train_all(config: BuildConfig, rows: list[dict], jobs: int, log) -> None:
    """Trains the candidates of `rows`, `jobs` at a time in fresh processes (each trains with one
    thread, as every build does, so the weights do not depend on how many run at once)."""
    for row in rows:
        log(f"[search] {row['candidate']}: training (fits: flash {row['flash_bytes']:,} B, RAM {row['ram_bytes']:,} B)")
    work = [(row, Candidate(*(row[k] for k in SPACE))) for row in rows]
    if jobs <= 1 or len(work) == 1:
        for row, candidate in work:
            row.update(_train(config, candidate))
        return
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(jobs, len(work)), mp_context=context,
                                                initializer=_quiet_worker) as pool:
        futures = {pool.submit(_train, config, candidate): row for row, candidate in work}
        for future in concurrent.futures.as_completed(futures):
            futures[future].update(future.result())
            log(f"[search] {futures[future]['candidate']}: {100 * futures[future]['accuracy']:.2f}%")


def _quiet_worker() -> None:
    import os

    os.environ["TEXTCLF_NO_PROGRESS"] = "1"  # several bars at once would interleave


def _train(config: BuildConfig, candidate: Candidate) -> dict:
    """The candidate through the pipeline's distill, convert and verify stages (cached per
    candidate, the build's data and teacher shared)."""
    student = candidate.student(config.student)
    candidate_config = dataclasses.replace(config, student=student)
    shared = pipeline.stage_dirs(config)
    work = config.work_dir / "search" / candidate.name
    dirs = {**shared, "distill": work / "distill", "convert": work / "convert", "verify": work / "verify"}
    pipeline.run_until(candidate_config, "verify", dirs, first="distill")
    verify = json.loads((dirs["verify"] / "metrics.json").read_text())
    return {"accuracy": verify["accuracy_int8_tflm"], "macro_f1": verify["classification_tflm"]["macro_f1"],
            "accuracy_float": verify["accuracy_float_student"], "dirs": {k: str(v) for k, v in dirs.items()}}


def publish(config: BuildConfig, result: dict) -> Path:
    """The best candidate becomes the build's model (the report stage, from its stage folders)."""
    best = next(r for r in result["candidates"] if r["candidate"] == result["best"])
    candidate = Candidate(*(best[k] for k in SPACE))
    candidate_config = dataclasses.replace(config, student=candidate.student(config.student))
    dirs = {name: Path(path) for name, path in best["dirs"].items()}
    pipeline.run_report(candidate_config, dirs)
    return candidate_config.model_dir


def write_report(config: BuildConfig, result: dict) -> list[Path]:
    """search.json, search.md (the table and the front) and search.png (accuracy vs flash)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = config.work_dir / "search"
    folder.mkdir(parents=True, exist_ok=True)
    rows = result["candidates"]
    (folder / "search.json").write_text(json.dumps(result, indent=2) + "\n")
    trained = [r for r in rows if "accuracy" in r]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.scatter([r["flash_bytes"] / 1024 for r in trained], [100 * r["accuracy"] for r in trained], s=14,
                 label="trained candidates")
    front = [r for r in trained if r["candidate"] in result["front"]]
    axes.plot([r["flash_bytes"] / 1024 for r in front], [100 * r["accuracy"] for r in front], "o-", color="#c64",
              label="Pareto front")
    if result["flash_budget"]:
        axes.axvline(result["flash_budget"] / 1024, color="#888", linestyle="--", label="flash budget")
    axes.set_xlabel("firmware flash (KiB, runtime + app included)")
    axes.set_ylabel("INT8 accuracy on TFLite Micro (%)")
    axes.set_title(f"Students for {result['target']}")
    axes.legend()
    figure.tight_layout()
    figure.savefig(folder / "search.png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    (folder / "search.md").write_text(format_table(result) + "\n\n![accuracy vs flash](search.png)\n")
    return [folder / "search.json", folder / "search.md", folder / "search.png"]


def format_table(result: dict) -> str:
    limit = result.get("max_instructions")
    budget = f", at most {limit:,} instructions per sentence" if limit else ""
    lines = [f"Search for `{result['target']}`: flash budget {result['flash_budget'] or 0:,} B, RAM budget "
             f"{result['ram_budget'] or 0:,} B{budget}; {len(result['candidates'])} candidates in "
             f"{result['seconds'] / 60:.1f} min; best: **{result['best']}**.", "",
             "| candidate | flash (B) | RAM (B) | instructions / sentence | fits | INT8 accuracy (TFLM) | front |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in sorted(result["candidates"], key=lambda r: r["flash_bytes"]):
        accuracy = f"{100 * row['accuracy']:.2f}%" if "accuracy" in row else "not trained"
        instructions = f"{row['instructions_mean']:,.0f}" if row["instructions_mean"] else "-"
        lines.append(f"| {row['candidate']} | {row['flash_bytes']:,} | {row['ram_bytes']:,} | {instructions} | "
                     f"{'yes' if row['fits'] else 'no'} | {accuracy} | {'*' if row['candidate'] in result['front'] else ''} |")
    return "\n".join(lines)
