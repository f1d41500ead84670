"""The conversation suite's loader and per-turn checker (benchmarks/conversations.py), without servers."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from benchmarks.conversations import (
    CATEGORIES,
    OUT_OF_SCOPE_SPLITS,
    Reply,
    SuiteFormatError,
    catalogue_codes,
    check_turn,
    fold,
    load_documents,
    load_out_of_scope,
    load_suite,
    text_style,
)

KNOWN = {"1.001193", "1.000894", "1.014063", "1.014064", "1.001022"}


def conv(**overrides) -> dict:
    base = {
        "id": "c-1",
        "category": "follow_up",
        "split": "tune",
        "turns": [
            {"user": "làm giấy khai sinh cần gì", "expect_code": "1.001193", "expect_aspect": "documents"},
            {"user": "còn lệ phí thì sao?", "expect_code": "1.001193", "expect_aspect": "fee"},
            {"user": "nộp ở đâu", "expect_code": "1.001193", "expect_aspect": "where"},
        ],
    }
    base.update(overrides)
    return base


def load(*convs: dict) -> list[dict]:
    return load_documents({"conversations": list(convs)}, "mem.yaml", KNOWN)


def msg(code=None, aspect=None, confidence=None, candidates=(), buttons=False, text="", **extra) -> dict:
    custom = {"procedure_code": code, "procedure_name": None, "aspect": aspect, "confidence": confidence,
              "candidates": [{"code": c, "name": c, "score": 1.0} for c in candidates], "source_url": None, **extra}
    m = {"recipient_id": "x", "text": text, "custom": custom}
    if buttons:
        m["buttons"] = [{"title": c, "payload": f"số {i}"} for i, c in enumerate(candidates, 1)]
    return m


def reply(*messages: dict) -> Reply:
    return Reply.from_messages(list(messages))


# ------------------------------------------------------------------ loader


def test_a_valid_conversation_loads():
    (c,) = load(conv())
    assert c["id"] == "c-1" and len(c["turns"]) == 3
    assert c["turns"][0]["expect_code"] == ["1.001193"]  # a single code becomes a list


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"colour": "red"}, "unknown key"),
        ({"category": "chitchat"}, "unknown category"),
        ({"split": "dev"}, "split must be one of tune, test, heldout, blind2"),
        ({"turns": [{"user": "a", "expect_code": "1.001193"}] * 2}, "has 2 turns"),
        ({"turns": [{"user": "a", "expect_code": "1.001193"}] * 7}, "has 7 turns"),
        ({"turns": [{"user": "a", "expect_code": "9.999999"}] * 3}, "not in the curated catalogue: 9.999999"),
        ({"turns": [{"user": "a", "expect_aspect": "price"}] * 3}, "unknown aspect 'price'"),
        ({"turns": [{"user": "a", "expect_codes": "1.001193"}] * 3}, "unknown key(s) expect_codes"),
        ({"turns": [{"user": "a", "expect_code": 1.001193}] * 3}, "quoted strings"),
        ({"turns": [{"user": "", "expect_fallback": True}] * 3}, "`user` must be a non-empty string"),
        ({"turns": [{"user": "a", "expect_fallback": "yes"}] * 3}, "must be true or false"),
        ({"turns": [{"user": "a", "expect_fallback": True, "expect_code": "1.001193"}] * 3}, "cannot go with a code"),
        ({"turns": [{"user": "a", "expect_text": "(unclosed"}] * 3}, "not a valid regular expression"),
        ({"turns": [{"user": "a"}] * 3}, "no turn states an expectation"),
        ({"turns": [{"user": "a", "expect_code": "1.001193"}, {"user": "số 2", "expect_chosen": 2},
                    {"user": "b", "expect_code": "1.001193"}]}, "needs the previous turn to have `expect_choice: true`"),
    ],
)
def test_the_loader_names_the_conversation_and_the_problem(overrides, message):
    with pytest.raises(SuiteFormatError) as err:
        load(conv(id="bad-one", **overrides))
    assert "bad-one" in str(err.value)
    assert message in str(err.value)


def test_duplicate_ids_and_bad_files_are_refused():
    with pytest.raises(SuiteFormatError, match="duplicates"):
        load(conv(), conv())
    with pytest.raises(SuiteFormatError, match="exactly one key"):
        load_documents({"conversation": []}, "mem.yaml", KNOWN)


def test_load_suite_reports_the_file(tmp_path):
    (tmp_path / "x.yaml").write_text("conversations:\n  - id: broken\n    category: follow_up\n    split: tune\n"
                                     "    turns:\n      - {user: a, expect_code: '1.001193'}\n", encoding="utf-8")
    with pytest.raises(SuiteFormatError, match=r"x\.yaml: conversation 'broken': has 1 turns"):
        load_suite(tmp_path, KNOWN)


# ------------------------------------------------------------------ checker


def test_a_right_answer_passes_and_a_wrong_one_is_confident_wrong():
    turn = {"user": "còn lệ phí thì sao?", "expect_code": ["1.001193"], "expect_aspect": "fee", "forbid_code": ["1.001022"]}
    ok = check_turn(turn, reply(msg("1.001193", "fee", None, text="Lệ phí…")))
    assert ok["ok"] and not ok["confident_wrong"]
    bad = check_turn(turn, reply(msg("1.001022", "fee", 0.8, text="Lệ phí…")))
    assert not bad["ok"] and bad["confident_wrong"] and bad["wrong_kind"] == "answer"
    assert any("forbidden" in r for r in bad["reasons"]) and any("expected code" in r for r in bad["reasons"])
    low = check_turn(turn, reply(msg("1.000894", "fee", 0.2)))  # wrong but below the answer threshold
    assert not low["ok"] and not low["confident_wrong"]
    wrong_aspect = check_turn(turn, reply(msg("1.001193", "duration", 0.9)))
    assert not wrong_aspect["ok"] and not wrong_aspect["confident_wrong"]


def test_choice_expectations_and_expect_chosen():
    choice = reply(msg(None, "documents", 0.7, candidates=["1.014064", "1.014063"], buttons=True, text="1. … 2. …"))
    turn = {"user": "q", "expect_choice": True, "expect_candidates_include": ["1.014063", "1.014064"], "expect_aspect": "documents"}
    assert check_turn(turn, choice)["ok"]
    # candidates without buttons (the fallback's list) are not a choice question
    no_buttons = reply(msg(None, "documents", 0.7, candidates=["1.014064", "1.014063"]))
    assert not check_turn(turn, no_buttons)["ok"]
    pick = {"user": "số 2", "expect_chosen": 2, "expect_aspect": "documents"}
    assert check_turn(pick, reply(msg("1.014063", "documents")), previous_choice=["1.014064", "1.014063"])["ok"]
    res = check_turn(pick, reply(msg("1.014064", "documents")), previous_choice=["1.014064", "1.014063"])
    assert not res["ok"] and res["confident_wrong"]
    last = {"user": "cái cuối", "expect_chosen": "last"}
    assert check_turn(last, reply(msg("1.014063")), previous_choice=["1.014064", "1.014063"])["ok"]
    assert not check_turn(last, reply(msg("1.014063")), previous_choice=[])["ok"]


def test_fallback_rephrase_and_handoff():
    fallback = reply(msg(text="Xin lỗi, tôi chưa tìm được thông tin… gọi đường dây nóng 1022"))
    assert check_turn({"user": "giá vàng", "expect_fallback": True}, fallback)["ok"]
    assert not check_turn({"user": "giá vàng", "expect_fallback": True}, reply(msg(text="Xin lỗi")))["ok"]  # no hotline
    named = check_turn({"user": "mua vé máy bay ở đâu", "expect_fallback": True}, reply(msg("1.014061", "where", 0.55, text="1022")))
    assert not named["ok"] and named["confident_wrong"]
    offered = check_turn({"user": "mua vé", "expect_fallback": True},
                         reply(msg(None, "where", 0.6, candidates=["1.014061", "1.014064"], buttons=True)))
    assert not offered["ok"] and offered["wrong_kind"] == "choice"

    rephrase = {"user": "asdkjh qwe", "expect_rephrase": True, "expect_handoff": False}
    assert check_turn(rephrase, reply(msg(text="Xin lỗi, tôi chưa hiểu. Anh/Chị diễn đạt lại giúp tôi?")))["ok"]
    handed = check_turn(rephrase, reply(msg(text="Tôi đang chuyển tới tổng đài viên… 1022", handoff=True)))
    assert not handed["ok"]
    assert not check_turn(rephrase, reply(msg(text="Dạ vâng.")))["ok"]

    assert check_turn({"user": "gặp người", "expect_handoff": True}, reply(msg(text="…", handoff=True)))["ok"]
    assert check_turn({"user": "gặp người", "expect_handoff": True}, reply(msg(text="gọi 1022")))["ok"]
    assert not check_turn({"user": "gặp người", "expect_handoff": True}, reply(msg(text="Dạ.")))["ok"]


def test_text_patterns_and_no_reply():
    turn = {"user": "q", "expect_text": "1\\.001193", "forbid_text": "nhận cha"}
    assert check_turn(turn, reply(msg("1.001193", text="Nguồn: thủ tục 1.001193")))["ok"]
    assert not check_turn(turn, reply(msg("1.001193", text="Nguồn: thủ tục 1.001193, nhận cha")))["ok"]
    broken = Reply.from_messages([], error="URLError: refused")
    assert not check_turn({"user": "q", "expect_code": ["1.001193"]}, broken)["ok"]


def test_text_styles():
    assert text_style("làm căn cước cần gì") == "diacritics"
    assert text_style("lam can cuoc can gi") == "no_diacritics"
    assert text_style("dc nop online ko") == "abbrev"
    assert text_style("😀😀") == "other"
    assert fold("Đăng ký") == "dang ky"


# ------------------------------------------------------------------ the real suite


def test_the_real_suite_loads_and_is_balanced():
    suite = load_suite()
    assert len(suite) >= 120
    assert all(3 <= len(c["turns"]) <= 6 for c in suite)
    per = Counter((c["category"], c["split"]) for c in suite)
    for category in CATEGORIES:
        for split in ("tune", "test"):
            assert per[(category, split)] >= 1, (category, split)
        assert abs(per[(category, "tune")] - per[(category, "test")]) <= 1, category
    assert sum(c["split"] == "test" for c in suite) >= 60
    known = catalogue_codes()
    assert all(code in known for c in suite for t in c["turns"] for code in t.get("expect_code", []))


def test_the_real_out_of_scope_questions():
    items = load_out_of_scope()
    assert len({i["question"] for i in items}) == len(items)
    for group in (("tune", "test"), ("blind1",)):  # the target set, then the blind set: each half plain
        part = [i for i in items if i["split"] in group]
        assert len(part) >= (100 if group == ("tune", "test") else 50), group
        plain = sum(fold(i["question"]) == i["question"].lower() for i in part)
        assert 0.4 <= plain / len(part) <= 0.6, group
    assert {i["split"] for i in items} == set(OUT_OF_SCOPE_SPLITS)
    assert all(re.search(r"\w", i["question"]) for i in items)
