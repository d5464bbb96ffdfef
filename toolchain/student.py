"""Stage 3, `toolchain distill`: a small tf-keras student distilled from the teacher's logits.

Reads the data stage (texts, labels, transfer text) and the teacher stage (logits for every text,
the teacher's WordPiece vocabulary and word embeddings). Writes:
  vocab.txt, tokenizer.json     the pruned WordPiece vocabulary and its HF tokenizer
  saved_model/                  float student, serving signature `ids: int32[1, L] -> logits`
  calibration_ids.npy           token ids of training text for INT8 calibration
  predictions_test.npy          float student logits on the test split
  metrics.json

Every architecture stays inside what TFLite Micro runs fully in int8: no GELU (x*sigmoid(1.702x)),
no float masks (the [PAD] embedding row is held at zero instead), tensors of rank <= 4.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from toolchain import tokenizer as wordpiece
from toolchain.config import StudentConfig
from toolchain.data import MASK_TOKEN, read_jsonl
from toolchain.errors import ToolchainError
from toolchain.progress import progress

VERSION = "1"
ARCHITECTURES = ("bag", "cnn", "transformer")
CALIBRATION_IDS = 2000


def _keras():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras as keras

    return keras


def teacher_word_embeddings(teacher_model_dir: Path) -> np.ndarray | None:
    """The teacher's input embedding matrix (vocab x hidden) from its safetensors checkpoint."""
    from safetensors.numpy import load_file

    for path in sorted(teacher_model_dir.glob("*.safetensors")):
        weights = load_file(str(path))
        for name, value in weights.items():
            if name.endswith("word_embeddings.weight"):
                return value.astype(np.float32)
    return None


def embedding_init(vocab: list[str], teacher_vocab: list[str], teacher_embeddings: np.ndarray,
                   dim: int, seed: int) -> np.ndarray:
    """Student rows = teacher rows of the same pieces, projected to `dim` by PCA.

    Scaled to a standard deviation of 0.05 per entry (Keras' uniform init scale); [PAD] stays 0."""
    index = {piece: i for i, piece in enumerate(teacher_vocab)}
    rng = np.random.default_rng(seed)
    rows = np.stack([
        teacher_embeddings[index[p]] if p in index else rng.normal(0, teacher_embeddings.std(), teacher_embeddings.shape[1])
        for p in vocab
    ]).astype(np.float64)
    centered = rows - rows.mean(axis=0)
    _, _, components = np.linalg.svd(centered[wordpiece.PAD_ID + 1 :], full_matrices=False)
    projected = centered @ components[:dim].T
    projected *= 0.05 / projected.std()
    projected[wordpiece.PAD_ID] = 0.0
    return projected.astype(np.float32)


def _zero_pad_row():
    keras = _keras()

    class ZeroPadRow(keras.constraints.Constraint):
        """Keeps the [PAD] embedding row at exactly zero, so padding adds nothing to pooling."""

        def __call__(self, table):
            import tensorflow as tf

            keep = tf.concat([tf.zeros([1, 1], table.dtype), tf.ones([tf.shape(table)[0] - 1, 1], table.dtype)], 0)
            return table * keep

    return ZeroPadRow()


def build_model(config: StudentConfig, num_labels: int, init: np.ndarray | None, seed: int):
    """The student, by name. Input: int32 token ids [batch, L]; output: float logits [batch, K]."""
    keras = _keras()
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    L, V, D, H = config.sequence_length, config.vocab_size, config.embedding_dim, config.hidden_dim
    ids = keras.Input((L,), dtype="int32", name="ids")
    embed = keras.layers.Embedding(
        V, D, name="embedding", embeddings_constraint=_zero_pad_row(),
        embeddings_initializer=keras.initializers.Constant(init) if init is not None else "uniform",
    )
    x = embed(ids)
    arch = config.architecture
    if arch == "bag":
        mean = keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)
        peak = keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
        h = keras.layers.Concatenate(name="pooled")([mean, peak])
        h = keras.layers.Dense(H, activation="relu", name="hidden")(h)
    elif arch == "cnn":
        c = keras.layers.Conv1D(H, 3, padding="same", activation="relu", name="conv3")(x)
        h = keras.layers.GlobalMaxPooling1D(name="max_pool")(c)
        h = keras.layers.Dense(H, activation="relu", name="hidden")(h)
    elif arch == "transformer":
        heads = 2
        positions = keras.layers.Embedding(L, D, name="positions")(tf.range(L)[tf.newaxis, :])
        x = keras.layers.Add(name="embed_sum")([x, positions])
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="embed_norm")(x)
        x = _encoder_block(keras, tf, x, L, D, heads, H)
        h = keras.layers.Lambda(lambda t: t[:, 0, :], name="cls")(x)
    else:
        raise ToolchainError(f"unknown student architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})")
    h = keras.layers.Dropout(0.2, name="dropout")(h)
    logits = keras.layers.Dense(num_labels, name="logits")(h)
    return keras.Model(ids, logits, name=f"student_{arch}")


