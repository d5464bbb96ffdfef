"""`textclf validate`: the model on the device itself, over a whole test split.

The device runs the firmware app (toolchain/device/app) with the model exported under the prefix
`classifier`, and speaks its serial protocol (app.h; README "Serial protocol"): a handshake line
naming the model's .tflite hash, then one result line per text line. Two ways to reach it:

  --env ENV    this package builds the firmware for an offline env (native, qemu_m0, qemu_m3,
               qemu_m4, qemu_m7, qemu_rv32) with PlatformIO in a scratch project and runs it;
  --port DEV   a board already flashed with the firmware, over a serial port (pyserial).

The workstation side runs the same texts through the Python tokenizer and the official TFLite
Micro interpreter (pip tflite-micro). The report: accuracy on the device with per-class precision,
recall and F1; int8 logits equal to TFLM's for N of N texts (mismatches listed with their text);
token ids equal to the Python tokenizer's (CRC-32 of the ids); instructions or microseconds per
text (mean, p50, p99, max, and per token). It writes validation.json and plots/validation.png into
the model directory. Any failure (a dead or silent device, another model on it, data with labels
the model lacks) is one `error:` line, exit 2, and nothing written.
"""
from __future__ import annotations

import json
import re
import selectors
import shutil
import subprocess
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolchain import atomic, emit, evaluation, export, platformio, tflm
from toolchain import tokenizer as wordpiece
from toolchain.errors import ToolchainError
from toolchain.progress import progress
from toolchain.resources import device_dir

PROTOCOL_VERSION = 1
PREFIX = "classifier"  # the app links the model library of this prefix
COMMAND_PROTOCOL = b"\x01protocol\n"
BOOT_TIMEOUT_S = 120.0  # QEMU boots and a board resets on open within this
LINE_TIMEOUT_S = 60.0
OFFLINE_ENVS = {
    "native": ("host", None),
    "qemu_m0": ("qemu_arm", "microbit_nrf51"),
    "qemu_m3": ("qemu_arm", "mps2_an385"),
    "qemu_m4": ("qemu_arm", "mps2_an386"),
    "qemu_m7": ("qemu_arm", "mps2_an500"),
    "qemu_rv32": ("qemu_riscv", "qemu_virt_rv32"),
}
_HANDSHAKE = re.compile(r"^H textclf-protocol=(\d+) (.*)$")


@dataclass(frozen=True)
class Handshake:
    version: int
    fields: dict[str, str]

    @property
    def sha256(self) -> str:
        return self.fields.get("sha256", "")


@dataclass
class Reply:
    """One result line: label, token count, cost, int8 logits and the CRC-32 of the ids; or an
    error code and reason."""

    label: int = -1
    tokens: int = 0
    cost: int = 0
    logits: list[int] = field(default_factory=list)
    ids_crc: int = -1
    error: str | None = None


def parse_handshake(line: str) -> Handshake | None:
    match = _HANDSHAKE.match(line.strip())
    if not match:
        return None
    fields = dict(item.split("=", 1) for item in match.group(2).split() if "=" in item)
    return Handshake(int(match.group(1)), fields)


def parse_reply(line: str, num_labels: int) -> Reply | None:
    parts = line.strip().split(" ")
    try:
        if parts[0] == "R" and len(parts) == 6:
            logits = [int(v) for v in parts[4].split(",")]
            if len(logits) == num_labels:
                return Reply(int(parts[1]), int(parts[2]), int(parts[3]), logits, int(parts[5], 16))
        if parts[0] == "E" and len(parts) >= 3:
            return Reply(error=f"{parts[1]} {' '.join(parts[2:])}")
    except ValueError:
        return None
    return None


def ids_crc32(ids: np.ndarray) -> int:
    return zlib.crc32(np.asarray(ids, dtype="<i4").tobytes())


# ---------------------------------------------------------------------------------- devices


