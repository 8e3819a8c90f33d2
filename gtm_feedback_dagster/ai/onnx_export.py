"""The ONNX export of the local model: made once with torch.onnx into the home folder, with the
torch vectors of fixed texts stored inside it, and used only while it reproduces them.

Plain Python, no Dagster. onnx, torch and transformers are imported only to export; checking and
loading an existing export needs ONNX Runtime alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gtm_feedback_dagster.ai import local_model
from gtm_feedback_dagster.ai.embedders import EmbeddingError
from gtm_feedback_dagster.ai.local_model import (
    LOCAL_MODEL_NAME,
    OnnxModel,
    TorchModel,
    _offline_env,
    max_seq_length,
    packaged_model_path,
    weights_fingerprint,
)

log = logging.getLogger(__name__)

# An ONNX export is used only while its vectors match torch's this closely on VERIFY_TEXTS.
ONNX_MIN_COSINE = 0.9999
ONNX_EXPORT_FORMAT = "1"  # bump when the export (graph, inputs, metadata) changes
ONNX_OPSET = 17
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


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _file_identity(path: Path, model_dir: Path) -> dict[str, Any]:
    """What a verification holds for: this very file (device, inode, size, mtime), these
    weights and this ONNX Runtime. Any rewrite, copy or upgrade changes it."""
    import onnxruntime

    stat = path.stat()
    return {
        "file": [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns],
        "weights": weights_fingerprint(model_dir),
        "onnxruntime": onnxruntime.__version__,
        "texts": list(VERIFY_TEXTS),
    }


def _stamped_cosine(path: Path, model_dir: Path) -> float | None:
    """The cosine an earlier load verified for this same file, or None (no stamp, or it is for
    another file, weights, runtime or texts, or below today's threshold)."""
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        cosine = float(stamp["cosine_min"])
        same = stamp["identity"] == json.loads(json.dumps(_file_identity(path, model_dir)))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return cosine if same and cosine >= ONNX_MIN_COSINE else None


def _write_stamp(path: Path, model_dir: Path, cosine: float) -> None:
    """Records a passed verification next to the export (atomically; skipped when the folder
    is not writable: the next load then verifies again)."""
    stamp = _stamp_path(path)
    try:
        body = json.dumps({"identity": _file_identity(path, model_dir), "cosine_min": cosine})
        fd, tmp_name = tempfile.mkstemp(prefix=stamp.name + ".", suffix=".part", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.chmod(tmp_name, 0o644)  # like the export itself
        os.replace(tmp_name, stamp)
    except OSError as exc:
        log.debug("could not record the ONNX verification of %s: %s", path, exc)


def _check_export(
    path: Path, model_dir: Path, *, trust_stamp: bool = False
) -> tuple[OnnxModel | None, str, float]:
    """(model, "", cosine) when the file at `path` is a verified export of these weights, else
    (None, why, cosine). Runs VERIFY_TEXTS through it and compares with the torch vectors stored
    inside it at export time: torch is not needed. With `trust_stamp`, a file this process's
    ONNX Runtime already verified (same inode, size and mtime: `_write_stamp`) is not run
    again: the check costs ~0.2 s on 2 cores, the budget of a cold run's whole model load."""
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
    stamped = _stamped_cosine(path, model_dir) if trust_stamp else None
    if stamped is not None:
        return model, "", stamped
    cosine = float(_cosines(_verify_vectors(model), reference).min())
    if not cosine >= ONNX_MIN_COSINE:
        return None, f"cosine {cosine:.6f} against torch < {ONNX_MIN_COSINE}", cosine
    if trust_stamp:
        _write_stamp(path, model_dir, cosine)
    return model, "", cosine


def _verify_vectors(model: Any) -> np.ndarray:
    # The short texts in one batch (padding to the longest of them), the long one alone: the
    # check stays cheap enough to run on every load (~40 ms).
    short = model.encode(VERIFY_TEXTS[:-1], len(VERIFY_TEXTS) - 1)
    return np.concatenate([short, model.encode(VERIFY_TEXTS[-1:], 1)], axis=0)


def _reference_torch(model_dir: Path) -> TorchModel:
    shared = local_model._MODELS.get(("torch", str(model_dir)))
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
    model, why, cosine = _check_export(path, model_dir, trust_stamp=True)
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
            _stamp_path(path).unlink(missing_ok=True)
            # Temporary files of exports killed half-way (we hold the lock: none is running).
            for stale in path.parent.glob(path.name + ".*.tmp"):
                stale.unlink(missing_ok=True)
            cosine = export_onnx(model_dir, path)
        finally:
            _lock(lock, False)
    model, why, _ = _check_export(path, model_dir, trust_stamp=True)
    if model is None:
        raise OnnxVerificationError(f"the fresh ONNX export {path} does not load: {why}")
    return model, OnnxLoad(path, exported=True, rejected=rejected, cosine_min=cosine)
