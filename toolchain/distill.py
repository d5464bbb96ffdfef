"""Stage 3, `textclf distill`: a small tf-keras student distilled from the teacher.

Reads the data stage (texts, labels, transfer text) and the teacher stage (logits for every text,
its WordPiece vocabulary, and `token_context.npy`: each piece's mean last hidden state in the
fine-tuned teacher, and its input embedding table). Writes:
  vocab.txt, tokenizer.json     the pruned WordPiece vocabulary and its HF tokenizer
  saved_model/                  float student, serving signature `ids: int32[1, L] -> logits`
  calibration_ids.npy           token ids of training text for INT8 calibration
  predictions_test.npy          float student logits on the test split
  metrics.json

Training has two phases. (1) The embedding table is a learned projection of the teacher's
piece vectors: the student sees a frozen [V, H] table of teacher context vectors followed by a
bias-free Dense(H -> D), so only H*D numbers decide all V rows — a strong, task-aware prior that
a small labelled set cannot overfit. (2) The projection is multiplied out into an ordinary
[V, D] embedding table (the same function, exactly) and the whole student is fine-tuned briefly.
The loss everywhere: temperature-softened KL to the teacher plus cross-entropy to the labels.

Every architecture stays inside what TFLite Micro runs fully in int8: no GELU (x*sigmoid(1.702x)),
no float masks (the [PAD] embedding row is held at zero instead), tensors of rank <= 4.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from toolchain import frameworks
from toolchain import tokenizer as wordpiece
from toolchain.config import ARCHITECTURES, StudentConfig
from toolchain.data import MASK_TOKEN, read_jsonl
from toolchain.errors import ToolchainError
from toolchain.progress import progress

VERSION = "5"
CALIBRATION_IDS = 2000


def context_table(vocab: list[str], teacher_vocab: list[str], context: np.ndarray, counts: np.ndarray,
                  embeddings: np.ndarray, prior_weight: float = 5.0) -> np.ndarray:
    """[V, H] teacher context vectors for the student's pieces, centred and unit-scaled.

    A piece's mean context vector is shrunk toward a prediction from its static input embedding
    (ridge regression fitted on the pieces the teacher did read), with the prediction counting as
    `prior_weight` occurrences: rare pieces lean on the prediction, and the ~quarter of the
    student's pieces the teacher never produced itself (pruning re-segments words) get it whole."""
    seen = counts > 0
    if not seen.any():
        raise ToolchainError("the teacher's context vectors cover none of its vocabulary")
    inputs, targets = embeddings[seen].astype(np.float64), context[seen].astype(np.float64)
    ridge = np.linalg.solve(inputs.T @ inputs + np.eye(inputs.shape[1]), inputs.T @ targets)
    predicted = embeddings.astype(np.float64) @ ridge
    n = counts.astype(np.float64)[:, None]
    blended = (n * context + prior_weight * predicted) / (n + prior_weight)
    index = {piece: i for i, piece in enumerate(teacher_vocab)}
    rows = np.zeros((len(vocab), context.shape[1]), dtype=np.float64)
    for i, piece in enumerate(vocab):
        j = index.get(piece)
        if j is not None and i != wordpiece.PAD_ID:
            rows[i] = blended[j]
    known = rows.any(axis=1)
    rows[known] -= rows[known].mean(axis=0)
    rows[known] /= rows[known].std()
    return rows.astype(np.float32)


def _zero_pad_row():
    keras = frameworks.keras()

    class ZeroPadRow(keras.constraints.Constraint):
        """Keeps the [PAD] embedding row at exactly zero, so padding adds nothing to pooling."""

        def __call__(self, table):
            import tensorflow as tf

            keep = tf.concat([tf.zeros([1, 1], table.dtype), tf.ones([tf.shape(table)[0] - 1, 1], table.dtype)], 0)
            return table * keep

    return ZeroPadRow()


