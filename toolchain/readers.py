"""Readers for a user's data file (.csv, .tsv, .jsonl): (text, label) pairs, or one clear error.

Every problem becomes a ToolchainError naming the file and, where there is one, the line; nothing
is guessed silently. The rules (the README's "User data" bullet says the same, shorter):

File
  - A regular file (a directory, FIFO, socket or device is refused without being opened for
    reading), UTF-8 (a leading BOM is skipped), lines ending in "\\n" or "\\r\\n". Bare-CR line ends
    (classic Mac OS) are refused. No line may be longer than MAX_LINE_BYTES and no CSV field longer
    than MAX_LINE_BYTES characters.
  - Files are streamed line by line and reading stops at the first error, so a multi-GB file with
    a wrong column costs one line of memory, not the file.
CSV (.csv)
  Comma-separated, fields optionally in double quotes ("" is a quote inside them; a quoted field
  may span lines). Parsed strictly: an unclosed quote or a character after a closing quote is an
  error, never a silently merged row.
TSV (.tsv, .tab)
  No quoting at all: each line is one record, its fields are split on tabs, and quote characters
  are ordinary text. A text cannot hold a tab or a newline (use CSV or JSONL for such texts).
CSV and TSV
  The first non-blank line is the header (names are stripped of spaces). The text and the label
  column must each appear exactly once in it. Every record must have as many fields as the header.
JSONL (.jsonl, .ndjson)
  One JSON object per line; records are split on "\\n" only (U+2028, U+0085 and other Unicode line
  breaks inside strings are text). Every record must have the text and the label key (the first
  record lacking one is an error, it is not skipped), and neither key may appear twice in a record.
Rows
  Blank lines, and CSV/TSV rows whose fields are all blank, are ignored. A row whose text is empty
  (blank, or JSON null) is skipped and counted (the data stage's summary reports the count); a
  row with a text must have a valid label.
Texts
  Strings (in JSONL a JSON string; numbers, booleans, arrays and objects are refused), stripped of
  surrounding white space. A lone UTF-16 surrogate (JSON "\\ud800") is refused.
Labels
  A string or a JSON integer; JSON booleans, numbers that are not integers (1.0, NaN), arrays,
  objects and null are refused. Labels are stripped; an empty label, a label with a control
  character (C0, DEL, C1 such as U+0085, U+2028/U+2029) and a label longer than MAX_LABEL_CHARS
  characters are refused: labels become C string literals in the firmware, printed on one line.
  Integer labels are canonical: a JSON integer and a string of ASCII decimal digits (optionally
  signed, any leading zeros or surrounding spaces) denote the same class, named by the plain
  decimal: 1, "1", "01", " 1" and "+1" are all class "1"; "-07" is class "-7".
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from toolchain.errors import ToolchainError

MAX_LINE_BYTES = 4 << 20  # 4 MiB: far beyond any sentence; bounds memory on a file without line ends
MAX_LABEL_CHARS = 64
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_JSON_TYPES = {bool: "a JSON boolean", int: "a JSON integer", float: "a JSON number that is not an integer",
               str: "a JSON string", list: "a JSON array", dict: "a JSON object", type(None): "JSON null"}


def _json_type(value) -> str:
    for kind, name in _JSON_TYPES.items():  # bool before int: True is an int in Python
        if isinstance(value, kind):
            return name
    return type(value).__name__


def check_data_path(path: Path) -> None:
    """Raises unless `path` names a readable regular file (follows symlinks; never opens it)."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ToolchainError(f"data file not found: {path}") from None
    except PermissionError:
        raise ToolchainError(f"cannot read data file {path}: permission denied") from None
    except (OSError, ValueError) as exc:  # ENAMETOOLONG, ELOOP, an embedded NUL byte, ...
        raise ToolchainError(f"cannot read data file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ToolchainError(f"data path {path} is a directory, not a data file")
    if not stat.S_ISREG(info.st_mode):
        raise ToolchainError(f"data path {path} is not a regular file (a FIFO, socket or device?)")
    if not os.access(path, os.R_OK):
        raise ToolchainError(f"cannot read data file {path}: permission denied")


@contextlib.contextmanager
def _open_regular(path: Path):
    """Opens for binary reading; O_NONBLOCK so that a FIFO swapped in after the check cannot hang."""
    check_data_path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ToolchainError(f"cannot read data file {path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ToolchainError(f"data path {path} is not a regular file (a FIFO, socket or device?)")
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def _lines(handle, path: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, line without its end, the end: "\\n", "\\r\\n" or "") decoded as UTF-8."""
    offset, number = 0, 0
    while True:
        try:
            raw = handle.readline(MAX_LINE_BYTES + 2)
        except OSError as exc:
            raise ToolchainError(f"cannot read data file {path}: {exc.strerror or exc}") from None
        if not raw:
            return
        number += 1
        start = offset
        offset += len(raw)
        body = raw
        if number == 1 and body.startswith(codecs.BOM_UTF8):
            body, start = body[len(codecs.BOM_UTF8):], start + len(codecs.BOM_UTF8)
        end = b""
        if body.endswith(b"\n"):
            body, end = body[:-1], b"\n"
            if body.endswith(b"\r"):
                body, end = body[:-1], b"\r\n"
        if number == 1 and b"\r" in body.rstrip(b"\r"):
            raise ToolchainError(
                f"{path}:1: lines end in a bare carriage return (classic Mac OS line ends); "
                "save the file with \\n or \\r\\n line ends"
            )
        if len(body) > MAX_LINE_BYTES:
            raise ToolchainError(f"{path}:{number}: line longer than {MAX_LINE_BYTES:,} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ToolchainError(
                f"{path}:{number}: not UTF-8 text (byte {start + exc.start} is invalid); save the file as UTF-8"
            ) from None
        yield number, text, end.decode("ascii")


def canonical_label(value, where: str) -> str:
    """The class name of one label value (see the module docstring), or a ToolchainError."""
    if value is None:
        raise ToolchainError(f"{where}: the label is null; every example with a text needs a label")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ToolchainError(f"{where}: the label is {_json_type(value)} ({shown}); use an integer or a string")
    label = str(value) if isinstance(value, int) else value.strip()  # JSON caps integers at 4300 digits
    if not label:
        raise ToolchainError(f"{where}: the label is empty; every example with a text needs a label")
    if _SURROGATE.search(label):
        raise ToolchainError(f"{where}: the label {label!r} holds a lone UTF-16 surrogate (not valid Unicode)")
    if _CONTROL.search(label):
        raise ToolchainError(f"{where}: the label {label!r} holds a control character or line break; "
                             "labels are printed on one line")
    if len(label) > MAX_LABEL_CHARS:
        raise ToolchainError(f"{where}: the label {label[:20]!r}... is longer than {MAX_LABEL_CHARS} characters")
    if _INTEGER.fullmatch(label):
        label = str(int(label))
    return label


def clean_text(value, where: str) -> str | None:
    """The stripped text, or None when it is empty (the row is skipped)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolchainError(f"{where}: the text is {_json_type(value)}; it must be a string")
    text = value.strip()
    if not text:
        return None
    if not text.isascii() and _SURROGATE.search(text):
        raise ToolchainError(f"{where}: the text holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape "
                             "without its pair is not valid Unicode)")
    return text


def _header_columns(path: Path, number: int, names: list[str], text_column: str, label_column: str):
    positions = []
    for column in (text_column, label_column):
        found = [i for i, name in enumerate(names) if name == column]
        if not found:
            raise ToolchainError(f"{path}: no column {column!r} (columns: {', '.join(map(repr, names))})")
        if len(found) > 1:
            raise ToolchainError(f"{path}:{number}: the header names column {column!r} {len(found)} times "
                                 f"(columns {', '.join(str(i + 1) for i in found)}); rename all but one")
        positions.append(found[0])
    return positions


def _tsv_records(lines, path: Path):
    """(line, fields) of a TSV file: one record per line, split on tabs, no quoting."""
    for number, body, _ in lines:
        yield number, body.split("\t")


_CSV_HINTS = {
    "unexpected end of data": "a double quote opened here is never closed",
    "expected after": "a quoted field must end at its closing quote (write \"\" for a quote inside it)",
    "new-line character seen in unquoted field": "a bare carriage return in an unquoted field; "
                                                 "put the text in double quotes",
    "field larger than field limit": f"a field longer than {MAX_LINE_BYTES:,} characters "
                                     "(an unclosed double quote?)",
}


def _csv_records(lines, path: Path):
    """(first line, fields) of each CSV record, parsed strictly (field size limit: see read_examples)."""
    reader = csv.reader((body + end for _, body, end in lines), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = str(exc)
            hint = next((h for key, h in _CSV_HINTS.items() if key in message), message)
            raise ToolchainError(f"{path}:{start}: malformed CSV record: {hint}") from None
        yield start, fields


@contextlib.contextmanager
def _csv_field_limit(limit: int):
    """csv's field size limit is process-wide: raise it for one read, then put it back."""
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _table_examples(records, path: Path, text_column: str, label_column: str, tab: bool):
    header = None
    for number, fields in records:
        if not any(map(str.strip, fields)):
            continue  # a blank line
        if header is None:
            header = [name.strip() for name in fields]
            text_at, label_at = _header_columns(path, number, header, text_column, label_column)
            continue
        if len(fields) != len(header):
            hint = ("fields are separated by tabs, so a text cannot hold one" if tab
                    else "a text with a comma must be in double quotes")
            raise ToolchainError(f"{path}:{number}: {len(fields)} fields, but the header has {len(header)} ({hint})")
        yield number, fields[text_at], fields[label_at]
    if header is None:
        raise ToolchainError(f"{path}: the data file is empty")


class _Record(dict):
    """A JSON object that remembers which keys appeared more than once."""

    duplicates: tuple = ()


def _json_object(pairs):
    record = _Record(pairs)
    if len(record) != len(pairs):
        seen: set = set()
        record.duplicates = tuple(key for key, _ in pairs if key in seen or seen.add(key))
    return record


def _jsonl_examples(lines, path: Path, text_column: str, label_column: str):
    any_line = False
    for number, body, _ in lines:
        if not body.strip(" \t\r"):
            continue
        any_line = True
        try:
            record = json.loads(body, object_pairs_hook=_json_object)
        except json.JSONDecodeError as exc:
            raise ToolchainError(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        except (ValueError, RecursionError) as exc:  # integers over 4300 digits, very deep nesting
            reason = str(exc).split(";")[0] or "nested too deeply"
            raise ToolchainError(f"{path}:{number}: invalid JSON ({reason})") from None
        if not isinstance(record, dict):
            raise ToolchainError(f"{path}:{number}: each line must be a JSON object, not {_json_type(record)}")
        for column in (text_column, label_column):
            if column not in record:
                keys = ", ".join(map(repr, list(record)[:10]))
                raise ToolchainError(f"{path}:{number}: no column {column!r} in this record (its keys: {keys})")
            if column in record.duplicates:
                raise ToolchainError(f"{path}:{number}: key {column!r} appears more than once in this record")
        yield number, record[text_column], record[label_column]
    if not any_line:
        raise ToolchainError(f"{path}: the data file is empty")


def read_examples(path: Path, text_column: str, label_column: str) -> tuple[list[tuple[str, str]], int]:
    """(text, canonical label) pairs of a user's file, and how many rows were skipped for an empty text."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    check_data_path(path)
    if kind is None:
        raise ToolchainError(f"{path}: unknown data format {path.suffix.lower()!r} (use .csv, .tsv or .jsonl)")
    if text_column == label_column:
        raise ToolchainError(f"the text and the label column are both {text_column!r}")
    rows: list[tuple[str, str]] = []
    skipped = 0
    labels: dict[str, str] = {}  # raw string -> class: most files repeat a handful of labels
    with _open_regular(path) as handle, _csv_field_limit(MAX_LINE_BYTES):
        lines = _lines(handle, path)
        if kind == "jsonl":
            examples = _jsonl_examples(lines, path, text_column, label_column)
        elif kind == "csv":
            examples = _table_examples(_csv_records(lines, path), path, text_column, label_column, tab=False)
        else:
            examples = _table_examples(_tsv_records(lines, path), path, text_column, label_column, tab=True)
        for number, text, label in examples:
            # Fast paths (an ASCII text, a label seen before) skip the checks that cannot fail.
            if type(text) is str and text.isascii():
                text = text.strip() or None
            else:
                text = clean_text(text, f"{path}:{number}")
            if text is None:
                skipped += 1
                continue
            name = labels.get(label) if type(label) is str else None  # not True == 1: only strings
            if name is None:
                name = canonical_label(label, f"{path}:{number}")
                if type(label) is str:
                    labels[label] = name
            rows.append((text, name))
    if not rows:
        if skipped:
            raise ToolchainError(f"{path}: no example has a text: all {skipped} rows have an empty {text_column!r}")
        raise ToolchainError(f"{path}: no examples (the file has a header but no rows)")
    return rows, skipped


def read_user_file(path: Path, text_column: str, label_column: str) -> list[tuple[str, str]]:
    """(text, canonical label) pairs of a user's .csv/.tsv/.jsonl file (rules: module docstring)."""
    return read_examples(path, text_column, label_column)[0]
