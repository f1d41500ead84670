"""The index build's shortcuts give exactly what the definitions give.

A build analyses every text once (``features.cached_*``), shares the syllables between the
BM25 terms and the dense model (also across worker processes), tokenises the encoder's
training texts once and updates the embedding with a lazy Adam instead of torch's
SparseAdam.  These tests compare each shortcut with the plain definition; none times anything.
"""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base import features, store
from knowledge_base import index as kb_index
from knowledge_base.bm25 import BM25Index
from knowledge_base.encoder import doc_dense_text, doc_text, lazy_adam_rows
from knowledge_base.features import dense_text, doc_fields, lexical_terms, short_name, word_tokens
from vntext import fold_accents, normalize_query, syllables

TRICKY = [
    "Đăng ký khai sinh", "dang ky khai sinh", "Cấp lại CCCD ko", "thủ tục hoà giải ở cơ sở",
    "Đăng kí tạm trú (thực hiện tại cấp xã)", "Đăng ky\u0301 kê\u0301t hôn", "", " ; ", "ntn dc",
    "Giấy chứng nhận quyền sử dụng đất; quyền sở hữu nhà ở", "Cấp giấy phép lái xe hạng A1 - B2",
    "a\u0301b c", "x \u0301 y", "giá ≠ phí", "İstanbul ĐÀ NẴNG", "ÔNG BÀ", "thuỷ lợi, kí tên", "Σ ΑΣ",
    "hồ_sơ 2024/ND-CP", "\u00a0Đăng\u2003ký\t", "mk ntn k j bn",
]


@pytest.fixture(scope="module")
def curated():  # noqa: ANN201
    features.clear_build_caches()
    yield store.load_curated()
    features.clear_build_caches()


def _definition_terms(p) -> list[str]:  # noqa: ANN001 - the pre-cache formula of doc_terms
    f = doc_fields(p)
    terms = lexical_terms(f["name"]) * 2 + lexical_terms(f["aliases"])
    for key in ("field", "result"):
        terms += lexical_terms(f[key])
    return terms + lexical_terms(f["details"], with_words=False)


def test_cached_analysis_matches_the_definitions():
    for text in TRICKY:
        assert features.cached_analysis(text, False)[0] == tuple(syllables(text))
        syl, words, accented = features.cached_analysis(text)
        assert list(syl) == syllables(text)
        assert list(words) == word_tokens(text)
        norm = normalize_query(text)
        assert accented == (norm != fold_accents(norm))
        assert list(features.cached_syllables(text)) == syllables(text)
        assert features.cached_lexical_terms(text) == lexical_terms(text)
        assert features.cached_dense_text(text) == dense_text(text)
    features.clear_build_caches()


def test_word_by_word_syllables_equal_the_definition_on_the_real_catalogue():
    from knowledge_base.importer import import_file
    from tests.conftest import shared_path

    path = shared_path("data/tthc/national_catalogue_sample_2642.jsonl.gz", "TTHC_SAMPLE")
    procs = import_file(path, commit=None).procedures + store.load_curated()
    texts = set(TRICKY)
    for p in procs:
        texts.update([p.name, p.field, p.result or "", short_name(p.name).lower(), " ; ".join(p.aliases), *p.aliases,
                      *[d.name for d in p.documents], *p.conditions])
    features.clear_build_caches()
    bad = []
    for text in texts:
        norm = normalize_query(text)
        want = (tuple(syllables(text)), norm != fold_accents(norm))
        fast = features._fast_syllables(text)
        if fast is not None and fast != want:
            bad.append(text)
        syl, words, accented = features.cached_analysis(text, False)
        if (syl, accented) != want or words:
            bad.append(text)
    features.clear_build_caches()
    assert not bad, bad[:5]
    assert features._fast_syllables("x \u0301 y") is None and features._fast_syllables("giá ≠ phí") is None


def test_doc_terms_and_dense_texts_equal_the_definitions(curated):
    for p in curated:
        assert kb_index.doc_terms(p) == _definition_terms(p), p.code
        assert doc_dense_text(p) == dense_text(doc_text(p)), p.code
    parts = TRICKY[:4]
    assert features.dense_text_of_parts(parts) == dense_text(" ; ".join(parts))


def test_dict_segmenter_uses_the_cached_syllables():
    seg = kb_index.DictSegmenter({("khai", "sinh"), ("dang", "ky"), ("quyen", "su", "dung")})
    assert seg.tokens("Đăng ký khai sinh, quyền sử dụng đất") == ["dang_ky", "khai_sinh", "quyen_su_dung"]
    assert seg.tokens("dang ky khai sinh") == []  # no diacritics: no words, as word_tokens


def test_worker_processes_give_the_same_terms_and_send_syllables_back(curated, monkeypatch):
    monkeypatch.setattr(kb_index, "PARALLEL_MIN", 10)
    monkeypatch.setenv("KB_BUILD_WORKERS", "2")
    monkeypatch.setattr(kb_index.os, "cpu_count", lambda: 2)
    features.clear_build_caches()
    pooled = kb_index.all_doc_terms(curated, log=lambda *_: None)
    assert pooled == [_definition_terms(p) for p in curated]
    seeded = features._SYL_SEED  # filled from the workers' answers
    assert all(seeded.get(t) == tuple(syllables(t)) for p in curated for t in kb_index.dense_parts(p))
    features.clear_build_caches()
    assert not features._SYL_SEED


