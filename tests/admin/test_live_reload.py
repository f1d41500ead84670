"""Hot reload of the live index off the request path, and the incremental build it relies on."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from knowledge_base import index as kb_index
from knowledge_base import live as live_module
from knowledge_base import store
from knowledge_base.features import doc_fields, lexical_terms
from knowledge_base.live import LiveSearcher
from knowledge_base.schema import Fee, FeeKind
from tests.admin.support import prepare_data_dir
from tests.conftest import shared_path

CODE = "1.001193"


@pytest.fixture()
def data(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    d = prepare_data_dir(tmp_path / "kb")
    monkeypatch.setenv("KB_DATA_DIR", str(d))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    return d


def _changed_catalogue(amount: float):  # noqa: ANN202
    procs = store.load_all()
    out = []
    for p in procs:
        if p.code == CODE:
            p = p.model_copy(deep=True)
            p.channels[0].fees = [Fee(kind=FeeKind.FIXED, amount=amount)]
        out.append(p)
    return out


def test_new_index_is_loaded_in_the_background_and_swapped_whole(data, monkeypatch):
    live = LiveSearcher(poll_s=0.1)
    first = live.get()
    # The background load waits at a gate: a turn that waited for it would get the new index (after 30 s).
    gate = threading.Event()
    load = live_module._load

    def gated_load(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        gate.wait(30)
        return load(*args, **kwargs)

    monkeypatch.setattr(live_module, "_load", gated_load)
    old_path = first.index.path
    new = kb_index.build(_changed_catalogue(66000), log=lambda *_: None, reuse=old_path, make_current=False)
    manifest = json.loads((new / "manifest.json").read_text())
    assert manifest["incremental_from"] == old_path.name
    kb_index.make_current(new)
    time.sleep(0.3)  # the watcher (0.1 s) has seen the switch and is loading
    assert live.get() is first, "a turn during the load must not wait for it"
    assert live.reloads == 0
    gate.set()
    deadline = time.monotonic() + 30
    while live.get() is first and time.monotonic() < deadline:
        time.sleep(0.05)
    second = live.get()
    assert second is not first and second.index.path == new.resolve() and live.reloads == 1
    proc = next(p for p in second.index.procedures if p.code == CODE)
    assert proc.channels[0].fees[0].amount == 66000
    assert [h.code for h in second.search("làm giấy khai sinh", k=3)][0] == CODE
    live.stop()


def test_a_broken_index_keeps_the_old_one_serving(data, caplog):
    live = LiveSearcher(poll_s=0.1)
    first = live.get()
    broken = data / "index-0000000000000000-1"
    shutil.copytree(first.index.path, broken)
    (broken / "dense.faiss").write_bytes(b"not a faiss index")
    kb_index.make_current(broken)
    assert live.refresh() is False
    assert live.get() is first
    assert any("could not be loaded" in r.getMessage() for r in caplog.records)
    live.stop()


def test_incremental_build_equals_a_full_build_for_the_lexical_index(data):
    procs = _changed_catalogue(77000)
    live = (data / "current").resolve()
    inc = kb_index.build(procs, log=lambda *_: None, reuse=live, make_current=False)
    a = kb_index.load(inc, check_catalogue=False)
    terms = [kb_index.doc_terms(p) for p in procs]
    from knowledge_base.bm25 import BM25Index

    full = BM25Index.build(terms)
    for q in (["khai", "sinh"], ["dang_ky", "ket_hon"], ["can", "cuoc"]):
        assert (a.bm25.scores(q) == full.scores(q)).all()


def test_detail_terms_fast_path_matches_the_definition():
    from knowledge_base.importer import import_file

    path = shared_path("data/tthc/national_catalogue_sample_2642.jsonl.gz", "TTHC_SAMPLE")
    procs = import_file(path, commit=None).procedures + store.load_curated()
    bad = [p.code for p in procs if kb_index.detail_terms(p) != lexical_terms(doc_fields(p)["details"], with_words=False)]
    assert not bad, bad[:10]


def test_old_bm25_pickles_still_load():
    import pickle

    import numpy as np

    from knowledge_base.bm25 import BM25Index

    docs = [["a", "b", "a"], ["b", "c"], ["c"]]
    new = BM25Index.build(docs)
    # the first version's layout: a dataclass with a dict of (ids, tfs) per term
    legacy_state = {
        "postings": {"a": (np.array([0], np.int32), np.array([2.0], np.float32)),
                     "b": (np.array([0, 1], np.int32), np.array([1.0, 1.0], np.float32)),
                     "c": (np.array([1, 2], np.int32), np.array([1.0, 1.0], np.float32))},
        "idf": {t: float(new.idf_arr[new.vocab[t]]) for t in "abc"},
        "doc_len": np.array([3, 2, 1], np.float32), "avg_len": 2.0, "k1": 1.2, "b": 0.6,
    }
    old = BM25Index.__new__(BM25Index)
    old.__setstate__(legacy_state)
    old = pickle.loads(pickle.dumps(old))
    for q in (["a"], ["b", "c"], ["c", "c", "x"]):
        assert np.allclose(old.scores(q), new.scores(q))