def _encoder_block(keras, tf, x, L, D, heads, ffn_dim):
    """Post-norm transformer block from ops TFLM runs in int8 (no GELU, rank <= 4, no mask)."""
    head_dim = D // heads

    def split(t):
        return tf.transpose(tf.reshape(t, [-1, L, heads, head_dim]), [0, 2, 1, 3])

    q = keras.layers.Dense(D, name="query")(x)
    k = keras.layers.Dense(D, name="key")(x)
    v = keras.layers.Dense(D, name="value")(x)

    def attend(qkv):
        qh, kh, vh = (split(t) for t in qkv)
        scores = tf.matmul(qh, kh, transpose_b=True) * (1.0 / float(np.sqrt(head_dim)))
        context = tf.matmul(tf.nn.softmax(scores, axis=-1), vh)
        return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, L, D])

    context = keras.layers.Lambda(attend, name="attention")([q, k, v])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")(
        keras.layers.Add()([x, keras.layers.Dense(D, name="attention_out")(context)])
    )
    f = keras.layers.Dense(ffn_dim, name="ffn_in")(x)
    f = keras.layers.Lambda(lambda t: t * tf.sigmoid(1.702 * t), name="gelu_sigmoid")(f)
    return keras.layers.LayerNormalization(epsilon=1e-6, name="ffn_norm")(
        keras.layers.Add()([x, keras.layers.Dense(D, name="ffn_out")(f)])
    )


def distillation_loss(num_labels: int, temperature: float, distill_weight: float):
    """y_true packs [teacher logits (K), one-hot label (K), has_label (1)] per example."""
    import tensorflow as tf

    def loss(y_true, y_pred):
        teacher = y_true[:, :num_labels]
        onehot = y_true[:, num_labels : 2 * num_labels]
        has_label = y_true[:, 2 * num_labels]
        t = tf.nn.softmax(teacher / temperature)
        log_s = tf.nn.log_softmax(y_pred / temperature)
        kd = tf.reduce_sum(t * (tf.math.log(t + 1e-9) - log_s), axis=-1) * temperature**2
        ce = tf.nn.softmax_cross_entropy_with_logits(onehot, y_pred)
        # Unlabelled transfer text learns from the teacher alone.
        weight_kd = tf.where(has_label > 0, distill_weight, 1.0)
        return weight_kd * kd + (1.0 - distill_weight) * has_label * ce

    return loss


def _targets(teacher_logits: np.ndarray, labels: np.ndarray | None, k: int) -> np.ndarray:
    n = len(teacher_logits)
    onehot = np.zeros((n, k), np.float32)
    has = np.zeros((n, 1), np.float32)
    if labels is not None:
        onehot[np.arange(n), labels] = 1.0
        has[:] = 1.0
    return np.concatenate([teacher_logits.astype(np.float32), onehot, has], axis=1)


def _counting_texts(texts: list[str]) -> list[str]:
    return [t.replace(MASK_TOKEN, " ") for t in texts]


class _ProgressCallback:
    """tqdm over epochs with the validation accuracy in the postfix (Keras' own bar is off)."""

    def __new__(cls, epochs: int):
        keras = _keras()

        class Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.bar = progress(total=epochs, desc="student distill", unit="epoch")

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                self.bar.update(1)
                self.bar.set_postfix(loss=f"{logs.get('loss', 0):.3f}",
                                     val_acc=f"{logs.get('val_accuracy', 0):.3f}")

            def on_train_end(self, logs=None):
                self.bar.close()

        return Callback()