class ProgramDevice:
    """The firmware as a local program (natively, or the launcher that runs it in QEMU), on pipes."""

    def __init__(self, command: list[str]):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.process.stdout, selectors.EVENT_READ)
        self._buffer = b""

    def write(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def write_all_then_close(self, lines: list[bytes]) -> None:
        """Feeds every line in the background (the device answers while we write)."""
        def feed():
            try:
                for line in lines:
                    self.process.stdin.write(line)
                self.process.stdin.close()
            except (BrokenPipeError, ValueError):
                pass

        threading.Thread(target=feed, daemon=True).start()

    def read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                return None
            chunk = self.process.stdout.read1(65536)
            if not chunk:
                return None  # the program ended
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class SerialDevice:
    """A board on a serial port (pyserial): the firmware's protocol over the UART / USB CDC."""

    def __init__(self, port: str, baud: int):
        import serial

        try:
            self.port = serial.Serial(port, baud, timeout=0.2, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ToolchainError(f"cannot open serial port {port}: {exc}") from None
        self._buffer = b""

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if time.monotonic() > deadline:
                return None
            self._buffer += self.port.read(self.port.in_waiting or 1)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode("utf-8", "replace").rstrip("\r")

    def close(self) -> None:
        self.port.close()


def _await_handshake(device, timeout: float) -> Handshake:
    """Asks for the protocol and returns the handshake that confirms it. A handshake of a device
    still in its human console (printed at boot, perhaps after our request was lost to a reset) is
    answered by asking again."""
    deadline = time.monotonic() + timeout
    device.write(COMMAND_PROTOCOL)
    while time.monotonic() < deadline:
        line = device.read_line(deadline - time.monotonic())
        if line is None:
            break
        handshake = parse_handshake(line)
        if handshake is None:
            continue
        if handshake.fields.get("mode") == "protocol":
            return handshake
        device.write(COMMAND_PROTOCOL)
    raise ToolchainError(f"the device sent no textclf handshake within {timeout:.0f} s "
                         "(is the textclf firmware running on it?)")


def _check_handshake(handshake: Handshake, model: emit.ModelDir) -> None:
    if handshake.version != PROTOCOL_VERSION:
        raise ToolchainError(f"the device speaks textclf protocol {handshake.version}; this textclf speaks "
                             f"{PROTOCOL_VERSION}")
    if handshake.sha256 != model.sha256:
        raise ToolchainError(
            f"the device runs another model (sha256 {handshake.sha256[:12]}..., model name "
            f"{handshake.fields.get('model', '?')}); {model.path} is {model.sha256[:12]}..."
        )


# ---------------------------------------------------------------------------- the firmware


def build_firmware(model: emit.ModelDir, env: str, work: Path) -> list[str]:
    """The firmware app with this model, built by PlatformIO for an offline env in a scratch
    project under `work`; returns the command that runs it (the host program or QEMU's launcher)."""
    if env not in OFFLINE_ENVS:
        raise ToolchainError(f"--env {env!r} is not an env this package builds offline "
                             f"({', '.join(OFFLINE_ENVS)}); for a board, flash the firmware and use --port")
    platform, board = OFFLINE_ENVS[env]
    project = work / "firmware"
    request = export.ExportRequest(model.path, project / "lib", prefix=PREFIX, verify=False)
    prepared = export.prepare(request)
    if export.differences(prepared, request):
        export.write(prepared, request)
    source = project / "src"
    source.mkdir(parents=True, exist_ok=True)
    for path in sorted((device_dir() / "app").iterdir()):
        if path.suffix in (".c", ".h"):
            shutil.copy(path, source / path.name)
    from toolchain.emit.render import environment

    ini = environment().get_template("firmware/platformio.ini.j2").render(
        env=env, platform=device_dir() / "platforms" / platform, board=board, boards=device_dir() / "boards")
    (project / "platformio.ini").write_text(ini)
    result = platformio.run_pio("run", "-e", env, project_dir=project, timeout=1800)
    if result.returncode != 0:
        tail = [line for line in (result.stdout + result.stderr).splitlines() if "error" in line.lower()]
        raise ToolchainError(f"the firmware for {env} did not build: {tail[-1] if tail else 'see `pio run`'}")
    return [str(project / ".pio" / "build" / env / "program")]


# ------------------------------------------------------------------------------------ data


def read_texts(model: emit.ModelDir, data: Path | None) -> tuple[list[str], np.ndarray, str]:
    """(texts, label indices, where from): --data FILE (text and label columns), or the test split
    of the build that made the model (its config.toml says where)."""
    from toolchain import readers

    if data is None:
        data = _test_split(model)
    if data.suffix == ".jsonl" and (data.parent / "labels.json").is_file() and data.parent.name == "data":
        names = json.loads((data.parent / "labels.json").read_text())
        rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
        pairs = [(row["text"], names[row["label"]]) for row in rows]
    else:
        pairs, _ = readers.read_examples(data, "text", "label")
    index = {label: k for k, label in enumerate(model.labels)}
    missing = sorted({str(label) for _, label in pairs if str(label) not in index})
    if missing:
        raise ToolchainError(f"{data}: label {missing[0]!r} is not one of the model's labels "
                             f"({', '.join(model.labels)})")
    if not pairs:
        raise ToolchainError(f"{data}: no examples")
    return [text for text, _ in pairs], np.array([index[str(label)] for _, label in pairs]), str(data)


def _test_split(model: emit.ModelDir) -> Path:
    import tomllib

    try:
        config = tomllib.loads((model.path / "config.toml").read_text(encoding="utf-8"))
        name, build_dir = str(config["name"]), str(config.get("build_dir", "build"))
    except (OSError, ValueError, KeyError, TypeError):
        raise ToolchainError(f"{model.path}: no config.toml to find its test split; pass --data FILE") from None
    split = Path(build_dir) / name / "data" / "test.jsonl"
    if not split.is_file():
        raise ToolchainError(f"the test split of {model.path} is not at {split} (run `textclf build` or pass --data)")
    return split


# ---------------------------------------------------------------------------------- the run


def validate(model_dir: Path, env: str | None, port: str | None, baud: int, data: Path | None,
             limit: int | None, work: Path) -> dict:
    if (env is None) == (port is None):
        raise ToolchainError("give --env ENV or --port DEVICE (one of them)")
    model = emit.read_model_dir(model_dir)
    texts, truth, source = read_texts(model, data)
    if limit is not None:
        if limit < 1:
            raise ToolchainError("--limit must be at least 1")
        texts, truth = texts[:limit], truth[:limit]
    # One line per text: the protocol is line-based; a text's own line breaks become spaces.
    texts = [re.sub(r"[\r\n]", " ", text) for text in texts]

    tokenizer = wordpiece.load(model.path)
    ids = wordpiece.encode(tokenizer, texts)
    interpreter = tflm.TflmInterpreter(model.tflite.data, model.arena_measured)
    expected = [np.asarray(interpreter.run([row[np.newaxis, :]])[0]).reshape(-1) for row in ids]

    device = (ProgramDevice(build_firmware(model, env, work)) if env else SerialDevice(port, baud))
    try:
        handshake = _await_handshake(device, BOOT_TIMEOUT_S)
        _check_handshake(handshake, model)
        line_bytes = int(handshake.fields.get("line_bytes", "1024"))
        replies = _exchange(device, texts, len(model.labels), line_bytes)
    finally:
        device.close()
    return _report(model, handshake, texts, truth, ids, expected, replies, source)


def _exchange(device, texts: list[str], num_labels: int, line_bytes: int) -> list[Reply]:
    lines = [text.encode("utf-8") + b"\n" for text in texts]
    for text, line in zip(texts, lines):
        if len(line) - 1 > line_bytes:
            raise ToolchainError(f"a text of {len(line) - 1} bytes is longer than the device's {line_bytes}-byte "
                                 f"lines: {text[:40]!r}...")
    replies = []
    streamed = isinstance(device, ProgramDevice)
    if streamed:
        device.write_all_then_close(lines)
    with progress(total=len(texts), desc="validate", unit="text") as bar:
        for index, line in enumerate(lines):
            if not streamed:
                device.write(line)
            reply = None
            while reply is None:
                received = device.read_line(LINE_TIMEOUT_S)
                if received is None:
                    raise ToolchainError(f"the device stopped answering after {index} of {len(texts)} texts "
                                         f"(no reply within {LINE_TIMEOUT_S:.0f} s)")
                reply = parse_reply(received, num_labels)
            if reply.error is not None:
                raise ToolchainError(f"the device answered text {index + 1} ({texts[index][:40]!r}) with error "
                                     f"{reply.error}")
            replies.append(reply)
            bar.update(1)
    return replies


def _report(model, handshake, texts, truth, ids, expected, replies, source) -> dict:
    labels = model.labels
    predicted = np.array([r.label for r in replies])
    logits_equal = [np.array_equal(np.asarray(r.logits, dtype=np.int8), e) for r, e in zip(replies, expected)]
    ids_equal = [r.ids_crc == ids_crc32(row) for r, row in zip(replies, ids)]
    costs = [r.cost for r in replies]
    tokens = [r.tokens for r in replies]
    mismatches = [{"text": texts[i], "device": replies[i].logits, "tflm": expected[i].tolist()}
                  for i, same in enumerate(logits_equal) if not same]
    figures = evaluation.classification(truth, predicted, labels)
    tflm_predicted = np.array([int(np.argmax(e)) for e in expected])
    return {
        "model": model.name,
        "model_sha256": model.sha256,
        "device": handshake.fields,
        "data": source,
        "texts": len(texts),
        "accuracy_device": figures["accuracy"],
        "accuracy_tflm": float((tflm_predicted == truth).mean()),
        "classification_device": figures,
        "logits_equal_tflm": int(sum(logits_equal)),
        "token_ids_equal_python": int(sum(ids_equal)),
        "mismatches": mismatches[:50],
        "cost_unit": handshake.fields.get("unit", "?"),
        "cost": evaluation.distribution(costs),
        "cost_per_token": evaluation.distribution([c / t for c, t in zip(costs, tokens) if t]),
        "tokens": evaluation.distribution(tokens),
        "per_text": [{"tokens": t, "cost": c} for t, c in zip(tokens, costs)],
    }


def write_report(model_dir: Path, report: dict) -> list[Path]:
    """validation.json and plots/validation.png in the model directory, each written atomically."""
    import os
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    target = model_dir / "validation.json"
    fd, tmp = tempfile.mkstemp(prefix=".validation.", suffix=".tmp", dir=model_dir)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, target)
    written.append(target)
    plots = model_dir / "plots"
    plots.mkdir(exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 4))
    per_text = report["per_text"]
    axes.scatter([p["tokens"] for p in per_text], [p["cost"] for p in per_text], s=6, alpha=0.5)
    axes.set_xlabel("tokens ([CLS] and [SEP] included)")
    axes.set_ylabel(f"{report['cost_unit']} per text")
    core = report["device"].get("core", "?")
    axes.set_title(f"{report['model']} on {core}: {report['texts']} texts")
    figure.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=".validation.", suffix=".png.tmp", dir=plots)
    os.close(fd)
    figure.savefig(tmp, dpi=100, metadata={"Software": None}, format="png")
    plt.close(figure)
    os.replace(tmp, plots / "validation.png")
    written.append(plots / "validation.png")
    atomic.clean_stale(model_dir)
    return written