def build_trunk(config: StudentConfig, num_labels: int):
    """Everything after the embedding, by architecture: [batch, L, D] floats -> [batch, K] logits."""
    keras = frameworks.keras()
    import tensorflow as tf

    L, D, H = config.sequence_length, config.embedding_dim, config.hidden_dim
    x_in = keras.Input((L, D), name="embedded")
    x = keras.layers.SpatialDropout1D(0.1, name="embedding_dropout")(x_in)
    arch = config.architecture
    if arch == "bag":
        h = keras.layers.Concatenate(name="pooled")(
            [keras.layers.GlobalAveragePooling1D(name="mean_pool")(x),
             keras.layers.GlobalMaxPooling1D(name="max_pool")(x)])
    elif arch == "cnn":
        c = keras.layers.Conv1D(H, 3, padding="same", activation="relu", name="conv3")(x)
        h = keras.layers.Concatenate(name="pooled")(
            [keras.layers.GlobalAveragePooling1D(name="mean_pool")(c),
             keras.layers.GlobalMaxPooling1D(name="max_pool")(c)])
    elif arch == "transformer":
        positions = keras.layers.Embedding(L, D, name="positions")(tf.range(L)[tf.newaxis, :])
        x = keras.layers.Add(name="embed_sum")([x, positions])
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="embed_norm")(x)
        x = _encoder_block(keras, tf, x, L, D, 2, H)
        h = keras.layers.Lambda(lambda t: t[:, 0, :], name="cls")(x)
    else:
        raise ToolchainError(f"unknown student architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})")
    h = keras.layers.Dropout(0.2, name="dropout")(h)
    h = keras.layers.Dense(H, activation="relu", name="hidden")(h)
    h = keras.layers.Dropout(0.2, name="hidden_dropout")(h)
    logits = keras.layers.Dense(num_labels, name="logits")(h)
    return keras.Model(x_in, logits, name=f"trunk_{arch}")


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


def build_models(config: StudentConfig, num_labels: int, table: np.ndarray, seed: int):
    """(projection model, deployable model) sharing one trunk.

    The projection model reads the frozen [V, H] teacher table through Dense(H -> D, no bias);
    the deployable one reads an ordinary [V, D] embedding ([PAD] row held at zero)."""
    keras = frameworks.keras()
    keras.utils.set_random_seed(seed)
    L, V, D = config.sequence_length, config.vocab_size, config.embedding_dim
    trunk = build_trunk(config, num_labels)
    ids = keras.Input((L,), dtype="int32", name="ids")
    teacher_table = keras.layers.Embedding(V, table.shape[1], trainable=False, name="teacher_context",
                                           embeddings_initializer=keras.initializers.Constant(table))
    projection = keras.layers.Dense(D, use_bias=False, name="projection")
    projected = keras.Model(ids, trunk(projection(teacher_table(ids))), name="student_projected")
    embedding = keras.layers.Embedding(V, D, name="embedding", embeddings_constraint=_zero_pad_row())
    deployable = keras.Model(ids, trunk(embedding(ids)), name=f"student_{config.architecture}")
    return projected, deployable, projection, embedding, trunk


# Clustering resolution: values are binned to 1/CLUSTER_GRID of the table's largest magnitude,
# four times finer than the INT8 grid the converter puts them on.
CLUSTER_GRID = 512


def cluster_levels(values: np.ndarray, levels: int) -> np.ndarray:
    """`levels` sorted levels for 1-D data, least squares, one of them exactly 0.0: the [PAD] row
    (zero) must stay a level, so padding still adds nothing to pooling and still quantizes to the
    zero point. Exact 1-D k-means (compression.cluster_levels, by dynamic programming) over the
    values binned to the CLUSTER_GRID; fewer distinct values than levels repeat the last level."""
    from toolchain import compression

    values = np.asarray(values, dtype=np.float64).reshape(-1)
    scale = float(np.abs(values).max()) / CLUSTER_GRID or 1.0
    bins, counts = np.unique(np.append(np.rint(values / scale), 0.0), return_counts=True)
    counts[bins == 0] -= 1  # the appended 0 makes zero a bin; it weighs only as much as real zeros
    found = np.unique(compression.cluster_levels(bins, np.maximum(counts, 1e-9), levels, pinned=0))
    found = np.concatenate([found, np.repeat(found[-1:], levels - len(found))])
    return (found * scale).astype(np.float32)


