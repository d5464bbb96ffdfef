"""The pipeline on a tiny budget, through every stage: data, a real (tiny) DistilBERT teacher,
distillation, conversion, TFLite Micro verification, the report; then the export compiled and run
against TFLM's golden vectors."""
import json

import numpy as np
import pytest
from conftest import TINY, run_cli

from toolchain import export

pytestmark = pytest.mark.slow


def test_every_stage_ran_and_published(tiny_build):
    project, _ = tiny_build
    for stage in ("data", "teacher", "distill", "convert", "verify"):
        stamp = json.loads((project / "build" / "tiny" / stage / "stage.json").read_text())
        assert stamp["key"]
    model_dir = project / "models" / "tiny"
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
    assert (model_dir.stat().st_mode & 0o777) == 0o755  # published like mkdir, not mkdtemp's 0700


def test_goldens_are_tflm_outputs(tiny_build):
    """Re-running TFLM on the saved golden ids gives the saved logits (the goldens are TFLM's)."""
    from toolchain import tflm

    project, _ = tiny_build
    model_dir = project / "models" / "tiny"
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

    project, _ = tiny_build
    model_dir = project / "models" / "tiny"
    tok = tokenizer.load(model_dir)
    vectors = json.loads((model_dir / "goldens.json").read_text())["vectors"]
    ids = tokenizer.encode(tok, [v["text"] for v in vectors])
    assert ids.tolist() == [v["ids"] for v in vectors]
    vocab = tokenizer.read_vocab_file(model_dir / "vocab.txt")
    assert len(vocab) == 2100 and vocab[:5] == list(tokenizer.SPECIAL_TOKENS)


def test_second_run_is_cached(tiny_build, tiny_teacher):
    project, _ = tiny_build
    result = run_cli(project, "build", "--name", "tiny", *TINY, "--teacher", str(tiny_teacher))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("cached") == 6, result.stdout


def test_moved_project_reuses_its_cache(tiny_build, tiny_teacher, tmp_path):
    """Stage keys hash content, not paths: a copied project is up to date where it lands."""
    import shutil

    project, _ = tiny_build
    moved = tmp_path / "elsewhere"
    shutil.copytree(project, moved, symlinks=True)
    result = run_cli(moved, "build", "--name", "tiny", *TINY, "--teacher", str(tiny_teacher))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("cached") == 6, result.stdout


@pytest.mark.parametrize("fixture", ["tiny_build", "three_class_model"])
def test_export_reproduces_the_goldens(fixture, request, tmp_path):
    """Both models exported (the self-check compiles the C and replays every golden vector on this
    machine); the three-class user model keeps its labels."""
    value = request.getfixturevalue(fixture)
    model_dir = value[0] / "models" / "tiny" if fixture == "tiny_build" else value
    prepared = export.prepare(export.ExportRequest(model_dir, tmp_path / "lib", prefix="mood"))
    assert export.verify(prepared) == len(prepared.library.model.goldens) >= 6
    if fixture == "three_class_model":
        assert prepared.library.model.labels == ["mixed", "negative", "positive"]


def test_clustered_embedding_ships_lut_compressed(tiny_build, tiny_teacher, tmp_path):
    """--embedding-bits 3 per column: the student's table is clustered in training, the INT8 model
    carries it in TFLite Micro's LUT form (3-bit indices, one 8-value table per column), TFLM
    verifies it, and the compiled C replays TFLM's goldens."""
    from toolchain import compression, flatbuffer

    project, _ = tiny_build
    result = run_cli(project, "build", "--name", "tiny_lut", *TINY, "--embedding-bits", "3",
                     "--embedding-lut", "per_channel", "--cluster-epochs", "1", "--teacher", str(tiny_teacher))
    assert result.returncode == 0, result.stdout + result.stderr
    model_dir = project / "models" / "tiny_lut"
    (lut,) = compression.read(flatbuffer.read_model(model_dir / "student_int8.tflite"))
    assert (lut.bit_width, lut.channels, lut.channel_axis, lut.shape) == (3, 8, 1, (2100, 8))
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["sizes_bytes"]["int8"] < metrics["sizes_bytes"]["int8_uncompressed"] - 2100 * 8 // 2
    prepared = export.prepare(export.ExportRequest(model_dir, tmp_path / "lib", prefix="lut"))
    assert export.verify(prepared) == len(prepared.library.model.goldens) >= 6
