"""`python -m toolchain`: the command line. Each subcommand is one pipeline stage or tool.

Stage modules are imported lazily so `inspect` and `--help` do not pay for TensorFlow or PyTorch.
Bad input raises ToolchainError anywhere below; it becomes one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from toolchain.errors import EXIT_BAD_INPUT, ToolchainError

def _cmd_inspect(args) -> int:
    from toolchain import model_info

    report = model_info.describe(Path(args.model), measure=not args.no_arena)
    print(model_info.to_json(report) if args.json else model_info.format_report(report))
    return 0

# Flags that override config settings: (flag, config key, type, help).
CONFIG_FLAGS = (
    ("--name", "name", str, "build name: work files in <build-dir>/<name>, model in models/<name>"),
    ("--seed", "seed", int, "random seed for splits, initialisation and training"),
    ("--build-dir", "build_dir", str, "where stage outputs are cached (default: build)"),
    ("--models-dir", "models_dir", str, "where finished models are published (default: models)"),
    ("--data", "data.source", str, "vader:rotten-tomatoes (default), a .csv/.tsv/.jsonl file, or hf:NAME[:CONFIG]"),
    ("--text-column", "data.text_column", str, "text column of a data file"),
    ("--label-column", "data.label_column", str, "label column of a data file"),
    ("--max-examples", "data.max_examples", int, "use at most this many labelled examples (0 = all)"),
    ("--max-transfer", "data.max_transfer", int, "use at most this many transfer texts (0 = all)"),
    ("--augment-copies", "data.augment_copies", int, "augmented copies of each training sentence"),
    ("--teacher", "teacher.model", str, "teacher: hub id or directory of a DistilBERT (or any sequence-"
     "classification) checkpoint; default: DistilBERT mapped from the packaged MiniLM-L6"),
    ("--teacher-epochs", "teacher.epochs", float, "teacher fine-tuning epochs"),
    ("--teacher-max-steps", "teacher.max_steps", int, "stop teacher fine-tuning after this many steps"),
    ("--processes", "teacher.processes", int, "teacher processes: DDP fine-tuning and sharded logits (default 1)"),
    ("--arch", "student.architecture", str, "student architecture: bag, cnn or transformer"),
    ("--vocab-size", "student.vocab_size", int, "pruned WordPiece vocabulary size"),
    ("--seq-len", "student.sequence_length", int, "tokens per sentence incl. [CLS] and [SEP]"),
    ("--embedding-dim", "student.embedding_dim", int, "student embedding width"),
    ("--hidden-dim", "student.hidden_dim", int, "student hidden width"),
    ("--epochs", "student.epochs", int, "student epochs, phase 1 (projected teacher embeddings)"),
    ("--finetune-epochs", "student.finetune_epochs", int, "student epochs, phase 2 (fine-tuning)"),
    ("--golden-count", "verify.golden_count", int, "test sentences saved as golden vectors"),
)


def _config_from_args(args):
    from toolchain.config import load_config

    overrides = {key: getattr(args, key.replace(".", "__")) for _, key, _, _ in CONFIG_FLAGS}
    return load_config(args.config, overrides)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config file (flags override it)")
    for flag, key, kind, text in CONFIG_FLAGS:
        parser.add_argument(flag, dest=key.replace(".", "__"), type=kind, default=None, help=text)


def _print_outcomes(outcomes) -> None:
    for outcome in outcomes:
        state = "cached" if outcome.cached else f"{outcome.seconds:.1f} s"
        print(f"  {outcome.name:<8} {state:>10}  {outcome.directory}")


def _cmd_stage(args) -> int:
    from toolchain import build

    config = _config_from_args(args)
    _print_outcomes(build.run_until(config, args.command))
    return 0


def _cmd_build(args) -> int:
    from toolchain import build

    config = _config_from_args(args)
    outcomes, seconds = build.build(config)
    _print_outcomes(outcomes)
    print(f"build '{config.name}' finished in {seconds / 60:.1f} min; model in {config.model_dir}")
    emit_now = args.emit if args.emit is not None else config.name == "default"
    if emit_now:
        return _emit(config.model_dir, None, check=False)
    print(f"firmware not touched; to run this model on the device: python -m toolchain emit --model {config.model_dir}")
    return 0


def _emit(model_dir, lib_dir, check: bool) -> int:
    from toolchain import emit

    emission = emit.generate(model_dir)
    target = lib_dir or emit.FIRMWARE_LIB
    if check:
        problems = emit.differences(emission, target)
        for problem in problems:
            print(problem)
        print("generated C is up to date" if not problems else f"{len(problems)} generated file(s) out of date")
        return 1 if problems else 0
    graph = emission.graph
    if not emit.differences(emission, target):
        print(f"generated C in {target} is up to date ({len(emission.files)} files)")
        return 0
    written = emit.write(emission, target)
    print(f"emitted {len(written)} files into {target}: {len(graph.ops)} ops, static arena {graph.arena_bytes:,} B, "
          f"weights {graph.weight_bytes:,} B; TFLM resolver with {len(emission.resolver.ops)} ops")
    return 0


def _cmd_emit(args) -> int:
    return _emit(Path(args.model), Path(args.lib_dir) if args.lib_dir else None, args.check)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m toolchain",
        description="DistilBERT teacher -> distilled INT8 student -> TFLite Micro / C for microcontrollers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect = commands.add_parser(
        "inspect", help="describe a .tflite model and measure its TFLite Micro arena"
    )
    inspect.add_argument("model", help="path to a .tflite file")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.add_argument(
        "--no-arena", action="store_true", help="skip the TFLite Micro load and arena search"
    )
    inspect.set_defaults(run=_cmd_inspect)

    build = commands.add_parser("build", help="run the whole pipeline (cached stages are skipped)")
    _add_config_flags(build)
    build.add_argument("--emit", dest="emit", action="store_true", default=None,
                       help="write the model's C into firmware/lib (default for the 'default' build)")
    build.add_argument("--no-emit", dest="emit", action="store_false", help="leave firmware/lib alone")
    build.set_defaults(run=_cmd_build)

    emit = commands.add_parser("emit", help="generate the firmware's C sources from a model directory")
    emit.add_argument("--model", default="models/default", help="model directory (default: models/default)")
    emit.add_argument("--lib-dir", help="PlatformIO lib folder to write into (default: firmware/lib)")
    emit.add_argument("--check", action="store_true",
                      help="only compare with the files on disk; exit 1 if any differs")
    emit.set_defaults(run=_cmd_emit)
    stage_help = {
        "data": "labelled split and transfer text",
        "teacher": "load or fine-tune the teacher; its logits for every text",
        "distill": "pruned vocabulary and the distilled float student",
        "convert": "FP32, FP16 and full-INT8 .tflite with a size table",
        "verify": "INT8 model in TFLite Micro: accuracy, arena, golden vectors",
        "report": "models/<name>/: artifacts, metrics.json, report.md, plots",
    }
    for name, text in stage_help.items():
        stage = commands.add_parser(name, help=f"{text} (runs earlier stages if needed)")
        _add_config_flags(stage)
        stage.set_defaults(run=_cmd_stage)
    return parser

def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`inspect ... | head`): stop quietly, as the Python docs advise.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
