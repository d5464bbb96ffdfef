"""`python -m toolchain`: the command line. Each subcommand is one pipeline stage or tool.

Stage modules are imported lazily so `inspect` and `--help` do not pay for TensorFlow or PyTorch.
Bad input raises ToolchainError anywhere below; it becomes one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toolchain.errors import EXIT_BAD_INPUT, ToolchainError

def _cmd_inspect(args) -> int:
    from toolchain import model_info

    report = model_info.describe(Path(args.model), measure=not args.no_arena)
    print(model_info.to_json(report) if args.json else model_info.format_report(report))
    return 0

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
