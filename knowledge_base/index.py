"""Build, save and load the search index with a manifest that guards against staleness.

An index is a directory ``models/kb/index-<version>-<time>/`` holding the
procedure snapshot, the BM25 postings, the faiss index, the trained encoder
and ``manifest.json``.  ``models/kb/current`` is a symlink swapped atomically
when a build finishes, so a running action server never sees a half-built
index, and an admin's catalogue update needs no downtime.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pickle
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge_base import store
from knowledge_base.bm25 import BM25Index, TermCollector
from knowledge_base.encoder import (
    BKAI_MODEL_ID,
    STATIC_MODEL_ID,
    Encoder,
    load_encoder,
    model_fingerprint,
    train_static,
)
from knowledge_base.features import _mn_re as features_mn_re
from knowledge_base.features import (
    cached_analysis,
    cached_lexical_terms,
    cached_syllables,
    clear_build_caches,
    seed_syllables,
    short_name,
    syllable_terms,
)
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


def doc_terms(proc: Procedure, segmenter: DictSegmenter | None = None) -> list[str]:
    """BM25 terms of a procedure; the name counts twice because it is the strongest evidence.

    ``segmenter``: for very large builds, words found by dictionary lookup instead of running
    underthesea on every name (see :func:`all_doc_terms`).  Every text is normalised (and
    segmented) once per build: ``features.cached_analysis`` (the same terms as
    ``lexical_terms``; tests/test_index_speed_parts.py checks it).
    """
    aliases = " ; ".join(proc.aliases)
    if segmenter is None:
        terms = cached_lexical_terms(proc.name) * 2
        terms += cached_lexical_terms(aliases)
    else:
        terms = (syllable_terms(cached_analysis(proc.name, False)[0]) + segmenter.tokens(proc.name)) * 2
        terms += syllable_terms(cached_analysis(aliases, False)[0]) + segmenter.tokens(aliases)
    terms += _shared_terms(proc.field)
    terms += _shared_terms(proc.result or "")
    terms += detail_terms(proc)
    return terms


class DictSegmenter:
    """Greedy longest match over multi-syllable words that underthesea found in a sample of names.

    Why: underthesea segments about 300 names a second per core, so every name of a 100k
    catalogue cost more than the whole 10-minute budget.  Names reuse a small vocabulary of
    administrative words ("chứng_nhận", "quyền_sử_dụng", "ủy_ban_nhân_dân"), so a dictionary
    learnt from a few thousand names finds nearly the same words in microseconds.  Used only
    above ``KB_SEGMENT_FULL_MAX`` procedures (default 20000); smaller builds are unchanged.
    """

    def __init__(self, words: set[tuple[str, ...]]) -> None:
        self.words = words
        self.max_len = max((len(w) for w in words), default=1)

    def tokens(self, text: str) -> list[str]:
        syl, _, accented = cached_analysis(text, False)
        if not accented:  # no diacritics: as word_tokens, no words
            return []
        out, i = [], 0
        while i < len(syl):
            for n in range(min(self.max_len, len(syl) - i), 1, -1):
                if tuple(syl[i : i + n]) in self.words:
                    out.append("_".join(syl[i : i + n]))
                    i += n
                    break
            else:
                i += 1
        return out


def detail_terms(proc: Procedure) -> list[str]:
    """``lexical_terms(doc_fields(proc)["details"], with_words=False)``, computed per document name with a cache.

    Why: normalising the long documents text was two thirds of a 100k
    build, and the same document names ("Tờ khai…", "Bản sao…") recur in
    thousands of procedures.  Syllables never span the " ; " joints, so the
    result is identical (tests/admin/test_live_reload.py checks it).
    """
    syl = [s for part in [d.name for d in proc.documents] + proc.conditions for s in cached_syllables(part)]
    return syllable_terms(syl)


def _shared_terms(text: str) -> list[str]:
    """Terms of texts many procedures share (field, result): segmented once per build, not per procedure."""
    return cached_lexical_terms(text)


def dense_parts(proc: Procedure) -> list[str]:
    """The texts whose syllables the dense model needs (document text parts and the name query)."""
    return [proc.name, *proc.aliases, proc.field, short_name(proc.name).lower()]


@dataclass
class LoadedIndex:
    manifest: dict
    procedures: list[Procedure]
    bm25: BM25Index
    faiss_index: object
    encoder: Encoder
    path: Path
    # sha1 of each procedure's snapshot line: a reload reuses the validated Procedure of an unchanged line
    digests: list[bytes] = field(default_factory=list, repr=False)


@contextmanager
def build_lock(timeout: float | None = None) -> Iterator[None]:
    """Exclusive lock over index builds and switches in this data directory.

    Why: two builds (two publishes, a publish and ``make index``) used to
    run side by side and each deleted every other ``index-*`` directory,
    including one still being built.  Builds now queue on this lock (an
    ``flock`` on ``.build.lock``, released by the kernel if a builder dies).
    The lock is re-entrant within a thread, so ``build`` can be called by a
    publish that already holds it.
    """
    holder = getattr(_held, "depth", 0)
    if holder:
        _held.depth = holder + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    root = store.data_dir()
    root.mkdir(parents=True, exist_ok=True)
    fh = (root / ".build.lock").open("a+")
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    raise StaleIndexError("Một lần lập chỉ mục khác đang chạy; hãy thử lại sau.") from None
                time.sleep(0.2)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()


_held = threading.local()


def _catalogue_hash(procedures: list[Procedure], dumps: list[str]) -> str:
    """``store.catalogue_version(procedures)`` from JSON already serialised (a 100k build dumped it three times)."""
    h = hashlib.sha256()
    for i in sorted(range(len(procedures)), key=lambda i: procedures[i].code):
        h.update(dumps[i].encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:16]


_WORK: list[Procedure] = []  # the procedures of the running build, inherited by forked workers (no pickling)
_WORK_SEGMENTER: DictSegmenter | None = None


def _terms_worker(bounds: tuple[int, int]) -> tuple[list[list[str]], dict[str, tuple[str, ...]]]:
    """BM25 terms of ``_WORK[lo:hi]`` and the syllables the dense model will need (sent back to the parent)."""
    lo, hi = bounds
    procs = _WORK[lo:hi]
    terms = [doc_terms(p, _WORK_SEGMENTER) for p in procs]
    known = {t: cached_syllables(t) for p in procs for t in dense_parts(p)}
    return terms, known


def _words_worker(names: list[str]) -> list[str]:
    return [w for n in names for w in cached_analysis(n)[1]]


SEGMENT_FULL_MAX = int(os.environ.get("KB_SEGMENT_FULL_MAX", "20000"))
SEGMENT_SAMPLE = 4000
PARALLEL_MIN = 4000  # fewer procedures: segmented in this process (forking would cost more)


def _pool_map(fn, items: list, workers: int, log, label: str) -> list:  # noqa: ANN001
    import multiprocessing as mp

    chunk = max(1, (len(items) + workers * 4 - 1) // (workers * 4))
    parts = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    out: list = []
    with mp.get_context("fork").Pool(workers) as pool:
        for i, res in enumerate(pool.imap(fn, parts)):
            out.append(res)
            log(f"[kb] {label}: {i + 1}/{len(parts)}")
    return out


def all_doc_terms(procedures: list[Procedure], log=print, sink=None) -> list[list[str]]:  # noqa: ANN001
    """BM25 terms of every procedure, on every core for large catalogues.

    Why: underthesea word segmentation of every name was the largest single cost of a 100k
    build.  Every text is normalised and segmented once per build (``features.cached_*``:
    fields, results and document names repeat across thousands of procedures); above
    ``KB_SEGMENT_FULL_MAX`` procedures the curated names and a sample of the others are
    segmented by underthesea and the rest by :class:`DictSegmenter`.  The workers also send
    back the syllables of the names, aliases and fields, which the dense model reuses
    (``features.seed_syllables``) instead of normalising them again.  ``sink(terms)``: called
    with each chunk of documents' terms, in order, instead of returning them all.
    """
    global _WORK, _WORK_SEGMENTER
    workers = min(os.cpu_count() or 1, int(os.environ.get("KB_BUILD_WORKERS", "8")))
    segmenter = None
    if len(procedures) > SEGMENT_FULL_MAX:
        import random

        rng = random.Random(11)
        sample = [p.name for p in procedures if p.curated]
        sample += [p.name for p in rng.sample(procedures, min(SEGMENT_SAMPLE, len(procedures)))]
        sample += [a for p in procedures if p.curated for a in p.aliases]
        found = _pool_map(_words_worker, sample, workers, log, "tách từ mẫu") if workers > 1 else [_words_worker(sample)]
        segmenter = DictSegmenter({tuple(w.split("_")) for part in found for w in part})
        log(f"[kb] từ điển tách từ: {len(segmenter.words)} từ từ {len(sample)} tên")
    if len(procedures) < PARALLEL_MIN or workers < 2:
        terms = [doc_terms(p, segmenter) for p in procedures]
        if sink is None:
            return terms
        sink(terms)
        return []
    chunk = max(1, (len(procedures) + workers * 4 - 1) // (workers * 4))
    bounds = [(i, min(i + chunk, len(procedures))) for i in range(0, len(procedures), chunk)]
    out: list[list[str]] = []
    import multiprocessing as mp

    _WORK, _WORK_SEGMENTER = procedures, segmenter
    features_mn_re()  # built once here, inherited by the workers
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            done = 0
            for i, (terms, known) in enumerate(pool.imap(_terms_worker, bounds)):
                done += len(terms)
                if sink is None:
                    out.extend(terms)
                else:
                    sink(terms)
                del terms
                seed_syllables(known)
                log(f"[kb] từ khóa: {done}/{len(procedures)} thủ tục ({i + 1}/{len(bounds)})")
    finally:
        _WORK, _WORK_SEGMENTER = [], None
    return out


def build(
    procedures: list[Procedure] | None = None,
    log=print,  # noqa: ANN001
    *,
    reuse: Path | None = None,
    make_current: bool = True,
    progress: Callable[[int, str], None] | None = None,
    lock: bool = True,
) -> Path:
    """Build a fresh index from the live catalogue and (by default) make it current.

    ``reuse``: an existing index whose encoder, BM25 terms and vectors are
    reused for unchanged procedures (an incremental build: a one-procedure
    edit re-indexes in about a second instead of retraining the encoder).
    ``progress(percent, message)`` reports the stages.  ``lock=False`` when
    the caller already holds :func:`build_lock`.
    """
    if lock:
        with build_lock():
            return build(procedures, log, reuse=reuse, make_current=make_current, progress=progress, lock=False)
    import faiss

    def step(pct: int, msg: str) -> None:
        if progress is not None:
            progress(pct, msg)
        else:
            log(msg)

    t0 = time.perf_counter()
    procedures = procedures if procedures is not None else live_procedures()
    if not procedures:
        raise StaleIndexError("Danh mục thủ tục trống: không có gì để lập chỉ mục")
    dumps = [p.model_dump_json() for p in procedures]  # once: content keys, catalogue hash and the snapshot file
    version = _catalogue_hash(procedures, dumps)
    model_id = configured_model_id()
    root = store.data_dir()
    root.mkdir(parents=True, exist_ok=True)
    _remove_dead_builds(root)
    out = root / f"index-{version}-{int(time.time() * 1000)}"
    tmp = out.with_name(out.name + ".building")
    tmp.mkdir()
    try:
        prev = _reusable(reuse, model_id)
        keys = [hashlib.sha256(d.encode("utf-8")).hexdigest() for d in dumps]
        step(10, f"[kb] {len(procedures)} thủ tục, phiên bản danh mục {version}"
             + (f" (dùng lại chỉ mục {reuse.name})" if prev else ""))
        t = time.perf_counter()
        keep = np.asarray([prev["rows"].get(k, -1) if prev else -1 for k in keys], np.int64)
        todo = [int(i) for i in np.nonzero(keep < 0)[0]]
        if prev:
            fresh = dict(zip(todo, all_doc_terms([procedures[i] for i in todo], log), strict=True))
            bm25 = prev["bm25"].updated(keep, fresh)
            del fresh
        else:  # every procedure is new: term ids chunk by chunk, no list of every document's terms
            collector = TermCollector()
            all_doc_terms(procedures, log, sink=collector.add)
            bm25 = collector.index()
            del collector
        step(40, f"[kb] BM25: {len(bm25.postings)} từ khóa, {len(todo)} thủ tục tách từ ({time.perf_counter() - t:.1f}s)")
        if prev is not None and model_id == STATIC_MODEL_ID:
            shutil.copytree(prev["path"] / "encoder", tmp / "encoder", copy_function=os.link)  # hard links: no copy
            encoder_dir = tmp / "encoder"
        elif model_id == STATIC_MODEL_ID:
            t = time.perf_counter()
            stats = train_static(procedures, tmp / "encoder")
            step(70, f"[kb] huấn luyện mô hình nhúng: {stats['pairs']} cặp, {stats['seconds']:.1f}s, loss {stats['loss']:.3f}")
            encoder_dir = tmp / "encoder"
        else:
            encoder_dir = hf_model_dir()
        fingerprint = model_fingerprint(encoder_dir)
        encoder = _cached_encoder(encoder_dir, model_id, fingerprint)
        t = time.perf_counter()
        dim = encoder.encode(["x"]).shape[1]
        vecs = np.zeros((len(procedures), dim), np.float32)
        missing = []
        for i, k in enumerate(keys):
            row = prev["vectors"].get(k) if prev else None
            if row is None:
                missing.append(i)
            else:
                vecs[i] = row
        if missing:
            vecs[missing] = encoder.encode_procedures([procedures[i] for i in missing])
        index = faiss.IndexFlatIP(dim)
        index.add(vecs)
        step(85, f"[kb] faiss: {index.ntotal} vectơ, {dim} chiều, {len(missing)} vectơ mới ({time.perf_counter() - t:.1f}s)")
        with (tmp / "procedures.jsonl").open("w", encoding="utf-8") as fh:
            for d in dumps:
                fh.write(d + "\n")
        with (tmp / "bm25.pkl").open("wb") as fh:
            pickle.dump(bm25, fh, protocol=pickle.HIGHEST_PROTOCOL)
        faiss.write_index(index, str(tmp / "dense.faiss"))
        manifest = {
            "format": FORMAT_VERSION,
            "catalogue_version": version,
            "n_procedures": len(procedures),
            "n_curated": sum(p.curated for p in procedures),
            "model_id": model_id,
            "model_fingerprint": fingerprint,
            "dim": int(dim),
            "build_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.perf_counter() - t0, 2),
            "incremental_from": reuse.name if prev else None,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        clear_build_caches()
    if make_current:
        _make_current(out)
    step(90, f"[kb] chỉ mục sẵn sàng: {out} ({manifest['build_seconds']}s)")
    return out


_LAST_ENCODER: dict[tuple[str, str], Encoder] = {}


def _cached_encoder(encoder_dir: Path, model_id: str, fingerprint: str) -> Encoder:
    """The encoder of the previous build in this process when its weights are the same (by fingerprint).

    Why: an incremental build (a one-procedure publish in the admin app) hard-links the
    previous encoder and encodes a single procedure; loading the model again was a good part
    of its time.  Only the last model is kept.
    """
    key = (model_id, fingerprint)
    encoder = _LAST_ENCODER.get(key)
    if encoder is None:
        encoder = load_encoder(encoder_dir, model_id)
        _LAST_ENCODER.clear()
        _LAST_ENCODER[key] = encoder
    return encoder


def _reusable(reuse: Path | None, model_id: str) -> dict | None:
    """BM25 index, row and vector per procedure content hash, and path of an index we may reuse, else None."""
    if reuse is None:
        return None
    import faiss

    try:
        manifest = json.loads((reuse / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION or manifest.get("model_id") != model_id:
            return None
        with (reuse / "bm25.pkl").open("rb") as fh:
            bm25 = pickle.load(fh)  # noqa: S301 - our own artefact
        with (reuse / "procedures.jsonl").open(encoding="utf-8") as fh:  # lines are model_dump_json(): hash them as they are
            keys = [hashlib.sha256(line.rstrip("\n").encode("utf-8")).hexdigest() for line in fh if line.strip()]
        index = faiss.read_index(str(reuse / "dense.faiss"))
        vectors = index.reconstruct_n(0, index.ntotal)
    except (OSError, ValueError, pickle.UnpicklingError, RuntimeError):
        return None
    if len(keys) != len(bm25.doc_len) or len(keys) != len(vectors):
        return None
    return {"bm25": bm25, "rows": {k: i for i, k in enumerate(keys)}, "vectors": dict(zip(keys, vectors, strict=False)),
            "path": reuse}


KEEP_INDEXES = int(os.environ.get("KB_KEEP_INDEXES", "4"))


def _remove_dead_builds(root: Path) -> None:
    """Remove ``*.building`` directories left by a crashed build (we hold the lock, so none is alive)."""
    for tmp in root.glob("index-*.building"):
        shutil.rmtree(tmp, ignore_errors=True)


def make_current(target: Path) -> None:
    """Point ``current`` at ``target`` atomically, under the build lock; keep recent indexes for rollback."""
    with build_lock():
        _make_current(target)


def _make_current(target: Path) -> None:
    """Point ``current`` at ``target`` atomically and prune old complete index directories.

    Only finished ``index-*`` directories are pruned (never one being built),
    and the newest ``KB_KEEP_INDEXES`` (default 4) are kept besides the new
    current one, so a rollback to a recent version switches instantly and a
    server still loading the previous index finds it on disk.
    """
    link = current_dir()
    tmp_link = link.with_name(f".current-{os.getpid()}")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(target.name)
    os.replace(tmp_link, link)
    finished = [p for p in link.parent.glob("index-*") if p.is_dir() and not p.name.endswith(".building")]
    finished.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    keep = {target.resolve()} | {p.resolve() for p in finished[:KEEP_INDEXES]}
    for old in finished:
        if old.resolve() not in keep:
            shutil.rmtree(old, ignore_errors=True)


def live_procedures() -> list[Procedure]:
    """The live catalogue: the published database version when there is one, else the YAML (+ import)."""
    from knowledge_base import publish

    live = publish.live_catalogue()
    return live[1] if live is not None else store.load_all()


def load(path: Path | None = None, check_catalogue: bool = True, previous: LoadedIndex | None = None) -> LoadedIndex:
    """Load an index, refusing one that is stale or built with another model.

    ``previous``: the index being replaced (the live server's background reload).  Procedures
    whose snapshot line is unchanged are taken from it instead of being validated again, and
    its encoder is kept when the model's fingerprint is the same (an incremental build
    hard-links the encoder): a one-procedure publish used to re-validate 2.6k procedures and
    reload the model, most of the ≈ 4 s between publish and the bot answering.
    """
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
        lines = [line.rstrip("\n") for line in fh if line.strip()]
    digests = [hashlib.sha1(line.encode("utf-8")).digest() for line in lines]  # noqa: S324 - a cache key
    known = dict(zip(previous.digests, previous.procedures, strict=False)) if previous is not None else {}
    procedures = []
    for line, digest in zip(lines, digests, strict=True):
        proc = known.get(digest)
        procedures.append(proc if proc is not None else Procedure.model_validate_json(line))
    # the snapshot's lines are the procedures' model_dump_json(): hash them as written (as build() does)
    if _catalogue_hash(procedures, lines) != manifest["catalogue_version"]:
        raise StaleIndexError(f"Tệp thủ tục trong {path} không khớp manifest: chỉ mục bị hỏng, hãy build lại")
    if check_catalogue:
        _check_catalogue(manifest)
    with (path / "bm25.pkl").open("rb") as fh:
        bm25 = pickle.load(fh)  # noqa: S301 - our own artefact, written by build()
    index = faiss.read_index(str(path / "dense.faiss"))
    if (previous is not None and previous.manifest.get("model_id") == model_id
            and previous.manifest.get("model_fingerprint") == manifest["model_fingerprint"]):
        encoder = previous.encoder
    else:
        encoder = load_encoder(encoder_dir, model_id)
    if index.ntotal != len(procedures):
        raise StaleIndexError(f"faiss có {index.ntotal} vectơ nhưng có {len(procedures)} thủ tục: hãy build lại")
    return LoadedIndex(manifest, procedures, bm25, index, encoder, path.resolve(), digests)


def _check_catalogue(manifest: dict) -> None:
    from knowledge_base import publish

    live = publish.live_content_hash() or store.catalogue_version(store.load_all())
    if live != manifest["catalogue_version"]:
        raise StaleIndexError(
            f"Chỉ mục đã cũ: danh mục hiện tại là {live}, chỉ mục lập cho {manifest['catalogue_version']}. "
            "Hãy chạy: python -m knowledge_base build"
        )


def load_check_catalogue(loaded: LoadedIndex) -> None:
    """Raise StaleIndexError when the live catalogue differs from what ``loaded`` indexed."""
    _check_catalogue(loaded.manifest)

