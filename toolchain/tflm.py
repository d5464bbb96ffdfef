"""The official TensorFlow Lite Micro interpreter (pip `tflite-micro`): the project's oracle.

Two uses:
- `TflmInterpreter` runs a known-good model in this process (verification, goldens).
- `measure_arena` tries a model in a child process, because TFLM can crash the
  process (segfault) on arenas too small for its own bookkeeping and on malformed models.
  The arena search keeps one worker process and replaces it after a crash.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import re
import tempfile
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from toolchain.errors import ToolchainError

# TFLM aligns arena allocations to 16 bytes; a finer search would only find alignment noise.
ARENA_STEP = 16
MAX_ARENA = 256 * 1024 * 1024


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name


class TflmInterpreter:
    """TFLM's MicroInterpreter for one model, with a fixed arena, in this process."""

    def __init__(self, model_bytes: bytes, arena_size: int, num_outputs: int = 1):
        from tflite_micro import runtime

        self._interpreter = runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)
        self._num_outputs = num_outputs

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        for index, value in enumerate(inputs):
            self._interpreter.set_input(value, index)
        self._interpreter.invoke()
        return [np.array(self._interpreter.get_output(i)) for i in range(self._num_outputs)]


def _capture_stderr(fn):
    """Runs fn() with the C-level stderr redirected; returns (result or exception, text)."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            result = fn()
        except Exception as exc:
            result = exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        return result, sink.read().decode("utf-8", "replace")


def _probe_in_worker(model_bytes: bytes, arena_size: int, inputs: list[InputSpec]) -> tuple[bool, str]:
    """Allocates and invokes the model once with `arena_size`; returns (ok, TFLM's messages)."""
    from tflite_micro import runtime

    def attempt():
        interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)
        for index, spec in enumerate(inputs):
            interpreter.set_input(np.zeros(spec.shape, dtype=spec.dtype), index)
        interpreter.invoke()
        return True

    result, messages = _capture_stderr(attempt)
    if isinstance(result, Exception):
        return False, (messages.strip() + "\n" + str(result)).strip()
    return True, messages.strip()


def invoke_each(model_bytes: bytes, cases: list[list[np.ndarray]], outputs: int, arena_size: int):
    """Every input set through one TFLM interpreter, in this process: the outputs per set. TFLM
    reports what it rejects on stderr and raises; callers capture both (a damaged model can also
    crash the process: run it in a child)."""
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)
    results = []
    for inputs in cases:
        for index, value in enumerate(inputs):
            interpreter.set_input(value, index)
        interpreter.invoke()
        results.append([np.array(interpreter.get_output(i)) for i in range(outputs)])
    return results


def _run_in_worker(model_bytes: bytes, cases: list[list[np.ndarray]], outputs: int, arena_size: int):
    """Runs every input set through one interpreter; returns (True, outputs per set) or (False, TFLM's
    messages)."""
    result, messages = _capture_stderr(lambda: invoke_each(model_bytes, cases, outputs, arena_size))
    if isinstance(result, Exception):
        return False, (messages.strip() + "\n" + str(result)).strip()
    return True, result


def run_isolated(model_bytes: bytes, cases: list[list[np.ndarray]], outputs: int,
                 arena_size: int = 1024 * 1024) -> list[list[np.ndarray]]:
    """TFLM's outputs for each input set, computed in a child process (a damaged model can crash
    TFLM); an arena too small is grown. Raises ToolchainError if TFLM cannot run the model."""
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        while True:
            try:
                ok, value = pool.submit(_run_in_worker, bytes(model_bytes), cases, outputs, arena_size).result()
            except BrokenProcessPool:
                raise ToolchainError("TFLite Micro crashed while running the model") from None
            if ok:
                return value
            if not _ARENA_TOO_SMALL.search(value) or arena_size >= MAX_ARENA:
                raise ToolchainError(describe_failure(value))
            arena_size = min(arena_size * 4, MAX_ARENA)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Prober:
    """One spawned worker process that survives TFLM crashes by being replaced."""

    def __init__(self, model_bytes: bytes, inputs: list[InputSpec]):
        self._model = bytes(model_bytes)
        self._inputs = inputs
        self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def probe(self, arena_size: int) -> tuple[bool, str]:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
        try:
            return self._pool.submit(_probe_in_worker, self._model, arena_size, self._inputs).result()
        except BrokenProcessPool:
            self._pool.shutdown(wait=False)
            self._pool = None
            return False, "TFLite Micro crashed"


# Lines TFLM logs when the arena is too small (as opposed to a model it cannot run).
_ARENA_TOO_SMALL = re.compile(r"Failed to allocate (?:tail|head|memory)|Arena size is too small|missing: \d+")
_UNSUPPORTED = re.compile(
    r"(?:Failed to get registration from op code|Didn't find op for builtin opcode)\s+'?([A-Z0-9_]+)"
)
_NODE_FAILED = re.compile(r"Node (\S+) \(number (\d+)\) failed to (prepare|invoke)")


def describe_failure(messages: str) -> str:
    """Turns TFLM's log into one line naming the operator that failed, if TFLM named one."""
    unsupported = _UNSUPPORTED.search(messages)
    if unsupported:
        return f"TFLite Micro has no kernel for operator {unsupported.group(1)}"
    node = _NODE_FAILED.search(messages)
    if node:
        return f"TFLite Micro cannot {node.group(3)} operator {node.group(1)} (node {node.group(2)})"
    if "crashed" in messages:
        return "TFLite Micro crashed while loading the model"
    last = [line for line in messages.splitlines() if line.strip()]
    return "TFLite Micro rejected the model: " + (last[-1] if last else "no message")


def _generous_arena(prober: _Prober, model_size: int) -> int:
    arena = max(64 * 1024, 4 * model_size)
    while True:
        ok, messages = prober.probe(arena)
        if ok:
            return arena
        if not _ARENA_TOO_SMALL.search(messages) or arena >= MAX_ARENA:
            raise ToolchainError(describe_failure(messages))
        arena *= 4


def measure_arena(model_bytes: bytes, inputs: list[InputSpec]) -> int:
    """Smallest arena (to ARENA_STEP bytes) with which TFLM allocates and invokes the model.

    Raises ToolchainError if TFLM cannot run the model at all (unsupported op, failed prepare).
    """
    with _Prober(model_bytes, inputs) as prober:
        high = _generous_arena(prober, len(model_bytes))
        low = 0  # known to fail
        while high - low > ARENA_STEP:
            middle = (low + high) // 2 // ARENA_STEP * ARENA_STEP
            if middle <= low:
                break
            ok, _ = prober.probe(middle)
            if ok:
                high = middle
            else:
                low = middle
        return high
