"""`textclf` (also `python -m toolchain`): the command line. Each subcommand is one pipeline stage
or one tool.

Stage modules are imported lazily so `inspect`, `targets` and `--help` do not pay for TensorFlow
or PyTorch. Bad input raises ToolchainError anywhere below; it becomes one `error:` line on stderr
and exit code 2 (argparse's own complaints too).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from toolchain.config import SEARCH_SPACE
from toolchain.errors import EXIT_BAD_INPUT, ToolchainError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error:` line and exit 2, like every other bad input."""

    def error(self, message):
        raise ToolchainError(f"{self.prog}: {message}")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


# Flags that override config settings: (flag, config key, type, help).
CONFIG_FLAGS = (
    ("--name", "name", str, "build name: work files in <build-dir>/<name>, model in <models-dir>/<name>"),
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
    ("--teacher-epochs", "teacher.epochs", _finite_float, "teacher fine-tuning epochs"),
    ("--teacher-max-steps", "teacher.max_steps", int, "stop teacher fine-tuning after this many steps"),
    ("--processes", "teacher.processes", int, "teacher processes: DDP fine-tuning and sharded logits (default 1)"),
    ("--arch", "student.architecture", str, "student architecture: bag, cnn or transformer"),
    ("--vocab-size", "student.vocab_size", int, "pruned WordPiece vocabulary size"),
    ("--seq-len", "student.sequence_length", int, "tokens per sentence incl. [CLS] and [SEP]"),
    ("--embedding-dim", "student.embedding_dim", int, "student embedding width"),
    ("--hidden-dim", "student.hidden_dim", int, "student hidden width"),
    ("--epochs", "student.epochs", int, "student epochs, phase 1 (projected teacher embeddings)"),
    ("--finetune-epochs", "student.finetune_epochs", int, "student epochs, phase 2 (fine-tuning)"),
    ("--embedding-bits", "student.embedding_bits", int, "store the embedding in 1-7-bit LUT form (0: int8)"),
    ("--embedding-lut", "student.embedding_lut", str, "LUT levels per_tensor or per_channel (per column)"),
    ("--cluster-epochs", "student.cluster_epochs", int, "student epochs, phase 3 (clustered embedding levels)"),
    ("--golden-count", "verify.golden_count", int, "test sentences saved as golden vectors"),
)


def _config_from_args(args):
    from toolchain.config import load_config

    overrides = {key: getattr(args, key.replace(".", "__")) for _, key, _, _ in CONFIG_FLAGS}
    return load_config(args.config, overrides, project_dir=_project_dir(args))


def _project_dir(args) -> Path:
    directory = Path(args.project_dir) if args.project_dir else Path.cwd()
    if not directory.is_dir():
        raise ToolchainError(f"--project-dir {directory} is not a folder")
    return directory


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config file (flags override it)")
    for flag, key, kind, text in CONFIG_FLAGS:
        parser.add_argument(flag, dest=key.replace(".", "__"), type=kind, default=None, help=text)


def _print_outcomes(outcomes) -> None:
    for outcome in outcomes:
        state = "cached" if outcome.cached else f"{outcome.seconds:.1f} s"
        print(f"  {outcome.name:<8} {state:>10}  {outcome.directory}")


def _check_writable(config) -> None:
    """The build and models folders are folders (or can be made), before any stage runs."""
    for what, directory in (("--build-dir", config.work_dir.parent), ("--models-dir", config.model_dir.parent)):
        if directory.exists() and not directory.is_dir():
            raise ToolchainError(f"{what} {directory} is a file, not a folder")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ToolchainError(f"{what} {directory} cannot be created: {exc.strerror}") from None
        if not os.access(directory, os.W_OK):
            raise ToolchainError(f"{what} {directory} is not writable")


def _cmd_stage(args) -> int:
    from toolchain import pipeline

    config = _config_from_args(args)
    _check_writable(config)
    _print_outcomes(pipeline.run_until(config, args.command))
    return 0


def _cmd_build(args) -> int:
    from toolchain import pipeline

    config = _config_from_args(args)
    target = None
    if args.target:
        from toolchain import targets

        target = targets.target(args.target)
    _check_writable(config)
    if target is not None:
        _preflight(config, target)
    outcomes, seconds = pipeline.build(config)
    _print_outcomes(outcomes)
    print(f"build '{config.name}' finished in {seconds / 60:.1f} min; model in {config.model_dir}")
    if target is not None:
        _print_fit(_fit_of(config.model_dir, target), target)
    print(f"to put it on a device: textclf export --model {config.model_dir} --format platformio --out lib/"
          + (f" --target {target.name}" if target else ""))
    return 0


