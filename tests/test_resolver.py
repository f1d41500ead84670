"""Turn resolution against the conversation state, on the real curated catalogue.

The search is replaced by a stub that returns chosen procedures with chosen
confidences, so each test pins one decision of ``actions/resolver.py``; the
real search is exercised end to end in tests/test_conversation.py.
"""

from __future__ import annotations

import pytest

from actions.aspects import parse
from actions.resolver import Thresholds, may_name, option_by_words, parse_option, resolve
from actions.state import ConversationState
from knowledge_base import store
from knowledge_base.retrieval import Hit
from vntext import is_gibberish

CATALOGUE = {p.code: p for p in store.load_curated()}
T = Thresholds()
CARD, CARD_UNDER_14, CARD_RENEW, CARD_AGAIN = "1.014061", "1.014062", "1.014063", "1.014064"
MARRIAGE, MARRIAGE_FOREIGN, LAND_LOST = "1.000894", "2.000806", "1.012786"


class StubSearch:
    """Returns the configured (code, confidence, score) hits for any query, and records queries."""

    def __init__(self, *hits: tuple[str, float, float]) -> None:
        self.hits = hits
        self.queries: list[str] = []

    def search(self, query: str, k: int = 5, retriever: str = "hybrid") -> list[Hit]:
        self.queries.append(query)
        return [Hit(c, CATALOGUE[c].name, s, [], CATALOGUE[c], conf) for c, conf, s in self.hits][:k]


def run(text, state=None, search=None, intent="ask_procedure", confidence=0.9):
    return resolve(text, intent, confidence, state or ConversationState(), search or StubSearch(), CATALOGUE, T)


def codes(plan) -> list[str]:
    return [p.code for p in plan.procedures]


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [("số 2", 3, 2), ("cái thứ hai", 3, 2), ("cai cuoi", 3, 3), ("3", 3, 3), ("cái đầu tiên", 3, 1),
     ("chọn số 1 nhé", 3, 1), ("so 2", 3, 2), ("số 9", 3, None), ("không biết", 3, None),
     # ordinals inside ordinary words are not choices
     ("cái ở đâu", 3, None), ("bà", 3, None), ("từ", 3, None), ("ba mẹ tôi", 3, None), ("nam", 3, None)],
)
def test_parse_option_is_strict(text, n, expected):
    assert parse_option(text, n) == expected


@pytest.mark.parametrize(
    ("text", "aspect", "rest_empty"),
    [("còn lệ phí thì sao?", "fee", True), ("con le phi thi sao", "fee", True), ("dc nop online ko", "online", True),
     ("mất bao lâu", "duration", True), ("mất mấy ngày", "duration", True), ("hết bao nhiêu", "fee", True),
     ("mất bao nhiêu tiền", "fee", True), ("nộp ở đâu", "where", True), ("cần mang gì", "documents", True),
     ("làm hộ chiếu mất bao lâu", "duration", False), ("cấp lại do bị mất", None, False)],
)
def test_phrase_senses(text, aspect, rest_empty):
    parsed = parse(text)
    assert parsed.aspect == aspect
    assert (parsed.rest == "") is rest_empty, parsed


def test_lost_is_not_how_long():
    assert "mat" not in parse("làm hộ chiếu mất bao lâu").rest.split()
    assert "mat" in parse("trình báo mất hộ chiếu").rest.split()
    assert parse("hộ chiếu hết hạn").aspect is None  # "hết hạn" is expiry, not a fee


@pytest.mark.parametrize("text", ["asdkjh qwe", "😀😀😀", "how do I renew my passport?", "你好，我想办护照", "qwerty"])
def test_noise_and_other_languages_get_rephrase(text):
    assert is_gibberish(text)
    plan = run(text, ConversationState(current=CARD, question="handoff"), intent="affirm")
    assert plan.kind == "rephrase"


@pytest.mark.parametrize("text", ["làm căn cước cần giấy tờ gì", "lam the can cuoc mat bao lau", "dc nop online ko", "số 2", "ok"])
def test_vietnamese_is_not_noise(text):
    assert not is_gibberish(text)


def test_the_answer_rule_needs_nlu_and_search():
    assert may_name("ask_fee", 0.9, 0.9, T)
    assert not may_name("ask_fee", 0.9, T.search_min - 0.01, T)
    assert not may_name("ask_fee", T.nlu_min - 0.01, 1.0, T)
    assert not may_name("out_of_scope", 0.99, 1.0, T)
    plan = run("mua vé máy bay ở đâu", search=StubSearch((CARD, 0.5, 1.0)), intent="ask_where")
    assert plan.kind == "fallback" and plan.procedures == []
    plan = run("thời tiết thế nào", search=StubSearch((CARD, 1.0, 1.0)), intent="out_of_scope", confidence=0.8)
    assert plan.kind == "fallback"


