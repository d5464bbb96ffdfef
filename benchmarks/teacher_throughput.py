"""Teacher inference throughput: texts per second for logits + per-piece context vectors, the work
the teacher stage does for every text, with the real offline teacher (DistilBERT mapped from
MiniLM-L6, 22.7 M parameters) on real texts from the VADER corpora.

    .venv/bin/python benchmarks/teacher_throughput.py [--texts 2000] [--batch-sizes 64,128] [--label after]
        [--fine-tune-steps 20] [--json benchmarks/results/teacher.json]

It calls only `teacher.distilbert_from_minilm`, `teacher.predict_logits(..., context=...)` and
`teacher.TokenContext`, which the teacher module had before the Accelerate engine too: run it with
PYTHONPATH pointing at an older checkout to measure "before" with the same script. Figures are
stored in the JSON file under --label: wall-clock texts/s (other jobs on a shared machine slow them;
the load average is recorded beside them) and texts per CPU-second (with --threads 1, the figure
least disturbed by other jobs).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path and not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TEXTCLF_NO_PROGRESS", "1")

import numpy as np  # noqa: E402

from toolchain import data, teacher  # noqa: E402


def corpus_texts(count: int) -> list[str]:
    """The transfer mix: equal shares of the four ICWSM 2014 corpora, evenly spaced in each."""
    names = ["rotten-tomatoes", "tweets", "amazon", "nyt"]
    texts = []
    for k, name in enumerate(names):
        rows = data.read_vader_corpus(name)
        share = count // len(names) + (1 if k < count % len(names) else 0)
        step = max(1, len(rows) // share)
        texts += [text for text, _ in rows[::step][:share]]
    return texts


def limit_threads(threads: int) -> None:
    """Pins this process to `threads` cores and makes both teacher versions use that many threads
    (the old module sized its pool from os.cpu_count(), the new one from the affinity mask)."""
    cores = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cores)
    os.cpu_count = lambda: threads


def inference(model, tokenizer, texts: list[str], batch_size: int | None) -> dict:
    """`batch_size` None: the teacher module's own default."""
    context = teacher.TokenContext(len(tokenizer), model.config.hidden_size)
    size = {} if batch_size is None else {"batch_size": batch_size}
    teacher.predict_logits(model, tokenizer, texts[:64], 64, "warm-up", **size)
    start, cpu = time.perf_counter(), time.process_time()
    logits = teacher.predict_logits(model, tokenizer, texts, 64, "logits", context=context, **size)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    tokens = int(context.counts.sum())
    return {"batch_size": batch_size or "default", "texts": len(texts), "tokens": tokens, "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2), "texts_per_cpu_s": round(len(texts) / cpu, 1),
            "texts_per_s": round(len(texts) / seconds, 1), "tokens_per_s": round(tokens / seconds),
            "logits_checksum": float(np.round(np.abs(logits).sum(), 2))}


def fine_tuning(texts: list[str], labels: list[int], steps: int) -> dict:
    from toolchain.config import TeacherConfig

    model, tokenizer = teacher.distilbert_from_minilm(2, seed=0)
    config = TeacherConfig(max_steps=steps, batch_size=32)
    start, cpu = time.perf_counter(), time.process_time()
    summary = teacher.fine_tune(model, tokenizer, texts, labels, config, seed=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"steps": summary["steps"], "batch_size": 32, "seconds": round(seconds, 2),
            "cpu_seconds_per_step": round(cpu / summary["steps"], 3),
            "texts_per_s": round(summary["steps"] * 32 / seconds, 1),
            "seconds_per_step": round(seconds / summary["steps"], 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-sizes", default="default",
                        help="comma-separated; 'default' = the module's own default (64 rows before, "
                             "a 4096-token budget of at most 512 rows after)")
    parser.add_argument("--fine-tune-steps", type=int, default=0, help="also time this many fine-tuning steps")
    parser.add_argument("--threads", type=int, default=0,
                        help="pin to this many cores and threads (0 = all); 1 gives figures that other "
                             "jobs on a shared machine disturb least (CPU time per text)")
    parser.add_argument("--label", default="current")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "teacher.json"))
    args = parser.parse_args()
    if args.threads:
        limit_threads(args.threads)

    import torch

    texts = corpus_texts(args.texts)
    model, tokenizer = teacher.distilbert_from_minilm(2, seed=0)
    model.eval()
    record = {
        "label": args.label, "teacher_module": str(Path(teacher.__file__).resolve()),
        "machine": {"cores": len(os.sched_getaffinity(0)), "cpu": platform.processor() or platform.machine(),
                    "load_average_1m_before": round(os.getloadavg()[0], 2)},
        "inference": [],
    }
    for batch_size in [None if b == "default" else int(b) for b in args.batch_sizes.split(",")]:
        result = inference(model, tokenizer, texts, batch_size)
        result["torch_threads"] = torch.get_num_threads()
        record["inference"].append(result)
        print(f"[{args.label}] logits + context, batch {result['batch_size']:>7}: {result['texts_per_s']:7.1f} texts/s "
              f"({result['tokens_per_s']:,} tokens/s; {result['texts']} texts in {result['seconds']} s, "
              f"{result['torch_threads']} threads); {result['texts_per_cpu_s']} texts per CPU-second")
    if args.fine_tune_steps:
        rows = [(t, 1 if s > 0 else 0) for t, s in data.read_vader_corpus("rotten-tomatoes") if s != 0]
        rows = rows[:: max(1, len(rows) // 2000)]
        result = fine_tuning([t for t, _ in rows], [y for _, y in rows], args.fine_tune_steps)
        record["fine_tune"] = result
        print(f"[{args.label}] fine-tuning, batch 32: {result['seconds_per_step']} s/step = "
              f"{result['texts_per_s']} texts/s ({result['steps']} steps); "
              f"{result['cpu_seconds_per_step']} CPU-s/step")
    record["machine"]["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    print(f"load average (1 min) before/after: {record['machine']['load_average_1m_before']} / "
          f"{record['machine']['load_average_1m_after']} on {record['machine']['cores']} cores")

    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text()) if path.is_file() else {}
    results[args.label] = record
    path.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