def _preflight(config, target) -> None:
    """Before the student is trained: an untrained student of the configured shape, measured on the
    target (after the data and teacher stages, which the shape's vocabulary needs)."""
    from toolchain import pipeline, search, targets
    from toolchain import tokenizer as wordpiece

    _print_outcomes(pipeline.run_until(config, "teacher"))
    dirs = pipeline.stage_dirs(config)
    texts = search.stage_texts(dirs)
    s = config.student
    candidate = search.Candidate(s.architecture, s.vocab_size, s.embedding_dim, s.hidden_dim, s.embedding_bits)
    measured = search.footprint(config, candidate, target, dirs,
                                wordpiece.read_vocab_file(dirs["teacher"] / "vocab.txt"), texts)
    print(targets.format_fit(measured.fit))
    targets.require_fit(measured.fit)


def _fit_of(model_dir: Path, target):
    from toolchain import emit, targets
    from toolchain.emit.ops.common import Options

    model = emit.read_model_dir(model_dir)
    library = emit.model_library(model, emit.default_prefix(model.name), target.default_backend,
                                 Options(packed_filters=target.dsp))
    return targets.check_fit(target, library, emit.runtime_library())


def _print_fit(fit, target) -> None:
    from toolchain import targets

    print(targets.format_fit(fit))
    targets.require_fit(fit)


def _cmd_export(args) -> int:
    from toolchain import export

    request = export.ExportRequest(
        model_dir=Path(args.model), out=Path(args.out), format=args.format, prefix=args.prefix,
        backend=args.backend, target=args.target, kernels=args.kernels, verify=not args.no_verify,
        runtime_out=Path(args.runtime_out) if args.runtime_out else None,
    )
    prepared = export.prepare(request)
    if prepared.fit is not None:
        from toolchain import targets

        print(targets.format_fit(prepared.fit))
    if args.check:
        problems = export.differences(prepared, request)
        for problem in problems:
            print(problem)
        print("the exported libraries are up to date" if not problems
              else f"{len(problems)} exported file(s) out of date")
        return 1 if problems else 0
    if not export.differences(prepared, request):
        print(f"{', '.join(prepared.libraries)} are up to date ({len(prepared.files)} files)")
        return 0
    written = export.write(prepared, request)
    info = export.summary(prepared)
    detail = (f"{info['ops']} ops, arena {info['arena_bytes']:,} B, weights {info['weight_bytes']:,} B"
              if "ops" in info else f"{prepared.library.backend} backend")
    print(f"exported {', '.join(str(p) for p in written)} ({args.format}; {detail})")
    return 0


def _cmd_targets(args) -> int:
    from toolchain import targets

    rows = targets.table()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(targets.format_table(rows))
    return 0


def _cmd_inspect(args) -> int:
    from toolchain import model_info

    report = model_info.describe(Path(args.model), measure=not args.no_arena)
    fit = None
    if args.target:
        from toolchain import targets

        fit = _fit_of(Path(args.model).parent, targets.target(args.target))
        report["fit"] = targets.fit_dict(fit)
    print(model_info.to_json(report) if args.json else model_info.format_report(report))
    if fit is not None:
        if not args.json:
            print(targets.format_fit(fit))
        targets.require_fit(fit)
    return 0


# The search space's flags: (flag, search.SPACE key, value type).
SPACE_FLAGS = (
    ("--architectures", "architecture", str),
    ("--vocab-sizes", "vocab_size", int),
    ("--embedding-dims", "embedding_dim", int),
    ("--hidden-dims", "hidden_dim", int),
    ("--embedding-bits-options", "embedding_bits", int),
)


def _cmd_search(args) -> int:
    from toolchain import search, targets

    config = _config_from_args(args)
    target = targets.target(args.target)
    for what, value in (("--max-flash", args.max_flash), ("--max-ram", args.max_ram),
                        ("--max-instructions", args.max_instructions)):
        if value is not None and value < 1:
            raise ToolchainError(f"{what} must be a positive number")
    if args.candidates < 1:
        raise ToolchainError("--candidates must be at least 1")
    if args.jobs < 1:
        raise ToolchainError("--jobs must be at least 1")
    space = dict(search.SPACE)
    for flag, key, kind in SPACE_FLAGS:
        value = getattr(args, key)
        if value is not None:
            try:
                space[key] = tuple(dict.fromkeys(kind(item.strip()) for item in value.split(",")))
            except ValueError:
                raise ToolchainError(f"{flag}: {value!r} is not a comma-separated list of {kind.__name__} values") from None
    search.check_space(config, space)
    _check_writable(config)
    result = search.run(config, target, args.candidates, args.max_flash, args.max_ram, args.max_instructions,
                        args.jobs, space)
    print(search.format_table(result))
    for path in search.write_report(config, result):
        print(f"wrote {path}")
    print(f"published {result['best']} as {search.publish(config, result)}")
    return 0


