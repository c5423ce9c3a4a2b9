"""The embedding model's forward pass on ONNX Runtime: sentence-transformers' vectors without torch.

``import torch`` alone holds 727 MiB resident (its CUDA build's libraries and their heap), more
than half the worker's memory budget; onnxruntime holds 44 MiB. So the worker runs an export of the
model's transformer, made once per model by ``clustering.embedding.onnx_export`` (in a child process, so the
worker itself never imports torch) and kept in ``~/.cache/newsflow/models/onnx``. The rest of the
model is small and runs here in numpy, as sentence-transformers runs it: the prompt, the
tokenizer, the token table lookup (the graph takes ``inputs_embeds``, so the default model keeps
its 4-bit table, see ``newsflow.model_compact``), pooling, Dense and Normalize.

Faithful by construction and checked at build: the export is refused unless it reproduces
sentence-transformers' vectors on a fixed set of texts (``MAX_DEVIATION``); the measured deviation
is in the manifest. A changed source model or a corrupt file is found at load (hashes in the
manifest) and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsflow.errors import ModelExportError

log = logging.getLogger(__name__)

EXPORT_FORMAT = 2
MANIFEST_FILE = "export.json"
ONNX_FILE = "model.onnx"
HEAD_FILE = "head.npz"
TABLE_FILE = "word_embeddings.npy"  # float32 rows, memory-mapped: only looked-up rows are resident
Q4_TABLE_FILE = "word_embeddings.q4.safetensors"  # the default model's 4-bit table (model_compact)
PIECE_TOKENIZER_FILE = "tokenizer.spm"
TOKENIZER_JSON_FILE = "tokenizer.json"  # any other model's fast tokenizer
MAX_DEVIATION = 1e-4  # largest |difference| of any vector component to sentence-transformers' vector
_SMALL_FILE = 1 << 20


def source_fingerprint(directory: Path) -> str:
    """What identifies the source model's files: every file's path and size, the bytes of the small
    ones (configs, tokenizers) and the first and last MiB of the large ones (weights)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".")):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(directory)}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= 2 * _SMALL_FILE:
                digest.update(handle.read())
            else:
                digest.update(handle.read(_SMALL_FILE))
                handle.seek(-_SMALL_FILE, 2)
                digest.update(handle.read())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def export_problem(export: Path, source: Path, model_id: str) -> str | None:
    """Why ``export`` cannot serve the model at ``source`` (None: it can)."""
    try:
        manifest = json.loads((export / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no export yet"
    except (OSError, ValueError) as exc:
        return f"unreadable manifest ({type(exc).__name__})"
    if manifest.get("format") != EXPORT_FORMAT:
        return f"export format {manifest.get('format')!r}, this newsflow reads {EXPORT_FORMAT}"
    if manifest.get("model_id") != model_id:
        return f"exported for model {manifest.get('model_id')!r}"
    if manifest.get("source_fingerprint") != source_fingerprint(source):
        return "the source model's files changed since the export"
    for name, expected in manifest.get("files", {}).items():
        path = export / name
        if not path.is_file() or file_sha256(path) != expected:
            return f"{name} is missing or corrupt (SHA-256 differs from the manifest)"
    return None


@dataclass(frozen=True)
class Head:
    """What sentence-transformers does around the transformer, as data (written by the export)."""

    prompt: str
    lower_case: bool
    pooling: str  # "mean" or "cls"
    steps: tuple[tuple[str, np.ndarray | None, np.ndarray | None], ...]  # ("normalize"|"dense"|"dense_tanh", W, b)
    dimension: int

    @classmethod
    def load(cls, export: Path, manifest: dict[str, Any]) -> Head:
        arrays = np.load(export / HEAD_FILE)
        steps = []
        for k, kind in enumerate(manifest["steps"]):
            steps.append((kind, arrays.get(f"w{k}"), arrays.get(f"b{k}")))
        return cls(manifest["prompt"], manifest["lower_case"], manifest["pooling"], tuple(steps), manifest["dimension"])

    def apply(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Pool the token vectors (batch, length, hidden) and run the steps after pooling."""
        if self.pooling == "cls":
            vectors = tokens[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            vectors = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        for kind, weight, bias in self.steps:
            if kind == "normalize":
                vectors = normalise(vectors)
                continue
            assert weight is not None
            vectors = vectors @ weight.T + (bias if bias is not None else 0.0)
            if kind == "dense_tanh":
                vectors = np.tanh(vectors)
        return np.asarray(vectors, dtype=np.float32)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as torch's ``F.normalize`` (norms clamped at 1e-12)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class TokenTable:
    """The model's token embeddings: float32 rows memory-mapped, or 4-bit blocks dequantised per row."""

    def __init__(self, export: Path, dimension: int) -> None:
        self.dimension = dimension
        self._rows: np.ndarray | None = None
        self._scales = self._nibbles = None
        if (export / Q4_TABLE_FILE).is_file():
            from safetensors.numpy import load_file

            tensors = load_file(str(export / Q4_TABLE_FILE))
            self._scales, self._nibbles = tensors["scales"], tensors["nibbles"]
        else:
            self._rows = np.load(export / TABLE_FILE, mmap_mode="r")

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        if self._rows is not None:
            return np.asarray(self._rows[ids], dtype=np.float32)
        assert self._scales is not None and self._nibbles is not None
        # The arithmetic of clustering.embedding.compact_e5.Q4Embedding: a block is 16 low nibbles, then 16
        # high ones, each minus 8, times the block's float16 scale widened to float32.
        nibbles = self._nibbles[ids]
        nibbles = nibbles.reshape(*nibbles.shape[:-1], self._scales.shape[1], -1)
        low = (nibbles & 0x0F).astype(np.int8) - 8
        high = (nibbles >> 4).astype(np.int8) - 8
        weights = np.concatenate([low, high], axis=-1).astype(np.float32)
        scales = self._scales[ids].astype(np.float32)[..., None]
        return (weights * scales).reshape(*ids.shape, -1)


class OnnxEncoder:
    """An export loaded for encoding; the part of ``SentenceTransformer``'s interface the embedder uses."""

    device = "cpu"  # onnxruntime's CPU provider: the only one newsflow asks for

    def __init__(self, export: Path, max_seq_length: int, threads: int = 0, variant: str = "") -> None:
        import onnxruntime

        self.variant = variant  # "" (float32) or "int8" (clustering.embedding.int8): part of the cache key

        manifest = json.loads((export / MANIFEST_FILE).read_text(encoding="utf-8"))
        self.model_id: str = manifest["model_id"]
        self.head = Head.load(export, manifest)
        self.table = TokenTable(export, manifest["hidden_size"])
        self.tokenizer = _load_tokenizer(export, manifest)
        # Never past the position table: the model's own limit caps a longer setting.
        self.max_seq_length = min(max_seq_length, int(manifest["max_tokens"]))
        # Data-parallel: ``threads`` single-threaded runs of one session at once, each on its own
        # slice of the batch (onnxruntime's ``run`` is thread-safe and releases the GIL). onnxruntime's
        # own intra-op threads meet at a barrier after every operator, so one of them delayed by the
        # worker's other work (lookahead.py) held up the rest: measured on distinct articles
        # (benchmarks/worker_distinct.py) 51.8 articles/s against 43.1 with two intra-op threads, with
        # less CPU (51.6 s against 62.6 s); the pass alone 62 against 59 texts/s.
        self.threads = threads if threads > 0 else usable_cores()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: the graph optimiser's notes are not the user's business
        self.session = onnxruntime.InferenceSession(
            str(export / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )

    def get_embedding_dimension(self) -> int:
        return self.head.dimension

    def encode(
        self, texts: list[str], batch_size: int = 32, normalize_embeddings: bool = False, **_: Any
    ) -> np.ndarray:
        """Vectors of ``texts`` in order; batches of similar length (longest first), as
        sentence-transformers forms them, so a batch pads little."""
        out = np.empty((len(texts), self.head.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        size = max(1, min(batch_size, -(-len(texts) // self.threads)))  # every thread gets a slice
        slices = [order[start : start + size] for start in range(0, len(texts), size)]
        def encode_slice(rows: np.ndarray) -> np.ndarray:
            return self._encode_batch([texts[i] for i in rows])

        parallel = len(slices) > 1 and self.threads > 1
        done = self._thread_pool().map(encode_slice, slices) if parallel else map(encode_slice, slices)
        for rows, vectors in zip(slices, done, strict=True):
            out[rows] = vectors
        return normalise(out) if normalize_embeddings else out

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._pool is None or self._pool_pid != os.getpid():  # a forked child has none of its threads
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="onnx")
            self._pool_pid = os.getpid()
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        prompted = [self.head.prompt + t for t in texts]
        if self.head.lower_case:
            prompted = [t.lower() for t in prompted]
        encoded = self.tokenizer(
            prompted, padding=True, truncation="longest_first", max_length=self.max_seq_length, return_tensors="np"
        )
        ids = np.asarray(encoded["input_ids"], dtype=np.int64)
        mask = np.asarray(encoded["attention_mask"], dtype=np.int64)
        (tokens,) = self.session.run(["tokens"], {"inputs_embeds": self.table.lookup(ids), "attention_mask": mask})
        return self.head.apply(tokens, mask)


def usable_cores() -> int:
    """The cores this process may run on (its affinity: a worker pinned with ``taskset`` owns fewer)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity API (macOS)
        return max(1, os.cpu_count() or 1)


def _load_tokenizer(export: Path, manifest: dict[str, Any]) -> Any:
    kind = manifest["tokenizer"]
    if kind == "piece":
        from clustering.embedding.piece_tokenizer import PieceTokenizer

        return PieceTokenizer.from_directory(export)
    if kind == "tokenizers":
        return JsonTokenizer(export / TOKENIZER_JSON_FILE, manifest["pad_id"], manifest["pad_token"])
    raise ModelExportError(f"export at {export} names an unknown tokenizer kind {kind!r}")


class JsonTokenizer:
    """A fast tokenizer's ``tokenizer.json`` run by the tokenizers library itself: transformers'
    ``AutoTokenizer`` would import torch (its config utilities do) for the same ids."""

    def __init__(self, path: Path, pad_id: int, pad_token: str) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        self._max_length: int | None = None

    def __call__(self, texts: list[str], *, max_length: int, **_: Any) -> dict[str, np.ndarray]:
        """Ids and attention mask, padded to the longest text, cut at ``max_length`` tokens (special
        tokens included, as transformers cuts)."""
        if max_length != self._max_length:
            self.tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
            self._max_length = max_length
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
