"""The pipeline on a tiny budget, through every stage: data, a real (tiny) DistilBERT teacher,
distillation, conversion, TFLite Micro verification, the report, and C emission compiled and run
against TFLM's golden vectors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import c_build
from conftest import ROOT

TINY = [
    "--name", "tiny", "--max-examples", "240", "--max-transfer", "60", "--augment-copies", "1",
    "--teacher-max-steps", "4", "--vocab-size", "2100", "--seq-len", "24", "--embedding-dim", "8",
    "--hidden-dim", "16", "--epochs", "2", "--finetune-epochs", "1", "--golden-count", "6",
]


def run_cli(tmp_path, *args):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TEXTCLF_NO_PROGRESS="1")
    return subprocess.run(
        [sys.executable, "-m", "toolchain", *args, "--build-dir", str(tmp_path / "build"),
         "--models-dir", str(tmp_path / "models")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=1200,
    )


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory, tiny_teacher):
    tmp_path = tmp_path_factory.mktemp("pipeline")
    result = run_cli(tmp_path, "build", *TINY, "--teacher", str(tiny_teacher))
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp_path, result


def test_every_stage_ran_and_published(tiny_build):
    tmp_path, result = tiny_build
    for stage in ("data", "teacher", "student", "convert", "verify"):
        stamp = json.loads((tmp_path / "build" / "tiny" / stage / "stage.json").read_text())
        assert stamp["key"]
    model_dir = tmp_path / "models" / "tiny"
    for name in ("student_fp32.tflite", "student_fp16.tflite", "student_int8.tflite", "vocab.txt",
                 "tokenizer.json", "goldens.json", "metrics.json", "report.md", "config.toml",
                 "plots/sizes.png", "plots/accuracy.png", "plots/confusion.png"):
        assert (model_dir / name).is_file(), name
    metrics = json.loads((model_dir / "metrics.json").read_text())
    sizes = metrics["sizes_bytes"]
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"] < sizes["teacher_checkpoint"]
    for stage in ("teacher", "float_student", "int8_tflite", "int8_tflm"):
        assert 0.0 <= metrics["accuracy_test"][stage] <= 1.0
    assert metrics["verify"]["arena_bytes"] > 0
    assert "vocab_size = 2100" in (model_dir / "config.toml").read_text()


def test_goldens_are_tflm_outputs(tiny_build):
    """Re-running TFLM on the saved golden ids gives the saved logits (the goldens are TFLM's)."""
    from toolchain import tflm

    tmp_path, _ = tiny_build
    model_dir = tmp_path / "models" / "tiny"
    goldens = json.loads((model_dir / "goldens.json").read_text())
    data = (model_dir / "student_int8.tflite").read_bytes()
    arena = json.loads((model_dir / "metrics.json").read_text())["verify"]["arena_bytes"]
    interpreter = tflm.TflmInterpreter(data, arena)
    assert len(goldens["vectors"]) >= 6
    for vector in goldens["vectors"]:
        (logits,) = interpreter.run([np.array([vector["ids"]], dtype=np.int32)])
        assert logits.reshape(-1).tolist() == vector["logits"]


def test_tokenizer_ids_match_the_saved_tokenizer(tiny_build):
    from toolchain import tokenizer

    tmp_path, _ = tiny_build
    model_dir = tmp_path / "models" / "tiny"
    tok = tokenizer.load(model_dir)
    vectors = json.loads((model_dir / "goldens.json").read_text())["vectors"]
    ids = tokenizer.encode(tok, [v["text"] for v in vectors])
    assert ids.tolist() == [v["ids"] for v in vectors]
    vocab = tokenizer.read_vocab_file(model_dir / "vocab.txt")
    assert len(vocab) == 2100 and vocab[:5] == list(tokenizer.SPECIAL_TOKENS)


def test_second_run_is_cached(tiny_build, tiny_teacher):
    tmp_path, _ = tiny_build
    result = run_cli(tmp_path, "build", *TINY, "--teacher", str(tiny_teacher))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("cached") == 6, result.stdout


def test_emitted_c_matches_tflm(tiny_build, tmp_path):
    """Emit the tiny model, compile the firmware's model test natively and run it."""
    from toolchain import emit

    build_dir, _ = tiny_build
    emission = emit.generate(build_dir / "models" / "tiny")
    lib_dir = tmp_path / "lib"
    emit.write(emission, lib_dir)
    assert emit.differences(emission, lib_dir) == []
    firmware = ROOT / "firmware"
    sources = sorted((firmware / "lib" / "textclf" / "src").rglob("*.c"))
    sources += sorted((lib_dir / "textclf_model" / "src").glob("*.c"))
    sources += [firmware / "lib" / "unit_harness" / "src" / "unit_harness.c",
                firmware / "test" / "test_model" / "test_main.c"]
    program = c_build.compile_program(
        sources, tmp_path / "test_model",
        include_dirs=[firmware / "lib" / "textclf" / "src", lib_dir / "textclf_model" / "src",
                      firmware / "lib" / "unit_harness" / "src"],
    )
    output = c_build.run_program(program).decode()
    assert ":FAIL" not in output, output
    vectors = len(json.loads((build_dir / "models" / "tiny" / "goldens.json").read_text())["vectors"])
    assert output.count(":PASS") == 3 * vectors


def test_three_class_user_data_end_to_end(tmp_path, tiny_teacher):
    """A user's JSONL file with three string labels goes all the way to C that matches TFLM."""
    from toolchain import data, emit

    rows = data.read_vader_corpus("rotten-tomatoes")[::35]  # the file is sorted by polarity
    labels = ["negative" if s < -1 else "positive" if s > 1 else "mixed" for _, s in rows]
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps({"sentence": t, "mood": y}) + "\n" for (t, _), y in zip(rows, labels)))
    result = run_cli(tmp_path, "build", *TINY[2:], "--name", "three", "--data", str(path),
                     "--text-column", "sentence", "--label-column", "mood", "--teacher", str(tiny_teacher))
    assert result.returncode == 0, result.stdout + result.stderr
    model_dir = tmp_path / "models" / "three"
    goldens = json.loads((model_dir / "goldens.json").read_text())
    assert goldens["labels"] == ["mixed", "negative", "positive"]
    assert all(len(v["logits"]) == 3 for v in goldens["vectors"])
    lib_dir = tmp_path / "lib"
    emit.write(emit.generate(model_dir), lib_dir)
    firmware = ROOT / "firmware"
    sources = sorted((firmware / "lib" / "textclf" / "src").rglob("*.c"))
    sources += sorted((lib_dir / "textclf_model" / "src").glob("*.c"))
    sources += [firmware / "lib" / "unit_harness" / "src" / "unit_harness.c",
                firmware / "test" / "test_model" / "test_main.c"]
    program = c_build.compile_program(
        sources, tmp_path / "test_model",
        include_dirs=[firmware / "lib" / "textclf" / "src", lib_dir / "textclf_model" / "src",
                      firmware / "lib" / "unit_harness" / "src"],
    )
    output = c_build.run_program(program).decode()
    assert ":FAIL" not in output, output
    assert output.count(":PASS") == 3 * len(goldens["vectors"])
