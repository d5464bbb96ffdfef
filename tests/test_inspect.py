"""`toolchain inspect` on real converted models and on corrupted bytes."""
import json
import random
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from toolchain import cli, model_info, tflm
from toolchain.errors import ToolchainError


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "toolchain", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_int8_model_report(tiny_models):
    report = model_info.describe(tiny_models["int8"])
    assert report["fully_integer"] is True
    assert {o["op"]: o["count"] for o in report["operators"]} == {
        "GATHER": 1, "MEAN": 1, "FULLY_CONNECTED": 2,
    }
    (ids,) = report["inputs"]
    assert ids["dtype"] == "int32" and ids["shape"] == [1, 16]
    (logits,) = report["outputs"]
    assert logits["dtype"] == "int8" and logits["shape"] == [1, 3]
    assert isinstance(logits["scale"], float) and -128 <= logits["zero_point"] <= 127
    # Embedding table 100 x 8 int8 plus per-channel FC weights are constants.
    assert report["constant_bytes"] >= 100 * 8 + 8 * 8 + 3 * 8
    fc_weights = [t for t in report["tensors"] if t["constant"] and t["shape"] == [8, 8]]
    assert fc_weights and len(fc_weights[0]["scale"]) == 8  # per-channel


def test_measured_arena_is_the_minimum(tiny_models):
    data = tiny_models["int8"].read_bytes()
    report = model_info.describe(tiny_models["int8"])
    arena = report["tflm"]["arena_bytes"]
    specs = model_info.input_specs(__import__("toolchain.flatbuffer").flatbuffer.parse_model(data))
    with tflm._Prober(data, specs) as prober:
        assert prober.probe(arena)[0] is True
        assert prober.probe(arena - tflm.ARENA_STEP)[0] is False
    # The in-process interpreter runs with that arena and gives int8 logits.
    (out,) = tflm.TflmInterpreter(data, arena).run([np.zeros((1, 16), np.int32)])
    assert out.dtype == np.int8 and out.shape == (1, 3)


def test_float_model_is_not_fully_integer(tiny_models):
    report = model_info.describe(tiny_models["float"], measure=False)
    assert report["fully_integer"] is False
    assert report["float_tensors"]
    assert report["outputs"][0]["dtype"] == "float32"


def test_cli_text_and_json(tiny_models):
    text = run_cli("inspect", str(tiny_models["int8"]))
    assert text.returncode == 0, text.stderr
    assert "FULLY_CONNECTED" in text.stdout and "fully integer" in text.stdout
    assert "minimum arena" in text.stdout
    as_json = run_cli("inspect", "--json", str(tiny_models["int8"]))
    assert as_json.returncode == 0
    parsed = json.loads(as_json.stdout)
    assert parsed["tflm"]["arena_bytes"] > 0 and parsed["fully_integer"] is True


def test_op_without_tflm_kernel_is_named(tiny_models):
    result = run_cli("inspect", str(tiny_models["gelu"]))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: TFLite Micro has no kernel for operator GELU"
    assert "Traceback" not in result.stderr


def _corruptions(data: bytes):
    rng = random.Random(7)
    flipped = bytearray(data)
    flipped[4:8] = b"TFL4"
    scrambled = bytearray(data)
    scrambled[8:] = bytes(rng.randrange(256) for _ in range(len(data) - 8))
    yield "empty", b"", "only 0 bytes"
    yield "truncated_header", data[:6], "only 6 bytes"
    for cut in (12, len(data) // 3, len(data) // 2, len(data) - 9):
        yield f"truncated_{cut}", data[:cut], "corrupt or truncated"
    yield "flipped_identifier", bytes(flipped), "file identifier is b'TFL4'"
    yield "random", bytes(rng.randrange(256) for _ in range(4000)), "not a TFLite model"
    yield "random_after_identifier", bytes(scrambled), "corrupt or truncated"


def test_corrupt_files_fail_with_one_line(tiny_models, tmp_path):
    data = tiny_models["int8"].read_bytes()
    for name, payload, expected in _corruptions(data):
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(payload)
        with pytest.raises(ToolchainError) as info:
            model_info.describe(path)
        message = str(info.value)
        assert expected in message, (name, message)
        assert "\n" not in message


def test_cli_bad_files_exit_2_without_traceback(tiny_models, tmp_path):
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(tiny_models["int8"].read_bytes()[:500])
    for target in (tmp_path / "missing.tflite", truncated, tmp_path):
        result = run_cli("inspect", str(target))
        assert result.returncode == 2, target
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
        assert result.stdout == ""


def test_main_returns_2_for_missing_file(tmp_path, capsys):
    assert cli.main(["inspect", str(tmp_path / "nope.tflite")]) == 2
    assert "model file not found" in capsys.readouterr().err
