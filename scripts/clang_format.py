"""Formats (or with --check, checks) every hand-written C and C++ file with clang-format and the
repository's .clang-format. Generated files are left out: the exported libraries under firmware/lib
and firmware/models (written by `textclf export`)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = (".c", ".h", ".cpp")
GENERATED = ("firmware/lib/textclf/", "firmware/models/")


def sources() -> list[str]:
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.splitlines()
    return sorted(p for p in tracked if p.endswith(SUFFIXES) and not p.startswith(GENERATED)
                  and (ROOT / p).is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report files that differ; change nothing")
    args = parser.parse_args()
    files = sources()
    command = ["clang-format", "--dry-run", "-Werror"] if args.check else ["clang-format", "-i"]
    result = subprocess.run([*command, *files], cwd=ROOT)
    if args.check:
        print(f"clang-format: {len(files)} files {'formatted' if result.returncode == 0 else 'NOT formatted'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