def test_bm25_build_assigns_term_ids_in_first_occurrence_order():
    docs = [["b", "a", "b"], [], ["c", "a"], ["d"]]
    idx = BM25Index.build(docs)
    assert list(idx.vocab) == ["b", "a", "c", "d"] and list(idx.vocab.values()) == [0, 1, 2, 3]
    assert idx.doc_len.tolist() == [3, 0, 2, 1]
    scores = idx.scores(["a"])
    assert scores[0] > 0 and scores[2] > 0 and scores[1] == 0 and scores[3] == 0


def test_lazy_adam_equals_torch_sparse_adam():
    import torch

    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(50, 8, mode="mean", sparse=True)
    state = torch.zeros(50, 3, 8)
    state[:, 0] = bag.weight.detach()
    opt = torch.optim.SparseAdam(list(bag.parameters()), lr=0.05)
    gen = np.random.default_rng(3)
    for step in range(1, 8):
        ids = gen.integers(1, 50, size=12)
        offsets = torch.tensor([0, 4, 9])
        target = torch.randn(3, 8)
        # torch: sparse gradient + SparseAdam
        loss = ((bag(torch.from_numpy(ids), offsets) - target) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        # ours: dense gradient of the touched rows + lazy_adam_rows on the packed state
        rows, inverse = np.unique(ids, return_inverse=True)
        rows_t = torch.from_numpy(rows)
        rows_state = state.index_select(0, rows_t)
        sub = rows_state[:, 0].clone().requires_grad_()
        out = torch.nn.functional.embedding_bag(torch.from_numpy(inverse.reshape(-1)), sub, offsets, mode="mean")
        ((out - target) ** 2).sum().backward()
        lazy_adam_rows(rows_state, sub.grad, step)
        state.index_copy_(0, rows_t, rows_state)
        assert torch.allclose(state[:, 0], bag.weight.detach(), atol=1e-6), step
        assert torch.allclose(state[:, 1], opt.state[bag.weight]["exp_avg"], atol=1e-7), step


def test_build_clears_its_caches(tmp_path, monkeypatch, curated):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    path = kb_index.build(curated[:12], log=lambda *_: None)
    assert features.cached_syllables.cache_info().currsize == 0 and not features._SYL_SEED
    loaded = kb_index.load(path, check_catalogue=False)
    vecs = loaded.faiss_index.reconstruct_n(0, loaded.faiss_index.ntotal)
    # the vectors built from cached syllables are what the loaded encoder gives for doc_text
    assert np.allclose(vecs, loaded.encoder.encode([doc_text(p) for p in loaded.procedures]), atol=1e-5)
    assert short_name(curated[0].name)


def test_reload_reuses_unchanged_procedures_and_the_encoder(tmp_path, monkeypatch, curated):
    from knowledge_base.retrieval import Searcher
    from knowledge_base.schema import Fee, FeeKind

    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    procs = curated[:15]
    first = kb_index.build(procs, log=lambda *_: None)
    old = kb_index.load(first, check_catalogue=False)
    old_searcher = Searcher(old)
    changed = procs[3].model_copy(deep=True)
    changed.channels[0].fees = [Fee(kind=FeeKind.FIXED, amount=123000)]
    new_procs = [changed if i == 3 else p for i, p in enumerate(procs)]
    second = kb_index.build(new_procs, log=lambda *_: None, reuse=first, make_current=False)
    fresh = kb_index.load(second, check_catalogue=False)
    reused = kb_index.load(second, check_catalogue=False, previous=old)
    assert reused.encoder is old.encoder  # incremental build: same model fingerprint
    assert [p is q for p, q in zip(reused.procedures, old.procedures, strict=True)] == [i != 3 for i in range(15)]
    assert reused.procedures == fresh.procedures
    assert reused.procedures[3].channels[0].fees[0].amount == 123000
    searcher = Searcher(reused, previous=old_searcher)
    plain = Searcher(fresh)
    assert searcher.name_syl == plain.name_syl and searcher.name_set == plain.name_set
    assert searcher.name_syl[0] is old_searcher.name_syl[0]
    for q in ("làm giấy khai sinh", "dang ky ket hon", "cấp lại căn cước"):
        assert [h.to_dict() for h in searcher.search(q)] == [h.to_dict() for h in plain.search(q)]
    # a tampered snapshot is still refused when procedures are reused
    (tmp_path / "bad").mkdir()
    import shutil

    bad = tmp_path / "bad" / "idx"
    shutil.copytree(second, bad)
    lines = (bad / "procedures.jsonl").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("123000", "124000")
    (bad / "procedures.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(kb_index.StaleIndexError):
        kb_index.load(bad, check_catalogue=False, previous=reused)


def test_term_collector_chunks_equal_one_build():
    docs = [["b", "a", "b"], [], ["c", "a"], ["d", "e_f"], ["a", "g"], ["g", "g"]]
    whole = BM25Index.build(docs)
    from knowledge_base.bm25 import TermCollector

    collector = TermCollector()
    for chunk in (docs[:2], docs[2:3], [], docs[3:]):
        collector.add(chunk)
    parts = collector.index()
    assert parts.vocab == whole.vocab
    for name in ("indptr", "ids", "tfs", "idf_arr", "doc_len"):
        assert np.array_equal(getattr(parts, name), getattr(whole, name)), name