def test_aspect_follow_up_answers_about_the_current_procedure():
    search = StubSearch((MARRIAGE, 1.0, 1.0))  # would be a wrong answer if consulted
    for text, aspect in [("còn lệ phí thì sao?", "fee"), ("nộp ở đâu", "where"), ("dc nop online ko", "online"),
                         ("mất bao lâu", "duration")]:
        plan = run(text, ConversationState(current=CARD, aspect="documents"), search)
        assert (plan.kind, codes(plan), plan.aspect) == ("answer", [CARD], aspect), text
    assert search.queries == []


def test_follow_up_during_a_pending_choice_never_jumps_elsewhere():
    state = ConversationState()
    state.asked_choice([CARD, CARD_AGAIN], "duration")
    plan = run("còn lệ phí thì sao?", state, StubSearch(("1.001193", 1.0, 1.0)))
    assert plan.kind in {"answer_all", "choose"} and codes(plan) == [CARD, CARD_AGAIN]
    assert plan.aspect == "fee"


@pytest.mark.parametrize(("text", "expected"), [("số 2", CARD_AGAIN), ("cái thứ hai", CARD_AGAIN), ("cái cuối", CARD_AGAIN),
                                                ("cái cấp lại", CARD_AGAIN), ("số 1", CARD)])
def test_choice_by_number_ordinal_or_words(text, expected):
    state = ConversationState()
    state.asked_choice([CARD, CARD_AGAIN], "fee")
    plan = run(text, state, intent="choose_option")
    assert (plan.kind, codes(plan), plan.aspect) == ("answer", [expected], "fee")


def test_words_of_an_option_must_tell_it_apart():
    options = [CATALOGUE[CARD], CATALOGUE[CARD_AGAIN]]
    assert option_by_words("cái cấp lại", parse("cái cấp lại"), options) == 1
    assert option_by_words("thẻ căn cước", parse("thẻ căn cước"), options) is None  # both have these words
    land = [CATALOGUE["1.001193"], CATALOGUE["1.004772"]]
    assert option_by_words("hộ chiếu", parse("hộ chiếu"), land) is None  # "hộ" is not "hồ" (sơ)


def test_refinement_narrows_within_the_family():
    # "cấp lại do bị mất" in a card conversation: the card re-issue, never the land certificate
    search = StubSearch((LAND_LOST, 1.0, 1.0))
    plan = run("cấp lại do bị mất", ConversationState(current=CARD, aspect="duration"), search)
    assert (plan.kind, codes(plan), plan.aspect) == ("answer", [CARD_AGAIN], "duration")
    plan = run("cho con dưới 14 tuổi", ConversationState(current=CARD, aspect="documents"), search)
    assert codes(plan) == [CARD_UNDER_14]
    plan = run("vợ tôi là người nước ngoài", ConversationState(current=MARRIAGE, aspect="documents"), search)
    assert MARRIAGE_FOREIGN in codes(plan) and LAND_LOST not in codes(plan)


def test_a_new_procedure_switches():
    plan = run("còn đăng ký kết hôn thì mất bao lâu", ConversationState(current=CARD),
               StubSearch((MARRIAGE, 1.0, 1.0), (MARRIAGE_FOREIGN, 0.5, 0.5)), intent="ask_duration")
    assert (plan.kind, codes(plan), plan.aspect) == ("answer", [MARRIAGE], "duration")


def test_close_candidates_prefer_the_ordinary_case_or_ask():
    hits = StubSearch((CARD_AGAIN, 1.0, 1.0), (CARD, 1.0, 0.99))
    plan = run("lam the can cuoc mat bao lau", search=hits, intent="ask_duration")
    assert (plan.kind, codes(plan)) == ("answer", [CARD])  # "mất bao lâu" is how long, not lost
    plan = run("cấp lại hay cấp đổi thẻ căn cước", search=StubSearch((CARD_AGAIN, 1.0, 1.0), (CARD_RENEW, 1.0, 0.99)))
    assert plan.kind == "choose" and set(codes(plan)) == {CARD_AGAIN, CARD_RENEW}


def test_a_number_without_a_pending_choice_is_not_an_answer():
    assert run("số 1", ConversationState(current=CARD)).kind == "invalid_choice"
