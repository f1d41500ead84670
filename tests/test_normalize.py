"""vntext: NFC/NFD, accent folding, abbreviations, tone placement."""

from __future__ import annotations

import unicodedata

import pytest

from vntext import expand_abbreviations, fold_accents, nfc, normalize_query, syllables, unify_tone_placement


def test_nfd_input_becomes_nfc():
    nfd = unicodedata.normalize("NFD", "Đăng ký khai sinh")
    assert nfd != "Đăng ký khai sinh"
    assert nfc(nfd) == "Đăng ký khai sinh"
    assert normalize_query(nfd) == "đăng ký khai sinh"


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Đăng ký khai sinh", "dang ky khai sinh"), ("sổ đỏ", "so do"), ("ĐỒNG", "dong"), ("Ủy ban", "uy ban")],
)
def test_fold_accents(text, folded):
    assert fold_accents(text) == folded
    assert fold_accents(unicodedata.normalize("NFD", text)) == folded


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("ko dc", "không được"),
        ("k đc", "không được"),
        ("mk muốn hỏi ntn", "mình muốn hỏi như thế nào"),
        ("hết bn tiền", "hết bao nhiêu tiền"),
        ("cần j", "cần gì"),
        ("làm CCCD", "làm căn cước công dân"),
        ("dk kinh doanh", "đăng ký kinh doanh"),
        ("đk tạm trú", "đăng ký tạm trú"),
    ],
)
def test_abbreviations(text, expanded):
    assert expand_abbreviations(text) == expanded


def test_accented_words_are_not_taken_for_abbreviations():
    assert expand_abbreviations("á à") == "á à"


def test_tone_placement_is_unified():
    assert unify_tone_placement("hoà giải thuỷ") == "hòa giải thủy"
    assert unify_tone_placement("hoàn thành") == "hoàn thành"


def test_syllables_are_diacritic_insensitive():
    assert syllables("Làm SỔ ĐỎ hết bn?") == syllables("lam so do het bao nhieu")


def test_one_time_is_spelled_as_the_catalogue_spells_it():
    assert normalize_query("hưởng BHXH 1 lần") == "hưởng bảo hiểm xã hội một lần"
    assert normalize_query("rut so 1 lan") == "rut so mot lan"
    assert normalize_query("lần 1, 11 lần") == "lần 1, 11 lần"
