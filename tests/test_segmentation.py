"""Word segmentation aligned to the typed text (the core of UndertheseaTokenizer)."""

from __future__ import annotations

from underthesea import word_tokenize

from components.segmentation import segment, split_at_boundaries


def test_words_keep_offsets_of_the_typed_text():
    text = "Làm căn cước ko đc thì sao?"
    segs = segment(text, word_tokenize)
    assert ("căn_cước", "căn cước") in [(s.text, text[s.start:s.end]) for s in segs]
    ko = next(s for s in segs if text[s.start:s.end] == "ko")
    assert ko.text == "không" and ko.folded == "khong"


def test_lemma_is_accent_folded():
    segs = segment("giấy chứng nhận quyền sử dụng đất", word_tokenize)
    assert [s.folded for s in segs] == ["giay", "chung_nhan", "quyen", "su_dung", "dat"]


def test_text_without_diacritics_stays_syllables():
    segs = segment("lam the can cuoc mat bao lau", word_tokenize)
    assert [s.text for s in segs] == "lam the can cuoc mat bao lau".split()


def test_multiword_abbreviation_stays_one_token():
    text = "hỏi ntn"
    segs = segment(text, word_tokenize)
    assert [text[s.start:s.end] for s in segs] == ["hỏi", "ntn"]


def test_split_at_entity_boundaries():
    text = "sang tên sổ đỏ mất phí gì"
    words = segment(text, lambda s: ["sang tên", "sổ đỏ mất", "phí", "gì"])
    fixed = split_at_boundaries(text, words, {0, 14})
    assert all(not (w.start < 14 < w.end) for w in fixed)
    assert text[fixed[-3].start:fixed[-3].end] == "mất"


def test_empty_and_punctuation_only():
    assert segment("", word_tokenize) == []
    assert segment("?!...", word_tokenize) == []
