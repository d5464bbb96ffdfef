"""The offline teacher: DistilBERT architecture carrying all-MiniLM-L6-v2's encoder exactly; the
engine: per-text caching, N processes (gloo on CPU), user-launched runs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from toolchain import data, teacher


def test_mapped_distilbert_reproduces_minilm_hidden_states(vader_archive):
    import torch
    from transformers import AutoModel

    sentences = [text for text, _ in data.read_vader_corpus("rotten-tomatoes", vader_archive)[:24]]
    sentences += ["", "A naïve, déjà-vu plot… 🙂", "x" * 300]
    bert = AutoModel.from_pretrained(str(teacher.minilm_path())).eval()
    distilbert, tokenizer = teacher.distilbert_from_minilm(num_labels=2, seed=0)
    distilbert.eval()
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        reference = bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         token_type_ids=torch.zeros_like(batch["input_ids"])).last_hidden_state
        mapped = distilbert.distilbert(input_ids=batch["input_ids"],
                                       attention_mask=batch["attention_mask"]).last_hidden_state
    valid = batch["attention_mask"].bool().numpy()
    difference = np.abs(reference.numpy() - mapped.numpy())[valid]
    assert difference.max() < 1e-4, difference.max()
    assert distilbert.config.model_type == "distilbert"
    assert (distilbert.config.n_layers, distilbert.config.dim, distilbert.config.n_heads,
            distilbert.config.hidden_dim, distilbert.config.vocab_size) == (6, 384, 12, 1536, 30522)


def test_tiny_teacher_fine_tunes_and_predicts(tiny_teacher):
    from toolchain.config import TeacherConfig

    model, tokenizer, order = teacher.load_teacher(str(tiny_teacher), ["negative", "positive"], seed=0)
    assert order is None  # generic LABEL_k heads are fine-tuned, not used as is
    teacher.check_wordpiece(tokenizer, str(tiny_teacher))
    texts = ["a great film", "a terrible film", "wonderful", "awful"] * 8
    labels = [1, 0, 1, 0] * 8
    before = teacher.predict_logits(model, tokenizer, texts, 16, "before")
    summary = teacher.fine_tune(model, tokenizer, texts, labels,
                                TeacherConfig(epochs=15, batch_size=8, learning_rate=1e-3), seed=0)
    after = teacher.predict_logits(model, tokenizer, texts, 16, "after")
    assert summary["steps"] == 60
    assert before.shape == after.shape == (32, 2)
    assert (after.argmax(1) == np.array(labels)).mean() == 1.0


def test_fine_tuned_teacher_is_used_as_is_with_label_order(tmp_path, tiny_teacher_labelled):
    _model, _, order = teacher.load_teacher(str(tiny_teacher_labelled), ["good", "bad"], seed=0)
    assert order == [1, 0]  # task label k -> checkpoint output order[k]


@pytest.fixture(scope="module")
def rows(vader_archive) -> list[tuple[str, int]]:
    return _rows(vader_archive)


def _rows(archive: Path, step: int = 40) -> list[tuple[str, int]]:
    """Real sentences, both classes interleaved (the corpus file is sorted by score)."""
    scored = [(t, 1 if s > 0 else 0) for t, s in data.read_vader_corpus("rotten-tomatoes", archive)[::step] if s != 0]
    negative = [r for r in scored if r[1] == 0]
    positive = [r for r in scored if r[1] == 1]
    return [r for pair in zip(negative, positive) for r in pair]


def _write_data(directory: Path, rows, transfer: list[str], labels=("negative", "positive")) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "labels.json").write_text(json.dumps(list(labels)))
    for name, part in (("train", rows[:60]), ("validation", rows[60:75]), ("test", rows[75:90])):
        (directory / f"{name}.jsonl").write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in part))
    (directory / "transfer.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in transfer))
    return directory


def _outputs(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _produce(model, data_dir: Path, out: Path, cache: Path, processes: int = 1, **recipe):
    from toolchain.config import TeacherConfig

    out.mkdir(parents=True)
    settings = dict(max_steps=3, batch_size=8) | recipe
    return teacher.produce(TeacherConfig(model=str(model), processes=processes, **settings), 0, data_dir, out, cache)


@pytest.fixture(scope="module")
def transfer_texts(vader_archive) -> list[str]:
    return [t for t, _ in data.read_vader_corpus("tweets", vader_archive)[:60]]


@pytest.fixture(scope="module")
def no_dropout_teacher(tmp_path_factory):
    """The tiny teacher without dropout: DDP over 2 processes must then train like 1 process."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    directory = tmp_path_factory.mktemp("no_dropout_teacher")
    tokenizer = AutoTokenizer.from_pretrained(str(teacher.minilm_path()))
    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                              max_position_embeddings=128, dropout=0.0, attention_dropout=0.0,
                              seq_classif_dropout=0.0)
    DistilBertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_a_text_gets_the_same_bits_whatever_shares_its_batch(vader_archive):
    """What makes cached results equal to fresh ones: the default teacher's logits and hidden
    states for a text do not depend on the other texts computed with it (same-length batches)."""
    model, tokenizer = teacher.distilbert_from_minilm(num_labels=2, seed=0)
    pool = [t for t, _ in data.read_vader_corpus("rotten-tomatoes", vader_archive)[:1500]]
    lengths = [len(ids) for ids in tokenizer(pool, truncation=True, max_length=64)["input_ids"]]
    # Three lengths, so the batches are full and the test quick.
    texts = [t for t, n in zip(pool, lengths) if n in (20, 21, 30)][:120]
    others = [t for t, n in zip(pool, lengths) if n in (20, 30)][120:150]
    alone, mixed = teacher.TokenContext(len(tokenizer), 384), teacher.TokenContext(len(tokenizer), 384)
    first = teacher.predict_logits(model, tokenizer, texts, 64, "a", context=alone)
    subset = texts[::-3] + others
    second = teacher.predict_logits(model, tokenizer, subset, 64, "b", batch_size=24)
    assert np.array_equal(second[: len(texts[::-3])], first[::-1][::3])
    # ... and the per-piece sums are exact, so their order does not matter either.
    teacher.predict_logits(model, tokenizer, texts[::-1], 64, "c", batch_size=32, context=mixed)
    assert np.array_equal(alone.sums.numpy(), mixed.sums.numpy()) and np.array_equal(alone.counts, mixed.counts)
    assert alone.counts.sum() == sum(len(ids) for ids in tokenizer(texts)["input_ids"])