def cluster_table(table: np.ndarray, bits: int, per_column: bool) -> tuple[np.ndarray, np.ndarray]:
    """(centroids [columns or 1, 2^bits], assignments [V, D]) of an embedding table: every value
    replaced by its nearest level, per column (one set of levels per embedding dimension) or for
    the whole table."""
    levels = 1 << bits
    columns = [table[:, d] for d in range(table.shape[1])] if per_column else [table.reshape(-1)]
    centroids = np.stack([cluster_levels(column, levels) for column in columns])
    if per_column:
        assignments = np.stack([np.abs(table[:, d, None] - centroids[d][None, :]).argmin(axis=1)
                                for d in range(table.shape[1])], axis=1)
    else:
        assignments = np.abs(table[..., None] - centroids[0][None, None, :]).argmin(axis=-1)
    return centroids, assignments.astype(np.int32)


def _tied_embedding(centroids: np.ndarray, assignments: np.ndarray):
    """An embedding whose table is centroids[assignment]: the assignments fixed, the centroids
    trained (tied: every value of a cluster moves together), the pinned 0.0 level frozen."""
    keras = frameworks.keras()
    import tensorflow as tf

    columns, levels = centroids.shape
    per_column = columns > 1
    width = assignments.shape[1]
    # Flat index into the [columns * levels] centroid vector for every table entry.
    column_of = np.arange(width)[None, :] if per_column else np.zeros((1, width), np.int64)
    flat = (column_of * levels + assignments).astype(np.int32)
    zero = np.abs(centroids) == 0.0

    class TiedCentroidEmbedding(keras.layers.Layer):
        def build(self, input_shape):
            self.free = self.add_weight("centroids", centroids.shape, initializer=keras.initializers.Constant(
                centroids), trainable=True)
            self.keep = tf.constant((~zero).astype(np.float32))

        def table(self):
            return tf.gather(tf.reshape(self.free * self.keep, [-1]), flat)

        def call(self, ids):
            return tf.gather(self.table(), ids)

    return TiedCentroidEmbedding(name="tied_embedding")


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


def label_accuracy(num_labels: int):
    import tensorflow as tf

    def accuracy(y_true, y_pred):
        """Accuracy against the label where there is one (validation always has labels)."""
        k = num_labels
        hit = tf.cast(tf.equal(tf.argmax(y_true[:, k : 2 * k], 1), tf.argmax(y_pred, 1)), tf.float32)
        has = y_true[:, 2 * k]
        return tf.reduce_sum(hit * has) / tf.maximum(tf.reduce_sum(has), 1.0)

    return accuracy


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


