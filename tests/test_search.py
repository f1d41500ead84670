"""Ranking, lexicon and manifest checks on the project's mini catalogue."""

from __future__ import annotations

import json

import pytest

from knowledge_base import index as kb_index
from knowledge_base import lexicon
from knowledge_base.retrieval import Searcher


@pytest.fixture(scope="module")
def searcher(mini_index):
    path, _ = mini_index
    return Searcher(kb_index.load(path, check_catalogue=False))


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("làm giấy khai sinh cho con cần gì", "9.000001"),
        ("lam giay khai sinh cho con can gi", "9.000001"),
        ("làm sổ đỏ hết bao nhiêu tiền", "9.000003"),
        ("lam so do het bao nhieu tien", "9.000003"),
        ("nhập hộ khẩu ntn", "9.000004"),
        ("làm CMND mất bao lâu", "9.000005"),
        ("đổi bằng lái quốc tế", "9.000006"),
    ],
)
def test_top_hit(searcher, query, code):
    hits = searcher.search(query, k=3)
    assert hits and hits[0].code == code, [h.to_dict() for h in hits]


def test_prior_prefers_common_variant(searcher):
    hits = searcher.search("khai sinh", k=2)
    assert [h.code for h in hits] == ["9.000001", "9.000002"]


def test_nfd_and_nfc_same_result(searcher):
    import unicodedata

    q = "làm sổ đỏ lần đầu"
    a = searcher.search(unicodedata.normalize("NFC", q))
    b = searcher.search(unicodedata.normalize("NFD", q))
    assert [h.code for h in a] == [h.code for h in b]


def test_hits_report_matched_fields_and_confidence(searcher):
    hit = searcher.search("làm căn cước")[0]
    assert "aliases" in hit.matched_fields
    assert 0.5 <= hit.confidence <= 1.0
    noise = searcher.search("xyz qwerty")
    assert noise, "the dense retriever always returns neighbours; their confidence must be low"
    assert all(h.confidence < 0.5 for h in noise)


def test_a_foreign_word_the_catalogue_never_uses_weighs_against_confidence(searcher):
    # "… wifi", "… marathon": a question about something else; an unknown Vietnamese word ("cơm",
    # a name in a story) does not weigh more than any other word the names lack
    assert searcher.unknown_words("giấy khai sinh wifi") == {"wifi"}
    assert searcher.unknown_words("giấy khai sinh cơm online 2024") == set()
    vietnamese = searcher.search("giấy khai sinh cơm")[0].confidence
    foreign = searcher.search("giấy khai sinh wifi")[0].confidence
    assert foreign < vietnamese - 0.1, (foreign, vietnamese)


def test_an_alias_purpose_clause_alone_names_no_procedure(searcher):
    # "làm sổ đỏ để vay ngân hàng": the purpose counts beside the head ("sổ đỏ"), never alone
    for query in ("vay ngân hàng cần giấy tờ gì", "vay ngan hang can giay to gi"):
        land = [h for h in searcher.search(query) if h.code == "9.000003"]
        assert land and land[0].confidence == 0.0, (query, [h.to_dict() for h in land])
    both = next(h for h in searcher.search("làm sổ đỏ để vay ngân hàng") if h.code == "9.000003")
    assert both.confidence == 1.0, both.to_dict()


def test_alias_head_keeps_to_bequeath():
    from knowledge_base.features import alias_head
    assert alias_head("xác nhận tình trạng hôn nhân để vay ngân hàng") == "xác nhận tình trạng hôn nhân"
    assert alias_head("viết di chúc để lại nhà đất") == "viết di chúc để lại nhà đất"


def test_empty_and_huge_queries(searcher):
    assert searcher.search("") == []
    assert searcher.search("   !!! ") == []
    assert searcher.search("khai sinh " * 5000)[0].code in {"9.000001", "9.000002"}


@pytest.mark.parametrize("retriever", ["lexical", "dense"])
def test_single_retrievers_work(searcher, retriever):
    assert searcher.search("làm giấy khai sinh", retriever=retriever)[0].code in {"9.000001", "9.000002"}


def test_lexicon_matches_without_diacritics():
    assert "giấy chứng nhận quyền sử dụng đất quyền sở hữu tài sản gắn liền với đất" in lexicon.matches("lam so do")
    assert lexicon.matches("bằng lái xe") == ["giấy phép lái xe"]
    assert lexicon.matches("thời tiết hôm nay") == []


def test_manifest_refuses_stale_catalogue(mini_index, monkeypatch):
    path, procs = mini_index
    from knowledge_base import store

    changed = [p.model_copy(update={"name": p.name + " (sửa)"}) if i == 0 else p for i, p in enumerate(procs)]
    monkeypatch.setattr(store, "load_all", lambda: changed)
    with pytest.raises(kb_index.StaleIndexError, match="cũ"):
        kb_index.load(path)
    monkeypatch.setattr(store, "load_all", lambda: procs)
    assert kb_index.load(path).manifest["n_procedures"] == len(procs)


def test_manifest_refuses_other_model(mini_index, monkeypatch):
    path, _ = mini_index
    monkeypatch.setenv("KB_DENSE_MODEL", "bkai")
    with pytest.raises(kb_index.StaleIndexError, match="mô hình"):
        kb_index.load(path, check_catalogue=False)


def test_manifest_refuses_tampered_snapshot(mini_index, tmp_path):
    import shutil

    path, _ = mini_index
    copy = tmp_path / "idx"
    shutil.copytree(path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["catalogue_version"] = "0" * 16
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(kb_index.StaleIndexError):
        kb_index.load(copy, check_catalogue=False)


def test_missing_index_names_the_command(tmp_path):
    with pytest.raises(kb_index.StaleIndexError, match="python -m knowledge_base build"):
        kb_index.load(tmp_path / "nothing")


def test_lexicon_uses_diacritics_when_typed():
    from knowledge_base import lexicon
    gift = "đăng ký biến động tặng cho quyền sử dụng đất"
    assert gift in lexicon.matches("bố mẹ cho nhà con") and gift in lexicon.matches("bo me cho nha con")
    assert gift not in lexicon.matches("con chó nhà tôi bị ốm")  # "chó" (dog) is not "cho" (give)
    assert lexicon.matches("lam so do") == lexicon.matches("làm sổ đỏ") != []
