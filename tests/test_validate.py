"""`textclf validate`: the firmware built for an offline env (or reached over a serial port) runs the
model over labelled texts, and every int8 logit and token id agrees with the workstation (TFLM
and the Python tokenizer); the serial protocol's handshake guards against another model on the
device; a dead device, bad data or a bad port is one `error:` line and nothing written."""
import contextlib
import json
import os
import pty
import subprocess
import tty
from pathlib import Path

import pytest
from conftest import ROOT, textclf

from toolchain import validate

MODEL = ROOT / "models" / "default"


@pytest.fixture(scope="module")
def golden_data(tmp_path_factory) -> Path:
    """The default model's golden test sentences with their true labels, as a user's JSONL file."""
    goldens = json.loads((MODEL / "goldens.json").read_text())
    labels = goldens["labels"]
    rows = [{"text": v["text"], "label": labels[v["true_label"]]} for v in goldens["vectors"]
            if v["true_label"] is not None]
    path = tmp_path_factory.mktemp("data") / "goldens.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """A copy of the default model directory (validate writes its report into the model)."""
    import shutil

    copy = tmp_path / "default"
    shutil.copytree(MODEL, copy)
    return copy


def _validate(model_dir: Path, *args, **kwargs):
    return textclf("validate", "--model", model_dir, *args, **kwargs)


def test_protocol_lines_parse():
    handshake = validate.parse_handshake("H textclf-protocol=1 model=my%20model sha256=ab backend=compiled "
                                         "core=host clock_hz=0 mode=protocol labels=2 sequence=64 unit=us")
    assert handshake.version == 1 and handshake.sha256 == "ab" and handshake.fields["mode"] == "protocol"
    reply = validate.parse_reply("R 1 9 40125 -122,122 1a2b3c4d", 2)
    assert (reply.label, reply.tokens, reply.cost, reply.logits, reply.ids_crc) == (1, 9, 40125, [-122, 122], 0x1A2B3C4D)
    assert validate.parse_reply("E 1 line-too-long", 2).error == "1 line-too-long"
    assert validate.parse_reply("label=positive scores=...", 2) is None
    assert validate.parse_reply("R 1 9 40125 -122 1a2b3c4d", 2) is None  # too few logits


@pytest.mark.slow
def test_validate_native_agrees_with_tflm_bit_for_bit(model_copy, golden_data, tmp_path):
    result = _validate(model_copy, "--env", "native", "--data", golden_data,
                       cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((model_copy / "validation.json").read_text())
    assert report["texts"] == 40
    assert report["logits_equal_tflm"] == 40 and report["token_ids_equal_python"] == 40
    assert report["accuracy_device"] == report["accuracy_tflm"]
    assert report["device"]["core"] == "host" and report["cost_unit"] == "us"
    assert set(report["classification_device"]["per_class"]) == {"negative", "positive"}
    assert (model_copy / "plots" / "validation.png").is_file()
    assert "int8 logits equal to TFLM's: 40 of 40" in result.stdout


@pytest.mark.slow
@pytest.mark.qemu
def test_validate_on_cortex_m4_in_qemu_counts_instructions(model_copy, golden_data, tmp_path):
    result = _validate(model_copy, "--env", "qemu_m4", "--data", golden_data, "--limit", "12",
                       cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((model_copy / "validation.json").read_text())
    assert report["logits_equal_tflm"] == 12 and report["token_ids_equal_python"] == 12
    assert report["device"]["core"] == "cortex-m4" and report["cost_unit"] == "instructions"
    assert 100_000 < report["cost"]["mean"] < 2_000_000


@pytest.fixture(scope="module")
def native_firmware(tmp_path_factory) -> Path:
    """The default model's firmware for this machine (what a board would run)."""
    from toolchain import emit

    work = tmp_path_factory.mktemp("firmware")
    (command,) = validate.build_firmware(emit.read_model_dir(MODEL), "native", work)
    return Path(command)


@contextlib.contextmanager
def board_on_pty(program: Path | None):
    """A serial port whose other end is `program` (a board running the firmware), or nobody (a
    dead board): yields the port's device path for pyserial."""
    controller, port = pty.openpty()
    tty.setraw(port)
    tty.setraw(controller)
    process = None
    if program is not None:
        process = subprocess.Popen([str(program)], stdin=controller, stdout=controller, stderr=subprocess.DEVNULL)
    try:
        yield os.ttyname(port)
    finally:
        if process is not None:
            process.kill()
            process.wait()
        os.close(controller)
        os.close(port)


@pytest.mark.slow
def test_validate_over_a_serial_port(native_firmware, model_copy, golden_data, tmp_path):
    """pyserial on a pseudo-terminal the firmware sits on, as a board sits on a USB serial port."""
    with board_on_pty(native_firmware) as port:
        result = _validate(model_copy, "--port", port, "--data", golden_data, "--limit", "8", "--timeout", "30",
                           cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((model_copy / "validation.json").read_text())
    assert report["logits_equal_tflm"] == 8 and report["token_ids_equal_python"] == 8


@pytest.mark.slow
def test_a_device_running_another_model_is_refused(native_firmware, tiny_build, golden_data, tmp_path):
    other = tiny_build[0] / "models" / "tiny"
    with board_on_pty(native_firmware) as port:
        result = _validate(other, "--port", port, "--data", golden_data, "--timeout", "30", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: the device runs another model") and result.stderr.count("\n") == 1
    assert not (other / "validation.json").exists()


def test_a_silent_device_is_an_error_after_the_timeout(model_copy, golden_data, tmp_path):
    with board_on_pty(None) as port:
        result = _validate(model_copy, "--port", port, "--data", golden_data, "--timeout", "2", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: the device sent no textclf handshake within 2 s (is the textclf " \
                                    "firmware running on it?)"
    assert not (model_copy / "validation.json").exists()


def test_a_port_that_does_not_exist(model_copy, golden_data, tmp_path):
    result = _validate(model_copy, "--port", tmp_path / "ttyNOPE", "--data", golden_data, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("error: cannot open serial port")


def test_data_with_labels_the_model_lacks(model_copy, tmp_path):
    data = tmp_path / "three.jsonl"
    data.write_text('{"text": "fine", "label": "neutral"}\n{"text": "good", "label": "positive"}\n')
    result = _validate(model_copy, "--env", "native", "--data", data, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {data}: label 'neutral' is not one of the model's labels (negative, positive)"


def test_env_and_port_are_exclusive(model_copy, golden_data, tmp_path):
    result = _validate(model_copy, "--data", golden_data, cwd=tmp_path)
    assert result.returncode == 2 and "give --env ENV or --port DEVICE" in result.stderr
