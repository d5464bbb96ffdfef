"""Content-addressed caches of the teacher stage, shared by every build that points at the same directory.

Two caches live under `cache_dir`:

- `checkpoints/<key>/`: fine-tuned teacher checkpoints. The key hashes what fine-tuning reads and
  nothing else: the base teacher's weights (including its seeded, freshly initialised head) and
  tokenizer, the training split (texts and labels, in order), the fine-tuning settings, the seed and
  the number of processes (DDP draws other dropout masks than one process). Adding transfer text or
  changing augmentation therefore reuses the checkpoint instead of fine-tuning again.

- `texts/<namespace>/<shard>/`: what the teacher computes for one text, keyed by a 128-bit BLAKE2b
  hash of the text. The namespace hashes the teacher's weights, its tokenizer and max_length, so a
  different teacher never sees another's entries. Per text a shard keeps the raw logits (float32),
  the token ids and the last hidden state of every token at float16. The per-piece context vectors
  are sums of those rows over the training and transfer texts; float16 rows are summed exactly
  (as integers in units of 2**-24, the float16 grid) so a sum is the same whichever texts were
  cached, in whichever order: re-splitting, new augmentations or more transfer text only run the
  texts the cache has not seen. Size: 2 bytes x hidden width per token (768 B at width 384; the
  default task's 44k texts take about 0.8 GB).

Shards are directories of .npy files written to a temp directory and renamed into place, so a
reader never sees half a shard and an interrupted run keeps the shards it finished.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "1"
KEY_BYTES = 16
# float16 values are integer multiples of 2**-24 (the smallest subnormal); summing them as int64
# in those units is exact, hence independent of order and of how texts were split into shards.
FIXED_POINT = 2.0 ** 24


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=KEY_BYTES).digest()


def hash_state_dict(model) -> str:
    """SHA-256 over every parameter and buffer (name, dtype, shape, bytes), in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        array = tensor.detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(array.dtype).encode())
        digest.update(str(tuple(array.shape)).encode())
        digest.update(array.view(-1).view(dtype=_byte_dtype()).numpy().tobytes())
    return digest.hexdigest()


def _byte_dtype():
    import torch

    return torch.uint8