def _progress_callback(epochs: int, desc: str):
    """tqdm over epochs with the validation accuracy in the postfix (Keras' own bar is off)."""
    keras = frameworks.keras()

    class Callback(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress(total=epochs, desc=desc, unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{logs.get('loss', 0):.3f}", val_acc=f"{logs.get('val_accuracy', 0):.3f}")

        def on_train_end(self, logs=None):
            self.bar.close()

    return Callback()


def _fit(model, x, y, validation, epochs: int, learning_rate: float, config: StudentConfig, k: int,
         desc: str) -> list[float]:
    """Trains for a fixed number of epochs and keeps the final weights: the validation split is
    small (about a thousand sentences), so picking its best epoch mostly picks noise."""
    keras = frameworks.keras()
    if epochs <= 0:
        return []
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=distillation_loss(k, config.temperature, config.distill_weight),
                  metrics=[label_accuracy(k)])
    history = model.fit(x, y, validation_data=validation, epochs=epochs, batch_size=config.batch_size,
                        shuffle=True, verbose=0, callbacks=[_progress_callback(epochs, desc)])
    return [float(v) for v in history.history["val_accuracy"]]


def produce(config: StudentConfig, seed: int, data_dir: Path, teacher_dir: Path, out: Path) -> dict:
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    labels = json.loads((data_dir / "labels.json").read_text())
    k = len(labels)
    rows = {name: read_jsonl(data_dir / f"{name}.jsonl") for name in ("train", "validation", "test", "transfer")}
    texts = {name: [r["text"] for r in rs] for name, rs in rows.items()}
    truth = {name: np.array([r["label"] for r in rows[name]]) for name in ("train", "validation", "test")}
    logits = {name: np.load(teacher_dir / f"logits_{name}.npy") for name in rows}

    teacher_vocab = wordpiece.read_vocab_file(teacher_dir / "vocab.txt")
    vocab = wordpiece.prune_vocab(teacher_vocab, _counting_texts(texts["train"] + texts["transfer"]),
                                  config.vocab_size)
    wordpiece.save(vocab, config.sequence_length, out)
    deployed = wordpiece.build_tokenizer(vocab, config.sequence_length)
    ids = {name: wordpiece.encode(deployed, texts[name]) for name in ("train", "validation", "test")}
    ids["transfer"] = wordpiece.encode(wordpiece.with_mask_token(deployed), texts["transfer"])

    table = context_table(vocab, teacher_vocab, np.load(teacher_dir / "token_context.npy").astype(np.float32),
                          np.load(teacher_dir / "token_counts.npy"),
                          np.load(teacher_dir / "token_embeddings.npy").astype(np.float32))
    sized = StudentConfig(**{**config.__dict__, "vocab_size": len(vocab)})
    projected, deployable, projection, embedding, trunk = build_models(sized, k, table, seed)

    x = np.concatenate([ids["train"], ids["transfer"]])
    y = np.concatenate([_targets(logits["train"], truth["train"], k), _targets(logits["transfer"], None, k)])
    validation = (ids["validation"], _targets(logits["validation"], truth["validation"], k))
    phase1 = _fit(projected, x, y, validation, config.epochs, config.learning_rate, config, k,
                  "student: projection")
    # Multiply the projection out: gather-then-project equals project-the-table-then-gather.
    baked = table @ projection.get_weights()[0]
    baked[wordpiece.PAD_ID] = 0.0
    embedding.set_weights([baked])
    phase2 = _fit(deployable, x, y, validation, config.finetune_epochs, config.finetune_learning_rate, config, k,
                  "student: fine-tune")
    phase3 = []
    if config.embedding_bits:
        # Clustering-aware: the table becomes 2^bits shared levels (per column or per table), then
        # the levels are fine-tuned with their members tied; after INT8 conversion the table holds
        # at most 2^bits distinct values per column (or in all), as LUT compression needs.
        keras = frameworks.keras()
        centroids, assignments = cluster_table(embedding.get_weights()[0], config.embedding_bits,
                                               config.embedding_lut == "per_channel")
        tied = _tied_embedding(centroids, assignments)
        ids_in = keras.Input((config.sequence_length,), dtype="int32", name="ids")
        clustered = keras.Model(ids_in, trunk(tied(ids_in)), name="student_clustered")
        phase3 = _fit(clustered, x, y, validation, config.cluster_epochs, config.finetune_learning_rate, config, k,
                      "student: clustered")
        embedding.set_weights([tied.table().numpy()])

    predictions = {name: deployable.predict(ids[name], batch_size=256, verbose=0) for name in ("validation", "test")}
    accuracy = {name: float((p.argmax(1) == truth[name]).mean()) for name, p in predictions.items()}
    agreement = {name: float((p.argmax(1) == logits[name].argmax(1)).mean()) for name, p in predictions.items()}
    np.save(out / "predictions_test.npy", predictions["test"].astype(np.float32))

    serve = tf.function(lambda token_ids: {"logits": deployable(token_ids, training=False)})
    signature = serve.get_concrete_function(tf.TensorSpec([1, config.sequence_length], tf.int32, name="ids"))
    tf.saved_model.save(deployable, str(out / "saved_model"), signatures={"serving_default": signature})

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), size=min(CALIBRATION_IDS, len(x)), replace=False)
    np.save(out / "calibration_ids.npy", x[np.sort(pick)])
    summary = {
        "architecture": config.architecture,
        "vocab_size": len(vocab),
        "sequence_length": config.sequence_length,
        "embedding_dim": config.embedding_dim,
        "parameters": int(deployable.count_params()),
        "accuracy": accuracy,
        "teacher_agreement": agreement,
        "validation_accuracy_per_epoch": {"projection": phase1, "fine_tune": phase2, "clustered": phase3},
        "embedding_bits": config.embedding_bits,
        "embedding_lut": config.embedding_lut if config.embedding_bits else None,
        "labels": labels,
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
