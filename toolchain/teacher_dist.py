"""The teacher stage's processes: one, N launched here through torch.distributed.run, or N launched
by the user (`accelerate launch` / `torchrun`, multi-GPU or multi-node).

Every process runs `teacher.run`; Hugging Face Accelerate (`Accelerator`) sets up the process
group (gloo on CPU, NCCL on GPUs) and wraps the model in DDP for fine-tuning. Only the main process
touches files: it reads the data stage, the caches, and writes the outputs; the others receive what
they need through collectives, so they need neither the build directory nor a shared file system.

`python -m toolchain.teacher_dist launch N ...` starts N workers (`... worker ...`); `launch` uses it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from toolchain.errors import ToolchainError

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def external_world_size() -> int:
    """Processes in a run started by torchrun / accelerate launch (1 when started plainly)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


class Group:
    """This process's place in the run: rank, size, device, and the collectives the stage uses."""

    def __init__(self, accelerator):
        self.accelerator = accelerator
        self.rank = accelerator.process_index
        self.size = accelerator.num_processes
        self.is_main = accelerator.is_main_process
        self.device = accelerator.device

    @classmethod
    def create(cls) -> Group:
        import torch
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=not torch.cuda.is_available())
        local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        # The cores of this machine are split between the processes on it (torchrun would leave
        # each at one thread); inter-op threads only serve TorchScript forks, unused here.
        torch.set_num_threads(max(1, usable_cores() // local))
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set, or parallel work already ran in this process
            pass
        return cls(accelerator)

    def broadcast(self, obj):
        """`obj` of the main process, on every process."""
        if self.size == 1:
            return obj
        from accelerate.utils import broadcast_object_list

        box = [obj if self.is_main else None]
        broadcast_object_list(box, from_process=0)
        return box[0]

    def gather(self, obj) -> list | None:
        """Every process's `obj`, in rank order, on the main process (None elsewhere)."""
        if self.size == 1:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def mean(self, values: list[float]) -> list[float]:
        """Element-wise mean over processes."""
        if self.size == 1:
            return list(values)
        import torch

        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        return self.accelerator.reduce(tensor, reduction="mean").cpu().tolist()

    def broadcast_weights(self, model) -> None:
        """Copies the main process's parameters and buffers into every process's model."""
        if self.size == 1:
            return
        import torch
        import torch.distributed as dist

        with torch.no_grad():
            for tensor in model.state_dict().values():
                buffer = tensor.detach().to(self.device).contiguous()
                dist.broadcast(buffer, src=0)
                tensor.copy_(buffer.to(tensor.device))

    def barrier(self) -> None:
        if self.size > 1:
            self.accelerator.wait_for_everyone()


# ---------------------------------------------------------------------------------------------
# Launching N processes on this machine


def launch(config, seed: int, data_dir: Path, out: Path, cache_dir: Path, processes: int) -> dict:
    """Runs the teacher stage in `processes` worker processes on this machine (torch.distributed.run,
    the launcher under `accelerate launch`; gloo on CPU) and returns the main worker's summary.
    Workers are fresh interpreters (no fork of this process and its thread pools)."""
    with tempfile.TemporaryDirectory(prefix="teacher-run-") as tmp:
        result, error = Path(tmp) / "result.json", Path(tmp) / "error.txt"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
        env["OMP_NUM_THREADS"] = str(max(1, usable_cores() // processes))
        for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
            env.pop(name, None)
        command = [
            sys.executable, "-m", "toolchain.teacher_dist", "launch", str(processes),
            "--config", json.dumps(dataclasses.asdict(config)), "--seed", str(seed),
            "--data-dir", str(data_dir), "--out", str(out), "--cache-dir", str(cache_dir),
            "--result", str(result), "--error", str(error),
        ]
        finished = subprocess.run(command, env=env, stdin=subprocess.DEVNULL)
        if error.is_file():
            raise ToolchainError(error.read_text().strip())
        if finished.returncode != 0 or not result.is_file():
            raise RuntimeError(f"teacher worker processes failed (exit code {finished.returncode})")
        return json.loads(result.read_text())


def _launcher(processes: int, worker_args: list[str], error_file: Path) -> int:
    """torch.distributed.run with N workers; a worker's ToolchainError ends it quietly (the caller
    prints the one `error:` line), anything else keeps torch's failure report."""
    import logging

    from torch.distributed import run as distributed_run
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    logging.getLogger("torch.distributed.elastic").setLevel(logging.ERROR)
    args = distributed_run.parse_args([
        "--standalone", f"--nproc-per-node={processes}", "--max-restarts=0",
        "-m", "toolchain.teacher_dist", "worker", *worker_args,
    ])
    try:
        distributed_run.run(args)
    except ChildFailedError as exc:
        if error_file.is_file():
            return 2
        print(exc, file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m toolchain.teacher_dist")
    for name in ("--config", "--data-dir", "--out", "--cache-dir", "--result", "--error"):
        parser.add_argument(name, required=True)
    parser.add_argument("--seed", type=int, required=True)
    return parser


def worker_main(argv: list[str]) -> int:
    from toolchain import teacher
    from toolchain.config import TeacherConfig

    args = _parser().parse_args(argv)
    config = TeacherConfig(**json.loads(args.config))
    group = Group.create()
    try:
        summary = teacher.run(config, args.seed, Path(args.data_dir), Path(args.out), Path(args.cache_dir), group)
    except ToolchainError as exc:
        if group.is_main:
            Path(args.error).write_text(str(exc) + "\n")
        return 2
    if group.is_main:
        Path(args.result).write_text(json.dumps(summary, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["launch"]:
        processes, rest = int(argv[1]), argv[2:]
        return _launcher(processes, rest, Path(_parser().parse_args(rest).error))
    if argv[:1] == ["worker"]:
        return worker_main(argv[1:])
    print("usage: python -m toolchain.teacher_dist launch N ARGS | worker ARGS", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------------------------------
# Runs launched by the user: `torchrun -m toolchain teacher ...` / `accelerate launch -m toolchain ...`


def run_pipeline_distributed(run_main, config) -> list:
    """The main process runs the pipeline (`run_main()`); the others only serve the teacher stage
    when the main process asks them to, then return. Returns the main process's stage outcomes."""
    from toolchain import teacher

    group = Group.create()
    teacher.attach_group(group)
    if group.is_main:
        try:
            return run_main()
        finally:
            if not teacher.group_busy(group):
                group.broadcast({"op": "done"})
    while True:
        message = group.broadcast(None)
        if message.get("op") != "teacher":
            break
        cfg = type(config.teacher)(**message["config"])
        teacher.run(cfg, message["seed"], None, None, None, group)
    # A helper process has no further part in the command (the main one reports, emits, ...).
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    raise SystemExit(0)


if __name__ == "__main__":
    raise SystemExit(main())