def hash_tokenizer(tokenizer) -> str:
    """Hashes what turns text into ids: the fast tokenizer's full definition (vocab, normaliser,
    pre-tokeniser, post-processor) without its truncation/padding state, or the vocabulary."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        definition = json.loads(backend.to_str())
        definition.pop("truncation", None)
        definition.pop("padding", None)
        payload = json.dumps(definition, sort_keys=True)
    else:
        payload = json.dumps(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(payload.encode()).hexdigest()


def hash_json(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def hash_examples(texts: list[str], labels: list[int]) -> str:
    digest = hashlib.sha256()
    for text, label in zip(texts, labels):
        digest.update(text_key(text))
        digest.update(str(int(label)).encode() + b"\n")
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Fine-tuned checkpoints


def checkpoint_dir(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / "checkpoints" / key


def load_checkpoint(cache_dir: Path, key: str, model) -> dict | None:
    """Loads a cached fine-tuned teacher into `model` and returns its training summary, or None."""
    directory = checkpoint_dir(cache_dir, key)
    weights, summary = directory / "model.safetensors", directory / "training.json"
    if not (weights.is_file() and summary.is_file()):
        return None
    from safetensors.torch import load_model

    load_model(model, str(weights), strict=True)
    return json.loads(summary.read_text())


def save_checkpoint(cache_dir: Path, key: str, model, summary: dict) -> None:
    """Stores a fine-tuned teacher's weights (safetensors; tied weights once) and training summary."""
    from safetensors.torch import save_model

    directory = checkpoint_dir(cache_dir, key)
    if directory.is_dir():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", suffix=".tmp", dir=directory.parent))
    try:
        save_model(model, str(tmp / "model.safetensors"))
        # Key order kept: the summary goes into metrics.json, which must not change on a cache hit.
        (tmp / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
        try:
            os.replace(tmp, directory)
        except OSError:  # another build stored the same checkpoint first: equal content, keep theirs
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Per-text logits and hidden states


@dataclass
class TextResult:
    """What the teacher computed for a batch of texts: raw logits, and per text its token ids and
    last hidden states (float16), concatenated; `lengths[i]` tokens belong to text i."""

    keys: list[bytes]
    logits: np.ndarray  # [n, K] float32
    lengths: np.ndarray  # [n] int32
    ids: np.ndarray  # [sum(lengths)] int32
    hidden: np.ndarray  # [sum(lengths), H] float16


class TextCache:
    """Logits and float16 hidden states per (teacher namespace, text hash)."""

    def __init__(self, cache_dir: Path, namespace: str):
        self.root = Path(cache_dir) / "texts" / namespace
        self.index: dict[bytes, tuple[Path, int]] = {}
        self._offsets: dict[Path, np.ndarray] = {}
        if self.root.is_dir():
            for shard in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
                try:
                    keys = np.load(shard / "keys.npy")
                except (OSError, ValueError):
                    continue  # unreadable shard: its texts are simply computed again
                for row, key in enumerate(keys):
                    self.index.setdefault(key.tobytes(), (shard, row))

    def __contains__(self, key: bytes) -> bool:
        return key in self.index

    def missing(self, keys: list[bytes]) -> list[bytes]:
        seen, out = set(), []
        for key in keys:
            if key not in self.index and key not in seen:
                seen.add(key)
                out.append(key)
        return out

    def add(self, result: TextResult) -> Path | None:
        """Stores a batch of results as one new shard (atomically)."""
        if not result.keys:
            return None
        if not np.isfinite(result.hidden).all():
            raise ValueError("teacher hidden states overflow float16; cannot cache them")
        self.root.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=self.root))
        try:
            # uint8 rows, not numpy bytes strings: those drop trailing zero bytes.
            keys = np.frombuffer(b"".join(result.keys), dtype=np.uint8).reshape(-1, KEY_BYTES)
            np.save(tmp / "logits.npy", result.logits.astype(np.float32))
            np.save(tmp / "lengths.npy", result.lengths.astype(np.int32))
            np.save(tmp / "ids.npy", result.ids.astype(np.int32))
            np.save(tmp / "hidden.npy", result.hidden.astype(np.float16))
            np.save(tmp / "keys.npy", keys)  # written last: a shard without keys is ignored
            shard = self.root / name
            os.replace(tmp, shard)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for row, key in enumerate(result.keys):
            self.index.setdefault(key, (shard, row))
        return shard

    def _shard_offsets(self, shard: Path) -> np.ndarray:
        if shard not in self._offsets:
            lengths = np.load(shard / "lengths.npy")
            self._offsets[shard] = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        return self._offsets[shard]

    def _by_shard(self, keys: list[bytes]) -> dict[Path, list[tuple[int, int]]]:
        groups: dict[Path, list[tuple[int, int]]] = {}
        for position, key in enumerate(keys):
            try:
                shard, row = self.index[key]
            except KeyError:
                raise KeyError(f"text {key.hex()} is not in the teacher cache") from None
            groups.setdefault(shard, []).append((position, row))
        return groups

    def logits(self, keys: list[bytes]) -> np.ndarray:
        """Raw logits for `keys`, in the order given."""
        out = None
        for shard, pairs in self._by_shard(keys).items():
            table = np.load(shard / "logits.npy", mmap_mode="r")
            if out is None:
                out = np.zeros((len(keys), table.shape[1]), dtype=np.float32)
            positions, rows = zip(*pairs)
            out[list(positions)] = table[list(rows)]
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)

    def accumulate(self, keys: list[bytes], context: TokenContext) -> None:
        """Adds every occurrence in `keys` (duplicates count again) to the per-piece sums."""
        for shard, pairs in self._by_shard(keys).items():
            offsets = self._shard_offsets(shard)
            ids = np.load(shard / "ids.npy", mmap_mode="r")
            hidden = np.load(shard / "hidden.npy", mmap_mode="r")
            rows = np.array(sorted(row for _, row in pairs), dtype=np.int64)
            # Token rows of the wanted texts (a text listed twice contributes twice).
            spans = [np.arange(offsets[r], offsets[r + 1]) for r in rows]
            take = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
            for start in range(0, len(take), 1 << 18):
                part = take[start : start + (1 << 18)]
                context.add(np.asarray(ids[part]), np.asarray(hidden[part]))


class TokenContext:
    """Per-vocabulary-piece mean of the teacher's last hidden state over the texts it reads.

    A context-aware, task-tuned vector for every piece: the student's embedding table is learned
    as a projection of these (see toolchain.student). Rows arrive as float16 and are summed as
    int64 multiples of 2**-24, which is exact: the sums do not depend on the order of the texts."""

    def __init__(self, vocab_size: int, hidden: int):
        import torch

        self.sums = torch.zeros((vocab_size, hidden), dtype=torch.int64)
        self.counts = np.zeros(vocab_size, dtype=np.int64)

    def add(self, ids: np.ndarray, rows: np.ndarray) -> None:
        import torch

        if len(ids) == 0:
            return
        fixed = torch.from_numpy(np.asarray(rows, dtype=np.float16).astype(np.float64) * FIXED_POINT)
        index = torch.from_numpy(np.asarray(ids, dtype=np.int64))
        self.sums.index_add_(0, index, fixed.to(torch.int64))
        self.counts += np.bincount(np.asarray(ids, dtype=np.int64), minlength=len(self.counts))

    def means(self) -> np.ndarray:
        sums = self.sums.numpy().astype(np.float64) / FIXED_POINT
        return (sums / np.maximum(self.counts, 1)[:, None]).astype(np.float32)