def produce(config: StudentConfig, seed: int, data_dir: Path, teacher_dir: Path, out: Path) -> dict:
    keras = _keras()
    import tensorflow as tf

    labels = json.loads((data_dir / "labels.json").read_text())
    k = len(labels)
    rows = {name: read_jsonl(data_dir / f"{name}.jsonl") for name in ("train", "validation", "test", "transfer")}
    texts = {name: [r["text"] for r in rs] for name, rs in rows.items()}
    truth = {name: np.array([r["label"] for r in rows[name]]) for name in ("train", "validation", "test")}
    logits = {name: np.load(teacher_dir / f"logits_{name}.npy") for name in rows}

    teacher_vocab = wordpiece.read_vocab_file(teacher_dir / "vocab.txt")
    if config.vocab_size <= 0:
        raise ToolchainError("student.vocab_size must be positive")
    vocab = wordpiece.prune_vocab(teacher_vocab, _counting_texts(texts["train"] + texts["transfer"]),
                                  config.vocab_size)
    config_vocab = len(vocab)
    wordpiece.save(vocab, config.sequence_length, out)
    deployed = wordpiece.build_tokenizer(vocab, config.sequence_length)
    training = wordpiece.with_mask_token(deployed)
    ids = {name: wordpiece.encode(deployed, texts[name]) for name in ("train", "validation", "test")}
    ids["transfer"] = wordpiece.encode(training, texts["transfer"])

    init = None
    if config.init_from_teacher:
        table = teacher_word_embeddings(teacher_dir / "model")
        if table is not None and table.shape[0] == len(teacher_vocab):
            init = embedding_init(vocab, teacher_vocab, table, config.embedding_dim, seed)
    sized = StudentConfig(**{**config.__dict__, "vocab_size": config_vocab})
    model = build_model(sized, k, init, seed)

    x = np.concatenate([ids["train"], ids["transfer"]])
    y = np.concatenate([_targets(logits["train"], truth["train"], k), _targets(logits["transfer"], None, k)])
    val_y = _targets(logits["validation"], truth["validation"], k)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=distillation_loss(k, config.temperature, config.distill_weight),
        metrics=[_label_accuracy(k)],
    )
    best = keras.callbacks.ModelCheckpoint(str(out / "best.weights.h5"), monitor="val_accuracy", mode="max",
                                           save_best_only=True, save_weights_only=True, verbose=0)
    history = model.fit(
        x, y, validation_data=(ids["validation"], val_y), epochs=config.epochs,
        batch_size=config.batch_size, shuffle=True, verbose=0,
        callbacks=[best, _ProgressCallback(config.epochs)],
    )
    model.load_weights(str(out / "best.weights.h5"))
    (out / "best.weights.h5").unlink()

    predictions = {name: model.predict(ids[name], batch_size=256, verbose=0) for name in ("validation", "test")}
    accuracy = {name: float((p.argmax(1) == truth[name]).mean()) for name, p in predictions.items()}
    agreement = {name: float((p.argmax(1) == logits[name].argmax(1)).mean()) for name, p in predictions.items()}
    np.save(out / "predictions_test.npy", predictions["test"].astype(np.float32))

    serve = tf.function(lambda token_ids: {"logits": model(token_ids, training=False)})
    signature = serve.get_concrete_function(tf.TensorSpec([1, config.sequence_length], tf.int32, name="ids"))
    tf.saved_model.save(model, str(out / "saved_model"), signatures={"serving_default": signature})

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), size=min(CALIBRATION_IDS, len(x)), replace=False)
    np.save(out / "calibration_ids.npy", x[np.sort(pick)])
    summary = {
        "architecture": config.architecture,
        "vocab_size": config_vocab,
        "sequence_length": config.sequence_length,
        "parameters": int(model.count_params()),
        "accuracy": accuracy,
        "teacher_agreement": agreement,
        "epochs_run": len(history.history["loss"]),
        "best_epoch": int(np.argmax(history.history["val_accuracy"])) + 1,
        "labels": labels,
        "initialised_from_teacher": init is not None,
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _label_accuracy(k: int):
    import tensorflow as tf

    def accuracy(y_true, y_pred):
        """Accuracy against the label where there is one (validation always has labels)."""
        hit = tf.cast(tf.equal(tf.argmax(y_true[:, k : 2 * k], 1), tf.argmax(y_pred, 1)), tf.float32)
        has = y_true[:, 2 * k]
        return tf.reduce_sum(hit * has) / tf.maximum(tf.reduce_sum(has), 1.0)

    return accuracy