def _cmd_validate(args) -> int:
    from toolchain import validate

    validate.BOOT_TIMEOUT_S = validate.LINE_TIMEOUT_S = args.timeout
    project = _project_dir(args)
    model_dir = Path(args.model)
    report = validate.validate(
        model_dir, env=args.env, port=args.port, baud=args.baud, data=Path(args.data) if args.data else None,
        limit=args.limit, work=project / "build" / "validate" / model_dir.resolve().name,
    )
    print(validate.format_report(report))
    for path in validate.write_report(model_dir, report):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="textclf",
        description="DistilBERT teacher -> distilled INT8 student -> TFLite Micro / C for microcontrollers.",
    )
    parser.add_argument("--project-dir", help="where relative build/models folders are (default: the current folder)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    build = commands.add_parser("build", help="run the whole pipeline (cached stages are skipped)")
    _add_config_flags(build)
    build.add_argument("--target", help="board the model is for: its fit is checked (see `textclf targets`)")
    build.set_defaults(run=_cmd_build)

    stage_help = {
        "data": "labelled split and transfer text",
        "teacher": "load or fine-tune the teacher; its logits for every text",
        "distill": "pruned vocabulary and the distilled float student",
        "convert": "FP32, FP16 and full-INT8 .tflite with a size table",
        "verify": "INT8 model in TFLite Micro: accuracy, arena, golden vectors",
        "report": "<models-dir>/<name>/: artifacts, metrics.json, report.md, plots",
    }
    for name, text in stage_help.items():
        stage = commands.add_parser(name, help=f"{text} (runs earlier stages if needed)")
        _add_config_flags(stage)
        stage.set_defaults(run=_cmd_stage)

    export = commands.add_parser("export", help="a model as libraries for a firmware project (PlatformIO, Arduino, CMake)")
    export.add_argument("--model", default="models/default", help="model directory (default: models/default)")
    export.add_argument("--format", default="platformio", choices=("platformio", "arduino", "cmake"))
    export.add_argument("--out", required=True, help="folder the libraries go into (e.g. your project's lib/)")
    export.add_argument("--runtime-out", help="folder for the runtime library, if not --out (e.g. a shared lib/)")
    export.add_argument("--prefix", help="C symbol prefix of the model (default: from the model's folder name)")
    export.add_argument("--backend", default="compiled", choices=("compiled", "tflm"),
                        help="compiled graph (default) or TensorFlow Lite Micro's interpreter")
    export.add_argument("--target", help="check the fit against this board first (see `textclf targets`)")
    export.add_argument("--kernels", default="optimized", choices=("optimized", "reference"),
                        help="optimized kernels where they apply (default), or TFLM's reference loops only")
    export.add_argument("--no-verify", action="store_true",
                        help="skip compiling the export on this machine and replaying the goldens")
    export.add_argument("--check", action="store_true", help="only compare with the files in --out; exit 1 if any differs")
    export.set_defaults(run=_cmd_export)

    search = commands.add_parser("search", help="train the students a target can hold and publish the most accurate")
    _add_config_flags(search)
    search.add_argument("--target", required=True, help="the board (see `textclf targets`)")
    search.add_argument("--max-flash", type=int, help="flash budget in bytes (default: the target's)")
    search.add_argument("--max-ram", type=int, help="RAM budget in bytes (default: the target's)")
    search.add_argument("--max-instructions", type=int, help="mean instructions per sentence at most")
    search.add_argument("--candidates", type=int, default=12, help="how many candidates to measure (default 12)")
    search.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="candidates trained at once (default: one per core)")
    for flag, key, _ in SPACE_FLAGS:
        search.add_argument(flag, dest=key, metavar="LIST", help=f"comma-separated values to search (default: "
                            f"{','.join(map(str, SEARCH_SPACE[key]))})")
    search.set_defaults(run=_cmd_search)

    validate = commands.add_parser("validate", help="run a model on the device itself over a test split and "
                                      "compare with TFLite Micro on the workstation")
    validate.add_argument("--model", default="models/default", help="model directory (default: models/default)")
    validate.add_argument("--env", help="build and run the firmware for this offline env (native, qemu_m4, ...)")
    validate.add_argument("--port", help="a board running the textclf firmware, on this serial port")
    validate.add_argument("--baud", type=int, default=115200, help="serial speed (default 115200)")
    validate.add_argument("--data", help="texts and labels (.csv/.tsv/.jsonl; default: the build's test split)")
    validate.add_argument("--limit", type=int, help="only the first N texts")
    validate.add_argument("--timeout", type=_finite_float, default=120.0,
                          help="seconds to wait for the device's handshake and for each reply (default 120)")
    validate.set_defaults(run=_cmd_validate)

    targets = commands.add_parser("targets", help="the boards a model can be checked against, with their budgets")
    targets.add_argument("--json", action="store_true")
    targets.set_defaults(run=_cmd_targets)

    inspect = commands.add_parser("inspect", help="describe a .tflite model and measure its TFLite Micro arena")
    inspect.add_argument("model", help="path to a .tflite file")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.add_argument("--no-arena", action="store_true", help="skip the TFLite Micro load and arena search")
    inspect.add_argument("--target", help="also print the fit for this board (the .tflite must be in a model folder)")
    inspect.set_defaults(run=_cmd_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except ToolchainError as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`inspect ... | head`): stop quietly, as the Python docs advise.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:
        # The machine, not the input: a full disk, a name too long, a folder that vanished.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
