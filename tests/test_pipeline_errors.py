"""Bad input to the pipeline: one clear line, exit code 2, and nothing half-written."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


def run(tmp_path: Path, *args: str, env_extra=None):
    import os

    env = dict(os.environ, HF_HUB_OFFLINE="1", TEXTCLF_NO_PROGRESS="1")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "toolchain", *args, "--build-dir", str(tmp_path / "build"),
         "--models-dir", str(tmp_path / "models"), "--name", "t"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600,
    )


def assert_clean_failure(result, tmp_path: Path, expected: str):
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    leftovers = [p for p in (tmp_path / "build").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert not (tmp_path / "models" / "t").exists()


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.parametrize(
    "name, content, extra, expected",
    [
        ("missing.csv", None, [], "data file not found"),
        ("empty.csv", "", [], "the data file is empty"),
        ("columns.csv", "sentence,label\nfine,1\nbad,0\n", [], "no column 'text'"),
        ("one_class.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": "x"}\n', [],
         "only one class"),
        ("latin1.tsv", "text\tlabel\nna\xefve\tpos\n".encode("latin-1"), [], "not UTF-8"),
        ("bad.jsonl", '{"text": "a", "label": 1}\n{oops\n', [], "invalid JSON"),
        ("data.xml", "<a/>", [], "unknown data format"),
        ("renamed.csv", "review,stars\ngood,5\nbad,1\n", ["--text-column", "review", "--label-column", "score"],
         "no column 'score'"),
        # Each used to be a traceback, a silent misreading, or "too few examples" (tests/test_data_readers.py).
        ("mac.csv", "text,label\rgood,pos\rbad,neg\r", [], "lines end in a bare carriage return"),
        ("surrogate.jsonl", '{"text": "a \\ud800", "label": "x"}\n', [], "lone UTF-16 surrogate"),
        ("number.jsonl", '{"text": 5, "label": "x"}\n', [], ":1: the text is a JSON integer; it must be a string"),
        ("float.jsonl", '{"text": "a", "label": 1.0}\n', [], "use an integer or a string"),
        ("newline.jsonl", '{"text": "a", "label": "x\\ny"}\n', [], "holds a control character or line break"),
        ("duplicate.csv", "text,label,text\na,b,c\n", [], "the header names column 'text' 2 times"),
        ("fields.tsv", "text\tlabel\na\tb\tc\n", [], ":2: 3 fields, but the header has 2"),
        ("partial.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"}\n', [], ":2: no column 'label' in this record"),
        ("header.csv", "text,label\n", [], "no examples (the file has a header but no rows)"),
        ("rare.jsonl", "".join(f'{{"text": "t{i}", "label": "{"rare" if i < 3 else "common"}"}}\n' for i in range(40)),
         [], "class 'rare' has 3 example(s)"),
    ],
)
def test_bad_data_files(tmp_path, name, content, extra, expected):
    path = tmp_path / name
    if content is not None:
        write(tmp_path, name, content)
    result = run(tmp_path, "data", "--data", str(path), *extra)
    assert_clean_failure(result, tmp_path, expected)


def test_data_path_is_a_directory(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    result = run(tmp_path, "data", "--data", str(tmp_path / "folder.csv"))
    assert_clean_failure(result, tmp_path, "is a directory, not a data file")


def test_user_data_with_string_and_integer_labels(tmp_path):
    rows = [{"text": f"sentence number {i}", "label": ["red", "green", "blue"][i % 3]} for i in range(60)]
    path = write(tmp_path, "colors.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = run(tmp_path, "data", "--data", str(path), "--augment-copies", "1")
    assert result.returncode == 0, result.stderr
    data_dir = tmp_path / "build" / "t" / "data"
    assert json.loads((data_dir / "labels.json").read_text()) == ["blue", "green", "red"]
    split = [json.loads(line) for line in (data_dir / "train.jsonl").read_text().splitlines()]
    assert {r["label"] for r in split} == {0, 1, 2}
    # Integer labels keep numeric order.
    csv = "text,label\n" + "".join(f"text {i},{[10, 2, 7][i % 3]}\n" for i in range(30))
    result = run(tmp_path, "data", "--data", str(write(tmp_path, "ints.csv", csv)))
    assert result.returncode == 0, result.stderr
    assert json.loads((data_dir / "labels.json").read_text()) == ["2", "7", "10"]


def test_unknown_teacher_offline(tmp_path):
    result = run(tmp_path, "teacher", "--max-examples", "60", "--max-transfer", "10",
                 "--teacher", "no-such-org/no-such-model")
    assert_clean_failure(result, tmp_path, "cannot load teacher 'no-such-org/no-such-model'")


def test_vocab_smaller_than_alphabet(tmp_path, tiny_teacher):
    result = run(tmp_path, "distill", "--max-examples", "60", "--max-transfer", "10",
                 "--teacher", str(tiny_teacher), "--teacher-max-steps", "1", "--vocab-size", "500")
    assert_clean_failure(result, tmp_path, "vocab size 500 is smaller than the alphabet")


def test_teacher_without_wordpiece(tmp_path, bpe_teacher):
    result = run(tmp_path, "teacher", "--max-examples", "60", "--max-transfer", "10",
                 "--teacher", str(bpe_teacher))
    assert_clean_failure(result, tmp_path, "uses a BPE tokenizer")


def test_label_missing_from_fine_tuned_teacher(tmp_path, tiny_teacher_labelled):
    result = run(tmp_path, "teacher", "--max-examples", "60", "--max-transfer", "10",
                 "--teacher", str(tiny_teacher_labelled))
    assert_clean_failure(result, tmp_path, "label 'negative' of the data is missing from the model")


def test_bad_config_file(tmp_path):
    config = write(tmp_path, "bad.toml", "[student]\nvocab_size = 'big'\n")
    result = run(tmp_path, "data", "--config", str(config))
    assert_clean_failure(result, tmp_path, "student.vocab_size must be int")
    config = write(tmp_path, "unknown.toml", "[student]\nwidth = 3\n")
    result = run(tmp_path, "data", "--config", str(config))
    assert_clean_failure(result, tmp_path, "unknown setting student.width")


@pytest.mark.parametrize("flags, expected", [
    (["--vocab-sizes", "7600,x"], "--vocab-sizes: '7600,x' is not a comma-separated list of int values"),
    (["--architectures", "cnn,lstm"], "student.architecture 'lstm' is not one of"),
    (["--embedding-bits-options", "3,9"], "student.embedding_bits must be between 1 and 7"),
    (["--jobs", "0"], "--jobs must be at least 1"),
])
def test_bad_search_space_before_any_stage(tmp_path, flags, expected):
    result = run(tmp_path, "search", "--target", "qemu_m4", *flags)
    assert_clean_failure(result, tmp_path, expected)
