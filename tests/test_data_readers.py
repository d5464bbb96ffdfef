"""User data files: every defect of a hostile-input probe of the data stage, as a regression test.

Most are fast unit tests of toolchain.readers (and data.produce for the split messages); a few go
through the real CLI like test_pipeline_errors.py (one `error:` line, exit code 2, nothing written).
"""
import csv
import json
import os
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from test_pipeline_errors import assert_clean_failure, run

from toolchain import data, readers
from toolchain.config import DataConfig
from toolchain.errors import ToolchainError
from toolchain.readers import MAX_LINE_BYTES, read_examples, read_user_file


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    # surrogatepass lets a test write the bytes a broken tool would (never valid UTF-8 otherwise).
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def error_of(path: Path, text_column="text", label_column="label") -> str:
    with pytest.raises(ToolchainError) as caught:
        read_examples(path, text_column, label_column)
    message = str(caught.value)
    assert "\n" not in message  # one line on the terminal
    return message


def jsonl(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


TEN = jsonl(*({"text": f"sentence {i}", "label": ["a", "b"][i % 2]} for i in range(10)))


# 1. Tracebacks -> errors -------------------------------------------------------------------------

@pytest.mark.parametrize("name, content", [
    ("mac.csv", "text,label\rgood,pos\rbad,neg\r"),
    ("mac.tsv", "text\tlabel\rgood\tpos\rbad\tneg\r"),
    ("mac.jsonl", '{"text": "good", "label": "pos"}\r{"text": "bad", "label": "neg"}\r'),
])
def test_cr_only_line_ends_are_a_clear_error(tmp_path, name, content):
    message = error_of(write(tmp_path, name, content))
    assert message.startswith(f"{tmp_path / name}:1: lines end in a bare carriage return")


def test_crlf_line_ends_are_read(tmp_path):
    expected = [("good", "pos"), ("bad", "neg")]
    assert read_user_file(write(tmp_path, "a.csv", "text,label\r\ngood,pos\r\nbad,neg\r\n"), "text", "label") == expected
    assert read_user_file(write(tmp_path, "a.tsv", "text\tlabel\r\ngood\tpos\r\nbad\tneg\r\n"), "text", "label") == expected
    records = '{"text": "good", "label": "pos"}\r\n{"text": "bad", "label": "neg"}\r\n'
    assert read_user_file(write(tmp_path, "a.jsonl", records), "text", "label") == expected


def test_fields_beyond_pythons_csv_limit_are_read(tmp_path):
    # 131,072 characters is the csv module's default field limit; the reader raises it for one read.
    long_text = "word " * 40_000  # 200,000 characters
    content = f"text,label\n{long_text},pos\n\"{long_text}\",neg\n"
    rows = read_user_file(write(tmp_path, "long.csv", content), "text", "label")
    assert rows == [(long_text.strip(), "pos"), (long_text.strip(), "neg")]
    assert csv.field_size_limit() == 131_072  # the process-wide limit is put back


def test_fields_and_lines_beyond_the_reader_limit_are_errors(tmp_path):
    huge = "x" * (MAX_LINE_BYTES + 1)
    # A quoted CSV field may span lines: the field limit catches it, with the record's first line.
    many_lines = "\n".join(["y" * 1000] * (MAX_LINE_BYTES // 1000 + 2))
    message = error_of(write(tmp_path, "field.csv", f"text,label\nok,pos\n\"{many_lines}\",neg\n"))
    assert message.startswith(f"{tmp_path / 'field.csv'}:3: malformed CSV record: a field longer than")
    assert csv.field_size_limit() == 131_072
    for name, content, line in [("line.csv", f"text,label\n{huge},pos\n", 2),
                                ("line.tsv", f"text\tlabel\n{huge}\tpos\n", 2),
                                ("line.jsonl", jsonl({"text": "ok", "label": "a"}, {"text": huge, "label": "b"}), 2)]:
        path = write(tmp_path, name, content)
        assert error_of(path) == f"{path}:{line}: line longer than {MAX_LINE_BYTES:,} bytes"


def test_lone_surrogates_in_jsonl_are_errors_and_pairs_are_text(tmp_path):
    path = write(tmp_path, "s.jsonl", TEN + '{"text": "broken \\ud800 text", "label": "a"}\n')
    assert error_of(path) == f"{path}:11: the text holds a lone UTF-16 surrogate " \
                             "(a \\ud800-\\udfff escape without its pair is not valid Unicode)"
    path = write(tmp_path, "l.jsonl", '{"text": "fine", "label": "\\udc00x"}\n')
    assert "the label '\\udc00x' holds a lone UTF-16 surrogate" in error_of(path)
    path = write(tmp_path, "pair.jsonl", '{"text": "smile \\ud83d\\ude00", "label": "a"}\n')
    assert read_user_file(path, "text", "label") == [("smile \U0001F600", "a")]


@pytest.mark.parametrize("value, kind", [
    (5, "a JSON integer"), (2.5, "a JSON number that is not an integer"), (True, "a JSON boolean"),
    (["a"], "a JSON array"), ({"a": 1}, "a JSON object"),
])
def test_jsonl_texts_must_be_strings(tmp_path, value, kind):
    path = write(tmp_path, "t.jsonl", TEN + jsonl({"text": value, "label": "a"}))
    assert error_of(path) == f"{path}:11: the text is {kind}; it must be a string"


def test_jsonl_null_text_is_skipped_and_counted(tmp_path):
    path = write(tmp_path, "n.jsonl", TEN + jsonl({"text": None, "label": "a"}, {"text": "  ", "label": "b"}))
    rows, skipped = read_examples(path, "text", "label")
    assert len(rows) == 10 and skipped == 2


# 2. TSV without quote processing --------------------------------------------------------------------

def test_tsv_quotes_are_text_and_never_merge_rows(tmp_path):
    lines = ['"an opening quote starts this text', "second", "third", "fourth", "fifth", "sixth", "seventh"]
    content = "text\tlabel\n" + "".join(f"{t}\t{'ab'[i % 2]}\n" for i, t in enumerate(lines))
    content += 'she said "hi" to me\ta\n"fully quoted"\tb\n'
    rows = read_user_file(write(tmp_path, "q.tsv", content), "text", "label")
    assert len(rows) == 9
    assert rows[0] == ('"an opening quote starts this text', "a")
    assert rows[1] == ("second", "b")
    assert rows[-2:] == [('she said "hi" to me', "a"), ('"fully quoted"', "b")]


@pytest.mark.parametrize("line, count", [("one\ttwo\tthree", 3), ("no tab here", 1), ("trailing\ta\t", 3)])
def test_tsv_line_with_wrong_field_count_is_an_error(tmp_path, line, count):
    path = write(tmp_path, "f.tsv", f"text\tlabel\nfine\ta\n{line}\nlater\tb\n")
    assert error_of(path) == (f"{path}:3: {count} fields, but the header has 2 "
                              "(fields are separated by tabs, so a text cannot hold one)")


def test_csv_row_with_wrong_field_count_is_an_error(tmp_path):
    # An unquoted comma used to shift the label silently (label ' world', 'pos' dropped).
    path = write(tmp_path, "c.csv", "text,label\nfine,a\nhello, world,pos\n")
    assert error_of(path) == (f"{path}:3: 3 fields, but the header has 2 "
                              "(a text with a comma must be in double quotes)")


def test_csv_is_parsed_strictly(tmp_path):
    # An unclosed quote used to swallow the rest of the file into one text.
    path = write(tmp_path, "open.csv", 'text,label\nfine,a\n"never closed,a\nmore,b\nrows,a\n')
    assert error_of(path) == f"{path}:3: malformed CSV record: a double quote opened here is never closed"
    path = write(tmp_path, "after.csv", 'text,label\n"quoted" then more,a\n')
    assert error_of(path).startswith(f"{path}:2: malformed CSV record: a quoted field must end at its closing quote")
    # Legal CSV still reads: a quoted comma, a doubled quote, a quoted newline.
    path = write(tmp_path, "ok.csv", 'text,label\n"a, b",x\n"say ""hi""",y\n"two\nlines",x\n')
    assert read_user_file(path, "text", "label") == [("a, b", "x"), ('say "hi"', "y"), ("two\nlines", "x")]


# 3. JSONL records split on \n only -----------------------------------------------------------------

def test_jsonl_unicode_line_breaks_inside_strings_are_text(tmp_path):
    texts = ["line\u2028separator", "next\u0085line", "para\u2029graph", "form\x0cfeed \x1c"]
    content = "".join(json.dumps({"text": t, "label": "a"}, ensure_ascii=False) + "\n" for t in texts)
    assert "\u2028" in content  # raw, not escaped
    rows = read_user_file(write(tmp_path, "u.jsonl", content), "text", "label")
    assert [t for t, _ in rows] == ["line\u2028separator", "next\u0085line", "para\u2029graph", "form\x0cfeed"]


# 4. Duplicate column names --------------------------------------------------------------------------

@pytest.mark.parametrize("name, header, row", [
    ("d.csv", "text,label,text", "a,b,c"),
    ("d.tsv", "text\tlabel\ttext", "a\tb\tc"),
    ("s.csv", "text, label ,text ", "a,b,c"),  # header names are stripped of spaces
])
def test_duplicate_text_column_is_an_error(tmp_path, name, header, row):
    path = write(tmp_path, name, f"{header}\n{row}\n")
    assert error_of(path) == f"{path}:1: the header names column 'text' 2 times (columns 1, 3); rename all but one"


def test_duplicate_unused_column_is_harmless(tmp_path):
    path = write(tmp_path, "u.csv", "note,text,note,label\nx,hello,y,a\n")
    assert read_user_file(path, "text", "label") == [("hello", "a")]


def test_jsonl_duplicate_key_is_an_error(tmp_path):
    path = write(tmp_path, "k.jsonl", TEN + '{"text": "a", "label": "a", "label": "b"}\n')
    assert error_of(path) == f"{path}:11: key 'label' appears more than once in this record"
    path = write(tmp_path, "nested.jsonl", '{"text": "a", "label": "b", "meta": {"x": 1, "x": 2}}\n')
    assert read_user_file(path, "text", "label") == [("a", "b")]


# 5. Label types and canonical integers -------------------------------------------------------------

@pytest.mark.parametrize("value, shown", [
    (1.0, "a JSON number that is not an integer (1.0)"), (0.5, "a JSON number that is not an integer (0.5)"),
    (True, "a JSON boolean (true)"), ([1, 2], "a JSON array ([1, 2])"), ({"k": "v"}, 'a JSON object ({"k": "v"})'),
])
def test_jsonl_labels_of_other_types_are_refused(tmp_path, value, shown):
    path = write(tmp_path, "l.jsonl", TEN + jsonl({"text": "x", "label": value}))
    assert error_of(path) == f"{path}:11: the label is {shown}; use an integer or a string"


def test_integer_labels_are_canonical(tmp_path):
    records = [{"text": f"t{i}", "label": v} for i, v in enumerate([1, "1", "01", " 1", "+1", "001 ", -7, "-07", 0, "-0"])]
    rows = read_user_file(write(tmp_path, "i.jsonl", jsonl(*records)), "text", "label")
    assert [label for _, label in rows] == ["1", "1", "1", "1", "1", "1", "-7", "-7", "0", "0"]
    content = "text,label\nt0,1\nt1,01\nt2, 2\nt3,2\n"
    assert [label for _, label in read_user_file(write(tmp_path, "i.csv", content), "text", "label")] == ["1", "1", "2", "2"]
    # Only ASCII digits are integers; other strings stay as written (stripped).
    assert readers.canonical_label("\u0661", "w") == "\u0661"  # ARABIC-INDIC DIGIT ONE
    assert readers.canonical_label("1.0", "w") == "1.0"
    assert readers.canonical_label(" Positive ", "w") == "Positive"


def test_canonical_integer_classes_in_label_names(tmp_path):
    rows = read_user_file(write(tmp_path, "o.csv", "text,label\na,10\nb,02\nc,2\nd,-1\ne,+10\n"), "text", "label")
    assert data.label_names(rows, "o.csv") == ["-1", "2", "10"]


# 6. Labels printed on the device's one-line output ---------------------------------------------------

@pytest.mark.parametrize("label", ["two\nlines", "tab\there", "bell\x07", "del\x7f", "n\x85el", "l\u2028s", "cr\rx", "u\x1fs"])
def test_labels_with_control_characters_are_refused(tmp_path, label):
    path = write(tmp_path, "c.jsonl", TEN + jsonl({"text": "x", "label": label}))
    assert error_of(path) == (f"{path}:11: the label {label!r} holds a control character or line break; "
                              "labels are printed on one line")


def test_label_length_limit(tmp_path):
    ok = "x" * readers.MAX_LABEL_CHARS
    assert read_user_file(write(tmp_path, "ok.jsonl", jsonl({"text": "t", "label": ok})), "text", "label") == [("t", ok)]
    path = write(tmp_path, "long.jsonl", jsonl({"text": "t", "label": ok + "y"}))
    assert error_of(path) == f"{path}:1: the label 'xxxxxxxxxxxxxxxxxxxx'... is longer than 64 characters"
    path = write(tmp_path, "bigint.jsonl", jsonl({"text": "t", "label": 10 ** 70}))
    assert "is longer than 64 characters" in error_of(path)


@pytest.mark.parametrize("name, content, line, what", [
    ("e.csv", "text,label\nfine,a\nhas text,\n", 3, "empty"),
    ("e.tsv", "text\tlabel\nfine\ta\nhas text\t   \n", 3, "empty"),
    ("e.jsonl", jsonl({"text": "fine", "label": "a"}, {"text": "has text", "label": ""}), 2, "empty"),
    ("n.jsonl", jsonl({"text": "fine", "label": "a"}, {"text": "has text", "label": None}), 2, "null"),
])
def test_a_text_without_a_label_is_an_error(tmp_path, name, content, line, what):
    path = write(tmp_path, name, content)
    assert error_of(path) == f"{path}:{line}: the label is {what}; every example with a text needs a label"


def test_rows_without_text_are_skipped_and_counted(tmp_path):
    content = "text,label\n\n,a\n   ,b\nfine,a\n,\n  ,  \nalso fine,b\n"
    rows, skipped = read_examples(write(tmp_path, "s.csv", content), "text", "label")
    # ",a" and "   ,b" lack a text; "," and "  ,  " are blank rows (like the blank line), not counted.
    assert rows == [("fine", "a"), ("also fine", "b")] and skipped == 2


# 7. One message per cause ------------------------------------------------------------------------

def test_header_only_and_no_text_messages(tmp_path):
    path = write(tmp_path, "h.csv", "text,label\n\n")
    assert error_of(path) == f"{path}: no examples (the file has a header but no rows)"
    path = write(tmp_path, "h.tsv", "text\tlabel\n")
    assert error_of(path) == f"{path}: no examples (the file has a header but no rows)"
    path = write(tmp_path, "t.csv", "text,label\n,a\n ,b\n")
    assert error_of(path) == f"{path}: no example has a text: all 2 rows have an empty 'text'"
    for name in ("blank.csv", "blank.tsv", "blank.jsonl"):
        path = write(tmp_path, name, "\n  \n\r\n")
        assert error_of(path) == f"{path}: the data file is empty"


def produce_error(tmp_path, content: str, **settings) -> str:
    path = write(tmp_path, "p.jsonl", content)
    config = DataConfig(source=str(path), transfer_corpora=[], augment_copies=0, **settings)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    with pytest.raises(ToolchainError) as caught:
        data.produce(config, 0, out, tmp_path / "cache")
    assert list(out.iterdir()) == []  # nothing written before the error
    return str(caught.value)


def examples(label: str, n: int, prefix: str = "") -> list[dict]:
    return [{"text": f"{prefix}{label} {i}", "label": label} for i in range(n)]


def test_everything_conflicting_leaves_nothing(tmp_path):
    content = jsonl(*examples("a", 3, "same "), *[{"text": f"same a {i}", "label": "b"} for i in range(3)])
    message = produce_error(tmp_path, content)
    assert message.endswith(": no examples left after dropping 3 text(s) seen with different labels")


def test_one_class_left_after_dropping_conflicts(tmp_path):
    content = jsonl({"text": "shared", "label": "a"}, {"text": "shared", "label": "b"}, *examples("b", 10))
    message = produce_error(tmp_path, content)
    assert message.endswith(": only one class ('b') left after dropping 1 text(s) seen with different labels; "
                            "a classifier needs two or more")


def test_a_class_too_small_for_the_split_is_named(tmp_path):
    # With test 0.1 / validation 0.1 a class needs 6 examples: round(5 * 0.1) == 0 test examples.
    content = jsonl(*examples("common", 50), *examples("rare", 5))
    message = produce_error(tmp_path, content)
    assert message.endswith(": class 'rare' has 5 example(s); with test_fraction 0.1 and validation_fraction 0.1 "
                            "a class needs at least 6 to appear in both the train and the test split")
    # max_examples is named when it is what thinned the classes out (here 20 of 210 keep ~1 'rare').
    content = jsonl(*examples("common", 200), *examples("rare", 10))
    message = produce_error(tmp_path, content, max_examples=20)
    assert "left after keeping 20 (max_examples) of 210" in message or \
        "example(s) after keeping 20 (max_examples) of 210" in message


@pytest.mark.parametrize("test_fraction, validation_fraction, need", [
    (0.1, 0.1, 6),   # 6 -> 1 test, 1 validation, 4 train
    (0.2, 0.0, 3),   # 3 -> round(0.6) = 1 test, 2 train
    (0.25, 0.25, 3),  # 2 -> round(0.5) = 0 (half to even); 3 -> 1 test, 1 validation, 1 train
    (0.49, 0.49, 3),  # 2 -> 1 test + 1 validation + 0 train; 3 -> 1 + 1 + 1
    (0.15, 0.45, 4),  # 3 -> round(0.45) = 0 test; 4 -> 1 test, 2 validation, 1 train
])
def test_min_class_size(test_fraction, validation_fraction, need):
    config = DataConfig(test_fraction=test_fraction, validation_fraction=validation_fraction)
    assert data.min_class_size(config) == need


def test_smallest_valid_class_splits_into_train_and_test(tmp_path):
    path = write(tmp_path, "ok.jsonl", jsonl(*examples("a", 6), *examples("b", 6)))
    config = DataConfig(source=str(path), transfer_corpora=[], augment_copies=0)
    summary = data.produce(config, 0, tmp_path, tmp_path / "cache")
    assert summary["examples"] == {"train": 8, "validation": 2, "test": 2}
    for split in ("train", "test"):
        labels = {r["label"] for r in data.read_jsonl(tmp_path / f"{split}.jsonl")}
        assert labels == {0, 1}


# 8. Encoding --------------------------------------------------------------------------------------

def test_non_utf8_names_line_and_byte(tmp_path):
    path = write(tmp_path, "l.tsv", "text\tlabel\nfine\ta\nna\xefve\tb\n".encode("latin-1"))
    # "text\tlabel\n" is 11 bytes, "fine\ta\n" 7, "na" 2: byte 20 is the 0xEF.
    assert error_of(path) == f"{path}:3: not UTF-8 text (byte 20 is invalid); save the file as UTF-8"


@pytest.mark.parametrize("name, content", [
    ("b.csv", "text,label\nhello,a\n"), ("b.tsv", "text\tlabel\nhello\ta\n"),
    ("b.jsonl", '{"text": "hello", "label": "a"}\n'),
])
def test_utf8_bom_is_skipped(tmp_path, name, content):
    path = write(tmp_path, name, b"\xef\xbb\xbf" + content.encode())
    assert read_user_file(path, "text", "label") == [("hello", "a")]


# 9. Paths that are not readable regular files ---------------------------------------------------------

def test_directory_and_missing_paths(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    assert error_of(tmp_path / "dir.csv") == f"data path {tmp_path / 'dir.csv'} is a directory, not a data file"
    assert error_of(tmp_path / "nope.csv") == f"data file not found: {tmp_path / 'nope.csv'}"
    assert error_of(tmp_path / "file.csv" / "below.csv") == f"data file not found: {tmp_path / 'file.csv' / 'below.csv'}"
    assert "File name too long" in error_of(tmp_path / ("x" * 300 + ".csv"))
    assert "embedded null byte" in error_of(Path("a\0b.csv"))


def test_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    # Opening a FIFO for reading blocks until a writer comes; a hang here fails by pytest's timeout.
    assert error_of(fifo) == f"data path {fifo} is not a regular file (a FIFO, socket or device?)"
    with pytest.raises(ToolchainError, match="not a regular file"):
        data.stage_inputs(DataConfig(source=str(fifo)))


def _unprivileged(function) -> str:
    """Runs function() as user nobody (root reads every file) and returns its error text."""
    if os.geteuid() != 0:
        try:
            function()
        except ToolchainError as exc:
            return f"error: {exc}"
        return "no error"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root, report through the pipe, never return into pytest
        message = "crash"
        try:
            os.setgid(65534)
            os.setuid(65534)
            function()
            message = "no error"
        except ToolchainError as exc:
            message = f"error: {exc}"
        except BaseException as exc:
            message = f"crash: {exc!r}"
        finally:
            os.write(write_end, message.encode("utf-8", "backslashreplace"))
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_unreadable_file_is_an_error():
    # A directory in /tmp (not pytest's 0700 tmp dir) so that only the file's own mode stops the read.
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o755)
        path = Path(directory) / "secret.csv"
        path.write_text("text,label\na,b\n")
        path.chmod(0)
        expected = f"error: cannot read data file {path}: permission denied"
        assert _unprivileged(lambda: read_user_file(path, "text", "label")) == expected
        # The data stage checks the path before hashing it into the stage key (build.run_data).
        assert _unprivileged(lambda: data.stage_inputs(DataConfig(source=str(path)))) == expected
        path.chmod(0o644)
        assert _unprivileged(lambda: read_user_file(path, "text", "label")) == "no error"


# 10. Large files are streamed --------------------------------------------------------------------

def _traced_error(path: Path, text_column="text") -> tuple[str, int]:
    tracemalloc.start()
    try:
        with pytest.raises(ToolchainError) as caught:
            read_examples(path, text_column, "label")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(caught.value), peak


FIFTY_MB = 50 * 1024 * 1024


def _big_file(path: Path, header: bytes, line: bytes) -> Path:
    with open(path, "wb") as handle:
        handle.write(header)
        block = line * (1024 * 1024 // len(line) + 1)
        while handle.tell() < FIFTY_MB:
            handle.write(block)
    return path


@pytest.mark.parametrize("name, header, line", [
    ("big.csv", b"sentence,label\n", b"a perfectly ordinary sentence of text,positive\n"),
    ("big.tsv", b"sentence\tlabel\n", b"a perfectly ordinary sentence of text\tpositive\n"),
    ("big.jsonl", b"", b'{"sentence": "a perfectly ordinary sentence of text", "label": "positive"}\n'),
])
def test_wrong_column_in_a_50_mb_file_stops_at_once(tmp_path, name, header, line):
    path = _big_file(tmp_path / name, header, line)
    try:
        message, peak = _traced_error(path)
        assert "no column 'text'" in message
        assert peak < 1024 * 1024, peak  # the file is 50 MB; reading it whole would trace > 50 MB
    finally:
        path.unlink()


def test_first_bad_line_of_a_50_mb_file_stops_the_read(tmp_path):
    good = b'{"text": "a perfectly ordinary sentence of text", "label": "positive"}\n'
    path = tmp_path / "bad.jsonl"
    with open(path, "wb") as handle:
        handle.write(good + b"{oops\n")
    with open(path, "ab") as handle:
        handle.write(good * (FIFTY_MB // len(good)))
    try:
        message, peak = _traced_error(path)
        assert message.startswith(f"{path}:2: invalid JSON")
        assert peak < 1024 * 1024, peak
    finally:
        path.unlink()


def test_50_mb_without_a_line_end_costs_one_line_of_memory(tmp_path):
    path = tmp_path / "oneline.tsv"
    with open(path, "wb") as handle:
        handle.write(b"x" * FIFTY_MB)
    try:
        message, peak = _traced_error(path)
        assert message == f"{path}:1: line longer than {MAX_LINE_BYTES:,} bytes"
        assert peak < 3 * MAX_LINE_BYTES, peak
    finally:
        path.unlink()


# Columns present in some JSONL records only; other reader details --------------------------------

def test_jsonl_record_without_the_column_is_an_error(tmp_path):
    path = write(tmp_path, "m.jsonl", TEN + jsonl({"text": "x", "labels": "a"}) + TEN)
    assert error_of(path) == f"{path}:11: no column 'label' in this record (its keys: 'text', 'labels')"
    path = write(tmp_path, "first.jsonl", jsonl({"sentence": "x", "label": "a"}))
    assert error_of(path) == f"{path}:1: no column 'text' in this record (its keys: 'sentence', 'label')"


@pytest.mark.parametrize("line, reason", [
    ("[" * 100_000 + "]" * 100_000, "maximum recursion depth exceeded"),
    ('{"text": "a", "label": ' + "9" * 5000 + "}", "Exceeds the limit (4300 digits)"),
    ("{oops", "Expecting property name enclosed in double quotes at column 2"),
    ('"a string"', None),
])
def test_jsonl_hostile_lines(tmp_path, line, reason):
    path = write(tmp_path, "h.jsonl", TEN + line + "\n")
    message = error_of(path)
    if reason is None:
        assert message == f"{path}:11: each line must be a JSON object, not a JSON string"
    else:
        assert message.startswith(f"{path}:11: invalid JSON (") and reason in message


def test_same_text_and_label_column_is_an_error(tmp_path):
    path = write(tmp_path, "same.csv", "text,label\na,b\n")
    assert error_of(path, "text", "text") == "the text and the label column are both 'text'"


def test_nul_in_a_csv_text_is_text(tmp_path):
    rows = read_user_file(write(tmp_path, "nul.csv", "text,label\na\0b,x\n"), "text", "label")
    assert rows == [("a\0b", "x")]


# Through the real CLI ------------------------------------------------------------------------------

def test_cli_tsv_with_quotes_keeps_every_row(tmp_path):
    texts = ['"opening quote only'] + [f"row {i} says \"hi\"" for i in range(1, 40)]
    content = "text\tlabel\n" + "".join(f"{t}\t{'ab'[i % 2]}\n" for i, t in enumerate(texts))
    path = write(tmp_path, "quotes.tsv", content)
    result = run(tmp_path, "data", "--data", str(path), "--augment-copies", "0", "--max-transfer", "1")
    assert result.returncode == 0, result.stderr
    data_dir = tmp_path / "build" / "t" / "data"
    written = [r["text"] for split in ("train", "validation", "test")
               for r in data.read_jsonl(data_dir / f"{split}.jsonl")]
    assert sorted(written) == sorted(texts)


def test_cli_reports_skipped_rows_and_canonical_labels(tmp_path):
    rows = [f"text {i},{['1', '01', ' 2', '2'][i % 4]}" for i in range(40)] + [",1", "  ,2"]
    path = write(tmp_path, "skip.csv", "text,label\n" + "\n".join(rows) + "\n")
    result = run(tmp_path, "data", "--data", str(path), "--augment-copies", "0", "--max-transfer", "1")
    assert result.returncode == 0, result.stderr
    data_dir = tmp_path / "build" / "t" / "data"
    assert json.loads((data_dir / "labels.json").read_text()) == ["1", "2"]
    summary = json.loads((data_dir / "stage.json").read_text())["summary"]
    assert summary["dropped"]["empty_text"] == 2
    assert summary["class_counts"] == {"1": 20, "2": 20}


def test_cli_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    result = run(tmp_path, "data", "--data", str(fifo))  # run() has a timeout: a hang fails
    assert_clean_failure(result, tmp_path, "is not a regular file")