def test_cache_runs_only_new_texts_and_changes_no_output(tmp_path, tiny_teacher, transfer_texts, rows):
    cache = tmp_path / "cache"
    first = _produce(tiny_teacher, _write_data(tmp_path / "d1", rows, transfer_texts[:40]), tmp_path / "o1", cache)
    assert first["cache"]["checkpoint"] == "fine-tuned"
    assert first["cache"]["texts_computed"] == first["cache"]["texts"] == 130

    # 10% more transfer text: the checkpoint is reused and only the 4 new texts go through the model.
    d2 = _write_data(tmp_path / "d2", rows, transfer_texts[:44])
    before = teacher.TEXTS_RUN
    second = _produce(tiny_teacher, d2, tmp_path / "o2", cache)
    assert teacher.TEXTS_RUN - before == 4
    assert second["cache"] | {"processes": 1} == {"processes": 1, "checkpoint": "cached", "texts": 134,
                                                  "texts_computed": 4, "texts_cached": 130}
    # A cold run on the same data (empty cache) writes byte-identical outputs.
    cold = _produce(tiny_teacher, d2, tmp_path / "o2cold", tmp_path / "cold_cache")
    assert cold["cache"]["texts_computed"] == 134
    assert _outputs(tmp_path / "o2") == _outputs(tmp_path / "o2cold")

    # New "augmentations": 10 transfer texts replaced by 10 others; only those run.
    before = teacher.TEXTS_RUN
    third = _produce(tiny_teacher, _write_data(tmp_path / "d3", rows, transfer_texts[10:50]), tmp_path / "o3", cache)
    assert teacher.TEXTS_RUN - before == 6  # 44..49 are new; 40..43 were added by the second build
    assert third["cache"]["checkpoint"] == "cached"

    # A different training split is a different fine-tuned teacher: everything runs again.
    before = teacher.TEXTS_RUN
    fourth = _produce(tiny_teacher, _write_data(tmp_path / "d4", rows[2:] + rows[:2], transfer_texts[:40]),
                      tmp_path / "o4", cache)
    assert fourth["cache"]["checkpoint"] == "fine-tuned" and teacher.TEXTS_RUN - before == 130