def format_report(report: dict) -> str:
    cost = report["cost"]
    per_token = report["cost_per_token"]
    unit = report["cost_unit"]
    device = report["device"]
    lines = [
        f"device: {device.get('core', '?')} ({device.get('backend', '?')} backend), model {report['model']} "
        f"sha256 {report['model_sha256'][:12]}..., {report['texts']} texts from {report['data']}",
        f"accuracy on the device {100 * report['accuracy_device']:.2f}% "
        f"(TFLM on the workstation: {100 * report['accuracy_tflm']:.2f}%), "
        f"macro-F1 {100 * report['classification_device']['macro_f1']:.2f}%",
        f"int8 logits equal to TFLM's: {report['logits_equal_tflm']} of {report['texts']}",
        f"token ids equal to the Python tokenizer's: {report['token_ids_equal_python']} of {report['texts']}",
        f"{unit} per text: mean {cost['mean']:,.0f}, p50 {cost['p50']:,.0f}, p99 {cost['p99']:,.0f}, "
        f"max {cost['max']:,.0f}; per token: mean {per_token.get('mean', 0):,.0f}",
        *evaluation.format_classification(report["classification_device"]),
    ]
    for mismatch in report["mismatches"][:10]:
        lines.append(f"  differs: {mismatch['text'][:60]!r}: device {mismatch['device']} TFLM {mismatch['tflm']}")
    return "\n".join(lines)
