"""Build, save and load the search index with a manifest that guards against staleness.

An index is a directory ``models/kb/index-<version>-<time>/`` holding the
procedure snapshot, the BM25 postings, the faiss index, the trained encoder
and ``manifest.json``.  ``models/kb/current`` is a symlink swapped atomically
when a build finishes, so a running action server never sees a half-built
index, and an admin's catalogue update needs no downtime.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from knowledge_base import store
from knowledge_base.bm25 import BM25Index
from knowledge_base.encoder import (
    BKAI_MODEL_ID,
    STATIC_MODEL_ID,
    Encoder,
    doc_text,
    load_encoder,
    model_fingerprint,
    train_static,
)
from knowledge_base.features import doc_fields, lexical_terms
from knowledge_base.schema import Procedure

FORMAT_VERSION = 1


class StaleIndexError(RuntimeError):
    """The index is missing, stale or was built with another model."""




def configured_model_id() -> str:
    """``KB_DENSE_MODEL``: "static" (default, offline) or "bkai" (after ``make models``)."""
    choice = os.environ.get("KB_DENSE_MODEL", "static").lower()
    if choice in {"static", STATIC_MODEL_ID}:
        return STATIC_MODEL_ID
    if choice in {"bkai", BKAI_MODEL_ID}:
        return BKAI_MODEL_ID
    raise StaleIndexError(f"KB_DENSE_MODEL='{choice}' không hợp lệ; dùng 'static' hoặc 'bkai'")


def hf_model_dir() -> Path:
    return Path(os.environ.get("KB_HF_MODEL_DIR", store.REPO_ROOT / "models" / "hf" / "vietnamese-bi-encoder"))


def current_dir() -> Path:
    return store.data_dir() / "current"


def doc_terms(proc: Procedure) -> list[str]:
    """BM25 terms of a procedure; the name counts twice because it is the strongest evidence."""
    fields = doc_fields(proc)
    terms = lexical_terms(fields["name"]) * 2
    for key in ("aliases", "field", "result"):
        terms += lexical_terms(fields[key])
    terms += lexical_terms(fields["details"], with_words=False)
    return terms


@dataclass
class LoadedIndex:
    manifest: dict
    procedures: list[Procedure]
    bm25: BM25Index
    faiss_index: object
    encoder: Encoder
    path: Path


def build(procedures: list[Procedure] | None = None, log=print) -> Path:  # noqa: ANN001
    """Build a fresh index from the live catalogue and make it current."""
    import faiss

    t0 = time.perf_counter()
    procedures = procedures if procedures is not None else store.load_all()
    if not procedures:
        raise StaleIndexError("Danh mục thủ tục trống: không có gì để lập chỉ mục")
    version = store.catalogue_version(procedures)
    model_id = configured_model_id()
    root = store.data_dir()
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"index-{version}-{int(time.time() * 1000)}"
    tmp = out.with_name(out.name + ".building")
    tmp.mkdir()
    try:
        log(f"[kb] {len(procedures)} thủ tục, phiên bản danh mục {version}")
        t = time.perf_counter()
        bm25 = BM25Index.build([doc_terms(p) for p in procedures])
        log(f"[kb] BM25: {len(bm25.postings)} từ khóa ({time.perf_counter() - t:.1f}s)")
        if model_id == STATIC_MODEL_ID:
            t = time.perf_counter()
            stats = train_static(procedures, tmp / "encoder")
            log(f"[kb] huấn luyện mô hình nhúng: {stats['pairs']} cặp, {stats['seconds']:.1f}s, loss {stats['loss']:.3f}")
            encoder_dir = tmp / "encoder"
        else:
            encoder_dir = hf_model_dir()
        encoder = load_encoder(encoder_dir, model_id)
        t = time.perf_counter()
        vecs = encoder.encode([doc_text(p) for p in procedures])
        index = faiss.IndexFlatIP(vecs.shape[1])
        index.add(vecs)
        log(f"[kb] faiss: {index.ntotal} vectơ, {vecs.shape[1]} chiều ({time.perf_counter() - t:.1f}s)")
        with (tmp / "procedures.jsonl").open("w", encoding="utf-8") as fh:
            for p in procedures:
                fh.write(p.model_dump_json() + "\n")
        with (tmp / "bm25.pkl").open("wb") as fh:
            pickle.dump(bm25, fh, protocol=pickle.HIGHEST_PROTOCOL)
        faiss.write_index(index, str(tmp / "dense.faiss"))
        manifest = {
            "format": FORMAT_VERSION,
            "catalogue_version": version,
            "n_procedures": len(procedures),
            "n_curated": sum(p.curated for p in procedures),
            "model_id": model_id,
            "model_fingerprint": model_fingerprint(encoder_dir),
            "dim": int(vecs.shape[1]),
            "build_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.perf_counter() - t0, 2),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _make_current(out)
    log(f"[kb] chỉ mục sẵn sàng: {out} ({manifest['build_seconds']}s)")
    return out


def _make_current(target: Path) -> None:
    """Point ``current`` at ``target`` atomically and remove older index directories."""
    link = current_dir()
    tmp_link = link.with_name(f".current-{os.getpid()}")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(target.name)
    os.replace(tmp_link, link)
    for old in link.parent.glob("index-*"):
        if old.resolve() != target.resolve() and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def load(path: Path | None = None, check_catalogue: bool = True) -> LoadedIndex:
    """Load an index, refusing one that is stale or built with another model."""
    import faiss

    path = path or current_dir()
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise StaleIndexError(f"Chưa có chỉ mục tìm kiếm tại {path}. Hãy chạy: python -m knowledge_base build")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise StaleIndexError(f"Chỉ mục {path} có định dạng {manifest.get('format')}, cần {FORMAT_VERSION}: hãy build lại")
    model_id = configured_model_id()
    if manifest["model_id"] != model_id:
        raise StaleIndexError(
            f"Chỉ mục được lập với mô hình '{manifest['model_id']}' nhưng cấu hình là '{model_id}': hãy build lại"
        )
    encoder_dir = path / "encoder" if model_id == STATIC_MODEL_ID else hf_model_dir()
    if model_fingerprint(encoder_dir) != manifest["model_fingerprint"]:
        raise StaleIndexError(f"Mô hình nhúng tại {encoder_dir} khác với mô hình đã lập chỉ mục: hãy build lại")
    with (path / "procedures.jsonl").open(encoding="utf-8") as fh:
        procedures = [Procedure.model_validate_json(line) for line in fh if line.strip()]
    if store.catalogue_version(procedures) != manifest["catalogue_version"]:
        raise StaleIndexError(f"Tệp thủ tục trong {path} không khớp manifest: chỉ mục bị hỏng, hãy build lại")
    if check_catalogue:
        _check_catalogue(manifest)
    with (path / "bm25.pkl").open("rb") as fh:
        bm25 = pickle.load(fh)  # noqa: S301 - our own artefact, written by build()
    index = faiss.read_index(str(path / "dense.faiss"))
    encoder = load_encoder(encoder_dir, model_id)
    if index.ntotal != len(procedures):
        raise StaleIndexError(f"faiss có {index.ntotal} vectơ nhưng có {len(procedures)} thủ tục: hãy build lại")
    return LoadedIndex(manifest, procedures, bm25, index, encoder, path.resolve())


def _check_catalogue(manifest: dict) -> None:
    live = store.catalogue_version(store.load_all())
    if live != manifest["catalogue_version"]:
        raise StaleIndexError(
            f"Chỉ mục đã cũ: danh mục hiện tại là {live}, chỉ mục lập cho {manifest['catalogue_version']}. "
            "Hãy chạy: python -m knowledge_base build"
        )


def load_check_catalogue(loaded: LoadedIndex) -> None:
    """Raise StaleIndexError when the live catalogue differs from what ``loaded`` indexed."""
    _check_catalogue(loaded.manifest)