def test_two_processes_logit_only_run_is_byte_identical(tmp_path, tiny_teacher_labelled, transfer_texts, rows):
    """An already fine-tuned teacher (no training): 2 gloo processes shard the texts, the main one
    gathers them; every output file equals the 1-process run's."""
    d = _write_data(tmp_path / "d", rows, transfer_texts, labels=("bad", "good"))
    one = _produce(tiny_teacher_labelled, d, tmp_path / "one", tmp_path / "c1")
    two = _produce(tiny_teacher_labelled, d, tmp_path / "two", tmp_path / "c2", processes=2)
    assert two["cache"]["processes"] == 2 and two["cache"]["texts_computed"] == one["cache"]["texts_computed"] == 150
    assert _outputs(tmp_path / "one") == _outputs(tmp_path / "two")


def test_two_processes_fine_tune_like_one(tmp_path, no_dropout_teacher, transfer_texts, rows):
    """DDP over 2 processes with uneven shards (batch 9 -> 5 + 4 texts) computes the gradient of the
    whole batch's mean loss: without dropout the fine-tuned teacher matches the 1-process one to
    float32 rounding (measured: max |logit difference| 1.5e-8 after 10 steps at lr 1e-3)."""
    d = _write_data(tmp_path / "d", rows, transfer_texts[:30])
    recipe = dict(max_steps=10, batch_size=9, learning_rate=1e-3)
    one = _produce(no_dropout_teacher, d, tmp_path / "one", tmp_path / "c1", **recipe)
    two = _produce(no_dropout_teacher, d, tmp_path / "two", tmp_path / "c2", processes=2, **recipe)
    assert one["training"]["steps"] == two["training"]["steps"] == 10
    assert two["training"]["processes"] == 2
    start = np.load(tmp_path / "one" / "logits_train.npy")
    for name in teacher.LOGIT_SPLITS:
        a, b = np.load(tmp_path / "one" / f"logits_{name}.npy"), np.load(tmp_path / "two" / f"logits_{name}.npy")
        assert (a.argmax(1) == b.argmax(1)).all()
        assert np.abs(a - b).max() < 1e-6, np.abs(a - b).max()
    assert abs(one["training"]["final_loss"] - two["training"]["final_loss"]) < 1e-5
    assert np.abs(start).max() > 1e-3  # the logits are not all ~0 (the check above means something)


def _cli(tmp_path: Path, build_dir: str, *args: str, launcher=()):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TEXTCLF_NO_PROGRESS="1")
    return subprocess.run(
        [sys.executable, *launcher, "-m", "toolchain", *args, "--build-dir", str(tmp_path / build_dir),
         "--models-dir", str(tmp_path / "models"), "--name", "t"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=900,
    )


def test_stage_under_a_user_torchrun(tmp_path, tiny_teacher_labelled, vader_archive):
    """`torchrun --nproc-per-node 2 -m toolchain teacher ...`: the main process runs the pipeline,
    the other serves the teacher stage; the stage's outputs equal a plain run's."""
    rows = _rows(vader_archive, 30)
    path = tmp_path / "user.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": "good" if y else "bad"}) + "\n" for t, y in rows))
    args = ("teacher", "--data", str(path), "--max-transfer", "40", "--augment-copies", "1",
            "--teacher", str(tiny_teacher_labelled))
    plain = _cli(tmp_path, "plain", *args)
    assert plain.returncode == 0, plain.stderr
    launched = _cli(tmp_path, "torchrun", *args,
                    launcher=("-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"))
    assert launched.returncode == 0, launched.stderr
    assert launched.stdout.count("[teacher] done") == 1  # one process ran the pipeline
    stamp = json.loads((tmp_path / "torchrun" / "t" / "teacher" / "stage.json").read_text())
    assert stamp["summary"]["cache"]["processes"] == 2
    plain_out, launched_out = _outputs(tmp_path / "plain" / "t" / "teacher"), _outputs(tmp_path / "torchrun" / "t" / "teacher")
    plain_out.pop("stage.json"), launched_out.pop("stage.json")
    assert plain_out == launched_out


def test_worker_error_is_one_line(tmp_path, tiny_teacher_labelled, vader_archive):
    """Bad input found inside the 2 launched workers: one `error:` line, exit 2, no stage left."""
    rows = _rows(vader_archive, 30)
    path = tmp_path / "user.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": "pos" if y else "neg"}) + "\n" for t, y in rows))
    result = _cli(tmp_path, "build", "teacher", "--data", str(path), "--max-transfer", "10",
                  "--teacher", str(tiny_teacher_labelled), "--processes", "2")
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "fine-tuned on labels ['bad', 'good']" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "ChildFailedError" not in result.stderr, result.stderr
    assert not (tmp_path / "build" / "t" / "teacher").exists()
    assert [p for p in (tmp_path / "build").rglob("*.tmp")] == []
