"""Turn resolution against the conversation state, on the real curated catalogue.

The search is replaced by a stub that returns chosen procedures with chosen
confidences, so each test pins one decision of ``actions/resolver.py``; the
real search is exercised end to end in tests/test_conversation.py.
"""

from __future__ import annotations

import pytest

from actions.aspects import parse
from actions.resolver import Thresholds, _text_words, may_name, option_by_words, parse_option, resolve, variant_markers
from actions.state import ConversationState
from knowledge_base import store
from knowledge_base.features import query_text
from knowledge_base.retrieval import Hit
from vntext import is_gibberish
from vntext.language import LOANWORDS, is_vietnamese_syllable

CATALOGUE = {p.code: p for p in store.load_curated()}
T = Thresholds()
CARD, CARD_UNDER_14, CARD_RENEW, CARD_AGAIN = "1.014061", "1.014062", "1.014063", "1.014064"
MARRIAGE, MARRIAGE_FOREIGN, LAND_LOST = "1.000894", "2.000806", "1.012786"


# every syllable the curated records use (the real searcher's vocabulary is its index's)
KNOWN = set().union(*(_text_words(p) for p in CATALOGUE.values()))


class StubSearch:
    """Returns the configured (code, confidence, score) hits for any query, and records queries."""

    def __init__(self, *hits: tuple[str, float, float]) -> None:
        self.hits = hits
        self.queries: list[str] = []

    def search(self, query: str, k: int = 5, retriever: str = "hybrid") -> list[Hit]:
        self.queries.append(query)
        return [Hit(c, CATALOGUE[c].name, s, [], CATALOGUE[c], conf) for c, conf, s in self.hits][:k]

    def unknown_words(self, query: str) -> set[str]:
        """Foreign words the catalogue never uses, as the real searcher sees them."""
        return {w for w in query_text(query).split() if w not in KNOWN and w not in LOANWORDS
                and not is_vietnamese_syllable(w) and not any(ch.isdigit() for ch in w)}


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
     ("làm hộ chiếu mất bao lâu", "duration", False), ("cấp lại do bị mất", None, False),
     ("mất bn lâu", "duration", True),  # "bn" is "bao nhiêu": "mất bao nhiêu lâu", nothing lost
     ("ra đâu làm", "where", True), ("len dau nop", "where", True)],
)
def test_phrase_senses(text, aspect, rest_empty):
    parsed = parse(text)
    assert parsed.aspect == aspect
    assert (parsed.rest == "") is rest_empty, parsed


def test_how_often_is_not_a_one_time_procedure():
    # "bao lâu một lần" asks how often: "một lần" must not stay behind to match "BHXH một lần"
    parsed = parse("bảo dưỡng ô tô bao lâu một lần")
    assert (parsed.aspect, parsed.query) == ("duration", "bảo dưỡng ô tô")
    assert parse("rút bhxh một lần mất bao lâu").rest.split()[-2:] == ["mot", "lan"]


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


# --- decisions added for multi-turn accuracy (issue 9, second pass) ---------------------------------
LAND_FIRST, LAND_EXCHANGE = "1.013978", "1.012783"
BHYT_FAMILY, BHXH_BHYT_AGAIN = "1.001939", "1.002759"
STAY, STAY_EXTEND = "1.004194", "1.002755"
LICENCE_EXCHANGE, LICENCE_AGAIN, LICENCE_INTL = "3.000347", "3.000348", "3.000353"


def test_an_alias_said_verbatim_names_its_procedure():
    # "làm sổ đỏ" is an alias of first registration; the exchange ranks higher on other words
    search = StubSearch((LAND_EXCHANGE, 1.0, 0.47), (LAND_FIRST, 1.0, 0.37))
    plan = run("làm sổ đỏ cần giấy tờ gì", search=search, intent="ask_documents")
    assert (plan.kind, codes(plan), plan.reason) == ("answer", [LAND_FIRST], "names an alias verbatim")


def test_a_family_question_without_a_verb_is_asked_back():
    search = StubSearch((LAND_EXCHANGE, 1.0, 0.47), (LAND_FIRST, 1.0, 0.37))
    plan = run("sổ đỏ cần giấy tờ j", search=search, intent="ask_documents")
    assert plan.kind == "choose" and set(codes(plan)) == {LAND_EXCHANGE, LAND_FIRST}
    # the same words with a verb are the ordinary case, decided by the search
    plan = run("đi làm sổ đỏ lần đầu", search=StubSearch((LAND_FIRST, 1.0, 0.47), (LAND_EXCHANGE, 1.0, 0.37)))
    assert codes(plan) == [LAND_FIRST]


def test_lai_xe_without_diacritics_is_driving_not_again():
    search = StubSearch((LICENCE_EXCHANGE, 1.0, 0.47), (LICENCE_INTL, 1.0, 0.35), (LICENCE_AGAIN, 1.0, 0.346))
    plan = run("thu tuc giay phep lai xe can nhung gi", search=search, intent="ask_documents")
    assert plan.kind == "choose" and LICENCE_AGAIN in codes(plan)


def test_the_old_card_lost_refines_within_the_current_family():
    state = ConversationState(current=BHYT_FAMILY, aspect="documents")
    plan = run("thẻ cũ bị mất thì sao", state=state, search=StubSearch((CARD_AGAIN, 0.83, 0.3)))
    assert (plan.kind, codes(plan)) == ("answer", [BHXH_BHYT_AGAIN])


def test_a_refinement_prefers_the_ordinary_member_of_the_family():
    state = ConversationState(current=MARRIAGE, aspect="documents")
    plan = run("vợ mk là người nước ngoài", state=state)
    assert (plan.kind, codes(plan)) == ("answer", [MARRIAGE_FOREIGN])


def test_kin_of_the_current_procedure_needs_fewer_words_when_the_catalogue_is_unsure():
    state = ConversationState(current=STAY, aspect="documents")
    search = StubSearch((LICENCE_EXCHANGE, 0.55, 0.3), (STAY_EXTEND, 0.5, 0.46))
    plan = run("tạm trú của tôi sắp hết hạn, muốn gia hạn", state=state, search=search)
    assert (plan.kind, codes(plan)) == ("answer", [STAY_EXTEND])
    # without a conversation the same unsure search is "I don't know"
    assert run("tạm trú của tôi sắp hết hạn, muốn gia hạn", search=search).kind == "fallback"
    # and an out-of-scope NLU verdict still wins
    assert run("tạm trú của tôi sắp hết hạn, muốn gia hạn", state=state, search=search,
               intent="out_of_scope", confidence=0.99).kind == "fallback"


def test_gia_dinh_is_not_a_price_without_diacritics():
    assert parse("mua bao hiem y te ho gia dinh thi can gi").aspect == "documents"
    assert parse("giá bao nhiêu").aspect == "fee"
    assert parse("kich hoat VNeID muc 2 lam o dau").aspect == "where"
    assert parse("bn lau thi dc giai quyet").aspect == "duration"


def test_old_style_i_spelling_is_the_catalogues_y():
    from vntext import normalize_query
    assert normalize_query("đăng kí kết hôn, lí lịch tư pháp") == "đăng ký kết hôn, lý lịch tư pháp"
    assert normalize_query("mì, khi, kia") == "mì, khi, kia"


def test_generic_nouns_after_an_aspect_ask_about_the_current_paper():
    state = ConversationState(current=CARD, aspect="documents")
    plan = run("bao lau thi co giay", state=state, search=StubSearch((LAND_FIRST, 1.0, 0.4)))
    assert (plan.kind, codes(plan)) == ("answer", [CARD]) and plan.aspect == "duration"


def test_a_lost_variant_is_not_the_current_procedure_itself():
    passport, passport_lost = "1.001456", "1.010386"
    state = ConversationState(current=passport, aspect="documents")
    search = StubSearch((passport, 1.0, 0.45), (passport_lost, 1.0, 0.40))
    plan = run("ho chieu cu cua mk bi mat", state=state, search=search)
    assert codes(plan)[:1] != [passport] or plan.kind == "choose"


def test_an_alias_with_its_variant_said_verbatim():
    search = StubSearch((LAND_EXCHANGE, 1.0, 0.47), (LAND_LOST, 1.0, 0.30))
    plan = run("cấp lại sổ đỏ cần những gì", search=search, intent="ask_documents")
    assert (plan.kind, codes(plan)) == ("answer", [LAND_LOST])


class PartSearch:
    """Answers each query with the hits configured for the first key it contains (the either-or sides)."""

    def __init__(self, table: dict[str, list[tuple[str, float, float]]]) -> None:
        self.table = table

    def search(self, query: str, k: int = 5, retriever: str = "hybrid") -> list[Hit]:
        for key, hits in self.table.items():
            if key in query:
                return [Hit(c, CATALOGUE[c].name, s, [], CATALOGUE[c], conf) for c, conf, s in hits][:k]
        return []

    unknown_words = StubSearch.unknown_words


def test_either_or_offers_both_sides():
    guardian, guardian_end = "1.004837", "1.004845"
    search = PartSearch({"chấm dứt": [(guardian_end, 1.0, 0.5)], "giám hộ": [(guardian, 1.0, 0.5)]})
    plan = run("đăng ký hay chấm dứt giám hộ thì cần những giấy tờ gì", search=search, intent="ask_documents")
    assert (plan.kind, set(codes(plan)), plan.aspect) == ("choose", {guardian, guardian_end}, "documents")


def test_a_new_paper_is_the_current_procedures_paper():
    state = ConversationState(current=LAND_LOST, aspect="documents")
    plan = run("mat bao lau moi co so moi", state=state, search=StubSearch((LAND_EXCHANGE, 0.6, 0.4)))
    assert (plan.kind, codes(plan), plan.aspect) == ("answer", [LAND_LOST], "duration")


def test_folded_lan_is_lan_only_after_ca():
    from actions.resolver import _EITHER_OR_SPLIT, _either_or_text
    assert len(_EITHER_OR_SPLIT.split(_either_or_text("mat ca cavet xe lan bang lai"), maxsplit=1)) == 2
    assert len(_EITHER_OR_SPLIT.split(_either_or_text("di du lich thai lan can gi"), maxsplit=1)) == 1


def test_a_sibling_named_in_full_is_taken_even_when_the_nlu_hears_small_talk():
    guardian, guardian_end = "1.004837", "1.004845"
    state = ConversationState(current=guardian, aspect="documents")
    search = StubSearch((guardian_end, 1.0, 0.46), (guardian, 0.43, 0.37))
    plan = run("cháu đủ 18 tuổi rồi, muốn thôi giám hộ", state=state, search=search, intent="out_of_scope",
               confidence=0.88)
    assert (plan.kind, codes(plan)) == ("answer", [guardian_end])
    # named only in part: not placed, and the old procedure is forgotten
    search = StubSearch((guardian_end, 0.67, 0.46), (guardian, 0.43, 0.37))
    plan = run("cháu đủ 18 tuổi rồi, muốn thôi giám hộ", state=state, search=search, intent="out_of_scope",
               confidence=0.88)
    assert plan.kind == "fallback" and plan.forget
    # an off-topic question that names nothing keeps the conversation
    plan = run("mua vé máy bay ở đâu", state=state, search=StubSearch((guardian, 0.2, 0.3)), intent="out_of_scope")
    assert plan.kind == "fallback" and not plan.forget


def test_an_alias_that_is_only_the_common_start_of_two_names_asks_which():
    not_collaborator, collaborator = "2.001008", "2.000992"
    search = StubSearch((not_collaborator, 1.0, 0.47), (collaborator, 1.0, 0.37))
    plan = run("chung thuc chu ky nguoi dich can gi", search=search, intent="ask_documents")
    assert plan.kind == "choose" and set(codes(plan)) == {not_collaborator, collaborator}
    # the whole name of one of them, inside a longer name of another, still names it
    residence, residence_removal = "1.004222", "1.003197"
    search = StubSearch((residence_removal, 1.0, 0.42), (residence, 1.0, 0.40))
    plan = run("đăng ký thường trú cần gì", search=search, intent="ask_documents")
    assert (plan.kind, codes(plan)) == ("answer", [residence])


def test_coming_back_to_a_topic_is_not_asking_again():
    assert variant_markers("quay lại đăng ký thường trú, mất bao lâu") == \
        variant_markers("đăng ký thường trú, mất bao lâu")
    assert "lai" in variant_markers("dang ky lai khai sinh")


def test_a_situation_is_answered_by_the_current_familys_variant():
    marriage_again, birth_again, death_again = "1.004746", "1.004884", "1.005461"
    state = ConversationState(current=MARRIAGE, aspect="where")
    search = StubSearch((birth_again, 0.78, 0.41), (death_again, 0.78, 0.39), (marriage_again, 0.67, 0.33))
    plan = run("minh dang ky roi nhung mat giay, so goc cung khong con", state=state, search=search)
    assert (plan.kind, codes(plan)) == ("answer", [marriage_again])


def test_an_option_is_picked_by_the_words_the_other_option_negates():
    options = [CATALOGUE["2.001008"], CATALOGUE["2.000992"]]  # … không phải là cộng tác viên / … là cộng tác viên
    assert option_by_words("cai cong tac vien", parse("cai cong tac vien"), options) == 1
    assert option_by_words("cái không phải cộng tác viên", parse("cái không phải cộng tác viên"), options) == 0


def test_hold_on_words_are_not_qualifiers():
    assert parse("từ từ, cái ở đâu làm?").rest == ""
    assert "tu" in parse("cấp thẻ căn cước cho trẻ từ 6 tuổi").rest.split()


def test_a_lost_civil_status_paper_offers_the_extract_too():
    birth_again, extract = "1.004884", "2.000635"
    search = StubSearch((birth_again, 0.9, 0.46), ("1.001193", 0.67, 0.31), (extract, 0.9, 0.25))
    plan = run("bà tôi bị mất giấy khai sinh thì làm sao", search=search)
    assert plan.kind == "choose" and {birth_again, extract} <= set(codes(plan))


def test_only_words_for_a_person_ask_for_one():
    from actions.resolver import asks_for_person
    assert asks_for_person("cho tôi gặp nhân viên") and asks_for_person("cho minh noi chuyen voi tong dai")
    assert not asks_for_person("cho nguoi lon") and not asks_for_person("cho người dưới 14 tuổi")


def test_of_two_pending_options_that_fit_equally_the_search_decides():
    from actions.state import PendingChoice
    copy, contract = "2.000942", "2.001035"
    state = ConversationState(choice=PendingChoice([copy, contract], "documents"))
    search = StubSearch((contract, 0.86, 0.46), ("2.000913", 0.86, 0.37), (copy, 0.86, 0.31))
    plan = run("lệ phí chứng thực hợp đồng tính thế nào", state=state, search=search, intent="ask_fee")
    assert (plan.kind, codes(plan)) == ("answer", [contract])


def test_levels_that_narrow_nothing_are_a_follow_up():
    record_marriage = "2.002189"
    state = ConversationState(current=record_marriage, aspect="fee")
    plan = run("nop o xa hay o tinh", state=state, search=StubSearch((MARRIAGE, 0.6, 0.42)), intent="ask_where",
               confidence=1.0)
    assert (plan.kind, plan.aspect, codes(plan)) == ("answer", "where", [record_marriage])


def test_a_name_negated_a_few_words_before_is_not_said():
    from actions.resolver import said_verbatim
    birth = CATALOGUE["1.001193"]
    assert said_verbatim("làm giấy khai sinh cho ông", birth, True) >= 3
    assert said_verbatim("ông chưa từng có giấy khai sinh", birth, True) == 0


def test_how_many_days_said_with_hom():
    assert parse("mất mấy hôm").aspect == "duration" and parse("mất mấy hôm").rest == ""


def test_a_variant_that_explains_more_of_the_question_beats_the_plain_name_said():
    marriage_foreign = "2.000806"
    search = StubSearch((marriage_foreign, 0.73, 0.47), (MARRIAGE, 0.6, 0.32))
    plan = run("em gái tôi muốn đăng kí kết hôn với anh người Hàn Quốc, hồ sơ nộp ở đâu", search=search)
    assert codes(plan)[:1] == [marriage_foreign]
    # as much explained by both: the name said settles it
    residence, joint = "1.004222", "2.000986"
    search = StubSearch((residence, 0.8, 0.43), (joint, 0.8, 0.41))
    plan = run("còn đăng ký thường trú thì mất bao lâu?", search=search, intent="ask_duration")
    assert (plan.kind, codes(plan)) == ("answer", [residence])


def test_an_aspect_question_is_not_turned_to_a_sibling_by_half_its_words():
    bhyt_fix, land = "1.002759", "1.013833"
    state = ConversationState(current=bhyt_fix, aspect="documents")
    plan = run("lam tren VssID dc ko", state=state, search=StubSearch((land, 0.5, 0.25)), intent="ask_online",
               confidence=1.0)
    assert (plan.kind, codes(plan)) == ("answer", [bhyt_fix])


def test_the_ordinary_card_whatever_the_fused_scores_of_its_variants():
    # measured on a fresh CI index: "cấp đổi" ranked first by 16 % over the ordinary card
    exchange, reissue, card, child = "1.014063", "1.014064", "1.014061", "1.014062"
    search = StubSearch((exchange, 1.0, 0.425), (reissue, 1.0, 0.358), (card, 1.0, 0.347), (child, 1.0, 0.293))
    plan = run("lam the can cuoc mat bao lau", search=search, intent="ask_duration", confidence=1.0)
    assert (plan.kind, plan.aspect, codes(plan)) == ("answer", "duration", [card])


def test_something_the_citizen_has_is_not_founded_again():
    # "hộ kinh doanh NHÀ TÔI": the business exists, so its establishment is not an answer; what
    # can be done with it is asked back
    found, stop, pause = "1.001612", "1.001266", "1.001570"
    search = StubSearch((found, 0.71, 0.46), (stop, 0.57, 0.37), (pause, 0.43, 0.31))
    plan = run("hộ kinh doanh nhà tôi đang bán, giờ cần làm thủ tục gì ở phường", search=search)
    assert plan.kind == "choose" and set(codes(plan)) == {stop, pause}
    # words that ask to found one keep the establishment
    plan = run("nhà tôi muốn đăng ký hộ kinh doanh", search=StubSearch((found, 1.0, 0.46), (stop, 0.3, 0.2)))
    assert codes(plan) == [found]


PASSPORT, PASSPORT_LOST = "1.001456", "1.010386"
COPY_CERT, ESTATE_SPLIT = "2.000815", "2.001406"


def test_that_one_is_the_current_procedure():
    # "văn bản ĐÓ" (folded "do") points at what is being discussed, not at "… văn bản DO cơ quan …"
    search = StubSearch((COPY_CERT, 1.0, 0.37), (ESTATE_SPLIT, 0.75, 0.26))
    plan = run("phi chung thuc van ban do bn", ConversationState(current=ESTATE_SPLIT), search, intent="ask_fee")
    assert codes(plan) == [ESTATE_SPLIT]
    # "do" inside the words is not "that one"
    plan = run("chung thuc van ban do co quan cap", ConversationState(current=ESTATE_SPLIT), search)
    assert codes(plan) == [COPY_CERT]


def test_a_new_one_after_reporting_the_loss_is_the_procedure_itself():
    search = StubSearch((PASSPORT, 0.67, 0.46), (PASSPORT_LOST, 0.67, 0.37))
    plan = run("xong r lam ho chieu moi thi can j", ConversationState(current=PASSPORT_LOST), search)
    assert codes(plan) == [PASSPORT]


def test_where_one_lives_names_no_procedure():
    search = StubSearch(("1.004222", 0.62, 0.42))
    plan = run("có phải làm ở phường nơi mình đăng ký thường trú không", ConversationState(current=COPY_CERT),
               search, intent="ask_where", confidence=0.95)
    assert (plan.kind, codes(plan), plan.aspect) == ("answer", [COPY_CERT], "where")


def test_only_qualifiers_with_nothing_discussed_names_nothing():
    search = StubSearch((CARD_UNDER_14, 1.0, 0.46), (PASSPORT, 1.0, 0.37))
    plan = run("cho bé làm có mất tiền không", search=search, intent="ask_fee", confidence=0.92)
    assert plan.kind == "fallback" and not plan.procedures


def test_a_hit_covering_more_words_behind_the_top_opens_the_choice():
    # the fused score prefers the insurance card; the civil-status correction covers more words
    search = StubSearch((BHXH_BHYT_AGAIN, 0.74, 0.456), ("1.004859", 0.82, 0.333))
    plan = run("giay khai sinh cua con bi ghi sai ten dem, muon sua lai thi lam o dau", search=search)
    assert plan.kind == "choose" and "1.004859" in codes(plan)


def test_an_aspect_phrase_outweighs_an_unsure_goodbye():
    plan = run("lấy liền dc k hay phải hẹn", ConversationState(current=COPY_CERT), StubSearch(),
               intent="goodbye", confidence=0.48)
    assert (plan.kind, codes(plan), plan.aspect) == ("answer", [COPY_CERT], "duration")
    # a sure goodbye is not a question
    plan = run("thôi cảm ơn nhé, lấy liền dc k để mai tính", ConversationState(current=COPY_CERT), StubSearch(),
               intent="goodbye", confidence=0.95)
    assert plan.kind != "answer"


def test_a_variant_extending_the_paper_named_fits_a_story_better():
    # "giấy khai sinh" said, but "chưa đăng ký kết hôn … đứng tên bố" fits the joint birth and
    # paternity registration better than the plain birth registration
    joint, plain = "1.000689", "1.001193"
    search = StubSearch((joint, 0.69, 0.46), (plain, 0.6, 0.31))
    plan = run("bọn em chưa đăng ký kết hôn, anh ấy muốn đứng tên bố trên giấy khai sinh của bé luôn",
               ConversationState(current=plain), search)
    assert codes(plan) == [joint]
    # equally good: saying the name settles it
    plan = run("làm giấy khai sinh cho con cần gì", search=StubSearch((plain, 1.0, 0.46), (joint, 1.0, 0.29)))
    assert codes(plan) == [plain]


UNEMPLOYMENT, ID_NUMBER_PROOF, LAND_OWNER_CHANGE, LAND_FIRST = "1.001978", "1.012566", "1.013833", "1.013978"


def test_a_run_only_one_name_holds_names_it_in_a_long_story():
    """The story's words dilute the coverage (0.4), but "trợ cấp thất nghiệp" is one procedure's name."""
    story = "công ty vừa cắt giảm nhân sự, tôi bị cho nghỉ, muốn lãnh trợ cấp thất nghiệp thì cần giấy tờ gì"
    search = StubSearch((UNEMPLOYMENT, 0.4, 0.46), ("2.000693", 0.27, 0.31))
    plan = run(story, search=search, intent="ask_documents", confidence=0.98)
    assert plan.kind == "answer" and codes(plan) == [UNEMPLOYMENT]
    # negated, it is not asked for
    negated = "công ty vừa cắt giảm nhân sự, tôi chưa có trợ cấp thất nghiệp, giờ cần giấy tờ gì"
    assert run(negated, search=StubSearch((UNEMPLOYMENT, 0.4, 0.46)), intent="ask_documents").kind == "fallback"
    # shared words ("bảo hiểm") are no such run
    assert run("mua bảo hiểm nhân thọ của công ty nào tốt", search=StubSearch(("1.001939", 0.33, 0.35))).kind == "fallback"


def test_a_paper_the_story_mentions_is_not_the_procedure_asked_for():
    """While on sổ đỏ, "sổ còn ghi số chứng minh nhân dân cũ" asks to update the land record."""
    state = ConversationState(current=LAND_FIRST, aspect="documents")
    text = "nha minh co so roi, chi la so con ghi so chung minh nhan dan cu, muon cap nhat sang so can cuoc"
    search = StubSearch((ID_NUMBER_PROOF, 0.45, 0.40), (LAND_OWNER_CHANGE, 0.45, 0.38))
    plan = run(text, state=state, search=search)
    assert ID_NUMBER_PROOF not in codes(plan)


@pytest.mark.parametrize(
    ("ranking", "expected"),
    [  # split between two question intents: a question about a procedure
     ([("nlu_fallback", 0.45), ("ask_procedure", 0.464), ("ask_where", 0.46), ("greet", 0.008)], ("ask_procedure", 0.924)),
     # out of scope outweighs the questions: the NLU's own reading stays
     ([("nlu_fallback", 0.45), ("out_of_scope", 0.44), ("ask_where", 0.3), ("ask_fee", 0.1)], ("nlu_fallback", 0.45)),
     # a sure intent is left alone
     ([("ask_fee", 0.97), ("ask_where", 0.02)], ("ask_fee", 0.97))],
)
def test_nlu_reading_below_the_fallback_threshold(ranking, expected):
    from actions.resolver import nlu_reading

    ranked = [{"name": n, "confidence": c} for n, c in ranking]
    intent, confidence = nlu_reading(ranking[0][0], ranking[0][1], ranked)
    assert (intent, round(confidence, 3)) == expected


LICENCE_RENEW, LICENCE_AGAIN = "3.000347", "3.000348"


def test_a_family_keeps_syllables_that_fold_into_qualifiers():
    """Folded, "lái" is "lại" and "cư" is "cũ": the names' diacritics keep "lái xe" and "cư trú" as cores."""
    from actions.resolver import core_bigrams

    assert "lai xe" in core_bigrams(CATALOGUE[LICENCE_RENEW])
    assert "cu tru" in core_bigrams(CATALOGUE["1.010041"])


def test_the_denied_alternative_is_not_searched():
    """While on renewing the licence, "bị mất chứ không phải hết hạn" narrows to the re-issue."""
    from actions.resolver import without_denied_part

    assert without_denied_part("à bằng của mình bị mất chứ không phải hết hạn") == "à bằng của mình bị mất"
    assert without_denied_part("ko phai doi ma la bi mat").split() == ["bi", "mat"]
    assert without_denied_part("có phải làm ở phường không") == "có phải làm ở phường không"
    state = ConversationState(current=LICENCE_RENEW, aspect="where")
    # what the search finds for "bằng của mình bị mất": the licence and the vehicle papers ("… BẰNG dịch
    # vụ công"); the family being discussed decides, which needs "lái xe" as its core
    search = StubSearch((LICENCE_AGAIN, 1.0, 0.4), ("1.013082", 1.0, 0.38))
    plan = run("à bằng của mình bị mất chứ không phải hết hạn", state=state, search=search)
    assert "hết hạn" not in search.queries[-1]
    assert codes(plan) == [LICENCE_AGAIN]


def test_context_decides_only_between_close_fits():
    """While on the birth registration, "xin bản sao" fits the copy clearly better: not the registration."""
    state = ConversationState(current="1.001193", aspect="fee")
    search = StubSearch(("2.000635", 0.71, 0.4), ("1.004884", 0.64, 0.45), ("1.001193", 0.6, 0.39))
    plan = run("à còn giấy khai sinh của chồng em bị rách nát, xin bản sao ở đâu", state=state, search=search,
               intent="ask_where", confidence=0.95)
    assert plan.kind != "answer" or codes(plan) != ["1.001193"]
    assert "2.000635" in codes(plan)
    # as close as the others, the procedure being discussed still decides
    search = StubSearch(("2.000635", 0.66, 0.4), ("1.001193", 0.64, 0.39))
    plan = run("à còn giấy khai sinh thì sao", state=state, search=search)
    assert codes(plan) == ["1.001193"]


def test_a_hit_carrying_more_of_the_asked_variants_goes_first():
    """"… mun ĐỔI LẠI": the exchange/re-issue, not the re-assessment that only shares "lại"."""
    text = "giay xac nhan khuyet tat cua con bi uot nhoe het chu, mk mun doi lai thi lam ntn"
    search = StubSearch(("1.001699", 0.667, 0.46), ("1.001653", 0.714, 0.37))
    plan = run(text, search=search, intent="ask_procedure", confidence=1.0)
    assert codes(plan)[0] == "1.001653"


@pytest.mark.parametrize(
    ("text", "aspect"),
    [("nop o ubnd xa dc ko", "where"), ("làm ở phường khác chỗ đang ở được không", "where"),
     ("đi đăng ký ở xã bên chồng hay bên vợ", "where"),
     # no place after "ở", or the question is which procedure
     ("sinh con ở bệnh viện", None), ("hộ kinh doanh nhà tôi đang bán, giờ cần làm thủ tục gì ở phường", None),
     # a statement, not a question: where something is kept
     ("chỉ cần xin bản sao thôi, ở phường vẫn còn lưu sổ", None)],
)
def test_a_place_after_o_asks_where(text, aspect):
    assert parse(text).aspect == aspect


def test_a_place_question_follows_up_on_the_current_procedure():
    """While on the building permit, "nộp ở UBND xã được không" asks where, not for a certification."""
    state = ConversationState(current="1.013225", aspect="documents")
    search = StubSearch(("2.001035", 0.67, 0.4), ("2.000992", 0.67, 0.39))
    plan = run("nop o ubnd xa dc ko", state=state, search=search, intent="ask_where", confidence=0.63)
    assert plan.kind == "answer" and codes(plan) == ["1.013225"] and plan.aspect == "where"


def test_a_run_another_procedure_also_holds_in_an_alias_is_not_distinct():
    """"hưởng bảo hiểm" is in the official name of BHXH một lần and in aliases of others: it names none."""
    from actions.resolver import distinct_run

    lump_sum = CATALOGUE["1.001613"]
    assert distinct_run("muốn hưởng bảo hiểm thì làm sao", lump_sum, CATALOGUE, as_typed=True) == 0
    assert distinct_run("muốn hưởng bảo hiểm xã hội một lần", lump_sum, CATALOGUE, as_typed=True) >= 4


def test_qualifiers_with_an_aspect_refine_within_the_same_field():
    # "Cấp lại chứng nhận đăng ký xe" shares "chứng nhận" with the land certificate, as "Cấp lại Giấy
    # chứng nhận do bị mất" does: the field being discussed decides
    state = ConversationState(current=LAND_EXCHANGE, aspect="overview")
    plan = run("bao lâu thì được cấp lại", state=state, search=StubSearch(("1.013082", 1.0, 0.5)))
    assert (plan.kind, codes(plan), plan.aspect) == ("answer", [LAND_LOST], "duration")


def test_qualifiers_with_an_aspect_answer_the_pending_choice_they_name():
    from actions.state import PendingChoice
    state = ConversationState(choice=PendingChoice([LAND_LOST, LAND_EXCHANGE], "documents"), aspect="documents")
    plan = run("bao lâu thì được cấp lại", state=state, search=StubSearch(("1.013082", 1.0, 0.5)))
    assert (plan.kind, codes(plan), plan.aspect) == ("answer", [LAND_LOST], "duration")


def test_the_situation_told_decides_between_hits_within_the_gap():
    # "bị mất" is told: the land certificate "do bị mất" at 0.83 is not passed over for "cấp đổi" at 0.86
    plan = run("nhà tôi bị mất sổ đỏ", search=StubSearch((LAND_EXCHANGE, 0.86, 0.46), (LAND_LOST, 0.83, 0.37)))
    assert codes(plan)[:1] == [LAND_LOST]


def test_the_hotline_is_asked_for_by_name_not_by_aspect():
    from actions.resolver import asks_for_hotline
    assert asks_for_hotline("số tổng đài là bao nhiêu") and asks_for_hotline("hotline bn v")
    assert asks_for_hotline("duong day nong so may")
    assert not asks_for_hotline("cho tôi gặp tổng đài viên")  # a person: the hand-off
    assert not asks_for_hotline("làm hộ chiếu hết bao nhiêu")


@pytest.mark.parametrize(("text", "age"), [("con gái mình mới 8 tuổi", 8), ("bé 3 tháng tuổi", 0), ("chưa đủ 14 tuổi", 13),
                                           ("con tôi tám tuổi", 8), ("con 15 tuoi", 15), ("làm căn cước", None),
                                           ("ba tuoi", None)])  # folded number words are other words too
def test_the_age_told(text, age):
    from actions.resolver import told_age
    assert told_age(text) == age


def test_an_age_the_discussed_procedure_excludes_picks_its_kin_for_that_age():
    state = ConversationState(current=CARD, aspect="documents")
    plan = run("à còn con gái mình mới 8 tuổi thì làm cho cháu thế nào", state=state,
               search=StubSearch(("1.004837", 0.29, 0.41)))
    assert (plan.kind, codes(plan)) == ("answer", [CARD_UNDER_14])
    # an age the discussed procedure admits changes nothing
    plan = run("con tôi 15 tuổi rồi thì sao", state=state, search=StubSearch((CARD, 0.5, 0.4)))
    assert codes(plan) != [CARD_UNDER_14]


def test_a_first_question_with_an_age_drops_the_variants_that_exclude_it():
    plan = run("lam can cuoc cho nguoi 8 tuoi can gi", intent="ask_documents",
               search=StubSearch((CARD, 0.9, 0.5), (CARD_UNDER_14, 0.7, 0.45)))
    assert (plan.kind, codes(plan)) == ("answer", [CARD_UNDER_14])


def test_a_detail_of_the_current_procedure_gets_its_steps_said_to_be_the_nearest_facts():
    state = ConversationState(current=CARD_UNDER_14, aspect="overview")
    plan = run("bé có phải đi cùng để chụp ảnh lấy vân tay k", state=state, search=StubSearch((CARD, 0.3, 0.3)))
    assert (plan.kind, codes(plan), plan.aspect, plan.detail) == ("answer", [CARD_UNDER_14], "steps", True)
    # an off-topic question shares a word or two with the record at most: the honest fallback
    plan = run("đặt vé máy bay đi Đà Nẵng cho bé", state=state, search=StubSearch((CARD, 0.3, 0.3)))
    assert plan.kind == "fallback"
    # too few words to tell: the fallback too
    assert run("chụp ảnh thẻ", state=state, search=StubSearch((CARD, 0.3, 0.3))).kind == "fallback"


def test_a_denied_variant_rules_out_the_procedures_that_carry_it():
    from actions.resolver import denied_variants
    assert denied_variants("à nhầm, nhà tôi bị mất sổ đỏ chứ không phải đổi") == {"doi"}
    assert denied_variants("làm sổ đỏ lần đầu") == frozenset()
    # on "Cấp đổi …", the correction is not about the discussed procedure, and "đổi" is out of the hits
    state = ConversationState(current=LAND_EXCHANGE, aspect="overview")
    plan = run("à nhầm, nhà tôi bị mất sổ đỏ chứ không phải đổi", state=state,
               search=StubSearch((LAND_EXCHANGE, 0.86, 0.46), (LAND_LOST, 0.83, 0.37)))
    assert (plan.kind, codes(plan)) == ("answer", [LAND_LOST])


def test_boilerplate_name_words_make_kin_only_within_a_field():
    from actions.resolver import kin_of
    land_exchange, land_lost, vehicle_again = (CATALOGUE[c] for c in (LAND_EXCHANGE, LAND_LOST, "1.013082"))
    assert kin_of([land_lost], [land_exchange]) == [land_exchange]  # "chứng nhận", both land
    assert kin_of([vehicle_again], [land_exchange]) == []  # "chứng nhận" alone: vehicle and land are no family


def test_another_procedure_is_switched_to_only_when_named():
    disability = "1.001699"
    state = ConversationState(current=disability, aspect="overview")
    plan = run("à con em có giấy rồi, nhưng bị ướt nhòe hết chữ, muốn xin cấp lại", state=state,
               search=StubSearch((LAND_EXCHANGE, 0.64, 0.5)))
    assert LAND_EXCHANGE not in codes(plan), plan
    # named ("sổ đỏ" is the land certificate): the switch happens
    plan = run("còn làm sổ đỏ lần đầu thì sao", state=state, search=StubSearch((LAND_FIRST, 0.9, 0.5)))
    assert codes(plan) == [LAND_FIRST]


def test_an_unnamed_top_hit_gives_way_to_the_hit_the_question_names():
    passport = "1.001456"
    state = ConversationState(current="3.000333", aspect="where")  # lý lịch tư pháp
    plan = run("con ho chieu thi sao, chua lam bao gio", state=state,
               search=StubSearch(("1.004772", 0.8, 0.24), (passport, 0.71, 0.41)))
    assert (plan.kind, codes(plan)) == ("answer", [passport]), plan
    # nothing named at all: the fallback, and the unplaced question leaves no current procedure behind
    plan = run("no bi uot nhoe het chu", state=state, search=StubSearch((LAND_EXCHANGE, 0.64, 0.5)))
    assert plan.kind == "fallback" and plan.forget


def test_a_one_word_question_does_not_break_the_resolver():
    from actions.resolver import verbatim_phrase
    assert verbatim_phrase("sổ", CATALOGUE[LAND_FIRST], as_typed=True) == ()
    assert run("sổ", search=StubSearch((LAND_FIRST, 0.5, 0.4))).kind in {"fallback", "answer", "choose"}


def test_a_procedure_is_named_by_its_own_words_not_by_boilerplate():
    from actions.resolver import names_core
    will = CATALOGUE["2.001019"]  # Chứng thực di chúc
    assert names_core("cán bộ có đến nhà chứng thực được không", will, True)
    assert not names_core("con em có giấy rồi, nhưng bị ướt nhòe hết chữ, muốn xin cấp lại", CATALOGUE[LAND_EXCHANGE], True)
    assert names_core("sổ đỏ bị rách", CATALOGUE[LAND_EXCHANGE], True)  # a colloquial term for it


def test_the_words_after_thu_tuc_name_the_procedure_however_long_the_story():
    from actions.resolver import named_after_thu_tuc
    permit, split, transfer = "1.013225", "1.012784", "1.013831"
    state = ConversationState(current=permit, aspect="duration")
    search = StubSearch((split, 0.64, 0.46), (transfer, 0.55, 0.37))
    for text in ("À còn muốn tách một phần đất cho con gái đứng tên riêng thì thủ tục tách thửa thế nào",
                 "a con muon tach mot phan dat cho con gai dung ten rieng thi thu tuc tach thua the nao"):
        plan = run(text, state=state, search=search)
        assert (plan.kind, codes(plan)) == ("answer", [split]), (text, plan)
    hits = search.search("")
    assert named_after_thu_tuc("thủ tục tách thửa thế nào", hits, as_typed=True).code == split
    assert named_after_thu_tuc("thủ tục đất đai thế nào", hits, as_typed=True) is None  # names no procedure
    assert named_after_thu_tuc("tách thửa thì làm thủ tục gì", hits, as_typed=True) is None  # not after "thủ tục"


def test_a_close_candidate_about_another_object_is_no_option():
    """The card is named; the driving licence's "làm lại … bị mất" holds only the situation words, so it is
    not offered. The copy extract, whose alias names the marriage the question names, stays an option."""
    licence_again, remarriage, extract = "3.000348", "1.004746", "2.000635"
    search = StubSearch((CARD_AGAIN, 1.0, 0.427), (licence_again, 0.75, 0.411), (LAND_LOST, 0.75, 0.293))
    for text in ("mất căn cước thì làm lại cần giấy tờ gì", "mat can cuoc thi lam lai can giay to gi"):
        plan = run(text, search=search, intent="ask_documents", confidence=1.0)
        assert (plan.kind, codes(plan)) == ("answer", [CARD_AGAIN]), (text, plan)
    search = StubSearch((remarriage, 1.0, 0.421), (extract, 1.0, 0.405), (MARRIAGE, 0.833, 0.344))
    plan = run("mat giay dang ky ket hon thi lam sao", search=search, confidence=0.993)
    assert plan.kind == "choose" and {remarriage, extract} <= set(codes(plan)), plan


def test_a_purpose_clause_alone_is_no_name_of_the_procedure():
    from actions.resolver import name_confidence
    single = CATALOGUE["1.004873"]  # aliases "… để vay ngân hàng", "… để mua nhà"
    assert name_confidence("vay ngân hàng mua nhà cần giấy tờ gì", single, as_typed=True) == 0.0
    assert name_confidence("xin giấy độc thân để vay ngân hàng", single, as_typed=True) >= 0.8


def test_a_lost_paper_within_the_family_is_the_member_that_names_the_loss():
    """On the disability certificate, "bị mất … làm lại" is its re-issue ("Đổi, cấp lại …"), not the
    assessment whose name merely holds "lại" ("xác định lại")."""
    assess, reissue = "1.001699", "1.001653"
    state = ConversationState(current=assess, aspect="where")
    search = StubSearch(("3.000348", 0.714, 0.377), (LAND_LOST, 0.714, 0.346), ("1.002759", 0.571, 0.321),
                        (reissue, 0.714, 0.27), ("1.004746", 1.0, 0.262))
    plan = run("giay cu cua chong em bi mat thi lam lai the nao", state=state, search=search, confidence=1.0)
    assert (plan.kind, codes(plan)) == ("answer", [reissue]), plan


def test_a_sibling_is_taken_only_for_a_word_that_tells_it_apart():
    """"vân tay" is in the child's card record too: the question stays on it. "bị mất" is a variant
    the exchanged card's name lacks: it moves to the re-issue."""
    state = ConversationState(current=CARD_UNDER_14, aspect="documents")
    search = StubSearch(("2.000806", 0.333, 0.414), (CARD, 0.5, 0.409), (MARRIAGE, 0.333, 0.259))
    plan = run("bé có phải đi lấy vân tay ko", state=state, search=search, intent="ask_duration", confidence=0.566)
    assert codes(plan) == [CARD_UNDER_14], plan
    from actions.resolver import tells_apart
    assert not tells_apart("bé có phải đi lấy vân tay ko", CATALOGUE[CARD], [CATALOGUE[CARD_UNDER_14]], True)
    assert tells_apart("a khong, cua toi la bi mat vi mat luon the roi", CATALOGUE[CARD_AGAIN],
                       [CATALOGUE[CARD_RENEW]], False)


def test_a_foreign_word_the_catalogue_never_uses_is_no_follow_up_unless_it_names_an_app():
    passport, tax = "1.001456", "1.008498"
    state = ConversationState(current=passport, aspect="documents")
    search = StubSearch(("3.000347", 0.2, 0.3), (passport, 0.2, 0.25))
    plan = run("đổi tiền won ở đâu được tỷ giá tốt", state=state, search=search, intent="ask_where", confidence=0.9)
    assert plan.kind == "fallback", plan
    plan = run("lam tren app etax dc ko", state=ConversationState(current=tax, aspect="documents"),
               search=StubSearch(("1.002759", 0.3, 0.2)), intent="ask_online", confidence=0.95)
    assert (plan.kind, codes(plan)) == ("answer", [tax]), plan


@pytest.mark.parametrize(
    ("text", "lost"),
    [("Ong noi minh mat tuan truoc, lam khai tu o dau vay?", False), ("bố e mới mất hôm qua ở bệnh viện", False),
     ("mẹ tôi đã mất năm ngoái", False), ("bà bị mất giấy khai sinh", True), ("mẹ làm mất sổ hộ khẩu", True),
     ("bố mất thẻ bhyt rồi", True), ("mất giấy khai tử của ông", True), ("giay cu bi mat roi", True)],
)
def test_a_person_who_died_is_no_lost_paper(text, lost):
    assert bool(variant_markers(text) & {"mất", "mat"}) is lost


def test_a_death_is_registered_not_re_registered():
    death, death_again = "1.000656", "1.005461"
    search = StubSearch((death, 0.667, 0.45), (death_again, 0.667, 0.43))
    plan = run("Ong noi minh mat tuan truoc, lam khai tu o dau vay?", search=search, intent="ask_where",
               confidence=0.95)
    assert (plan.kind, codes(plan)) == ("answer", [death]), plan


def test_words_the_current_name_holds_as_well_as_a_siblings_narrow_nothing():
    joint_stock, one_member = "2.002043", "2.001583"
    state = ConversationState(current=joint_stock, aspect="steps")
    plan = run("lệ phí đăng ký bao nhiêu", state=state, search=StubSearch((one_member, 1.0, 0.4)), intent="ask_fee",
               confidence=1.0)
    assert (plan.kind, codes(plan)) == ("answer", [joint_stock]), plan


def test_what_the_current_procedure_gives_is_asked_about_it():
    joint_stock = "2.002043"
    state = ConversationState(current=joint_stock, aspect="fee")
    search = StubSearch(("1.012783", 1.0, 0.4), ("1.013978", 1.0, 0.38), (LAND_LOST, 1.0, 0.35))
    plan = run("bao lâu thì có giấy chứng nhận", state=state, search=search, intent="ask_duration", confidence=1.0)
    assert (plan.kind, plan.aspect, codes(plan)) == ("answer", "duration", [joint_stock]), plan


def test_the_one_name_with_the_situation_and_the_wish_answers():
    exchange, first = "1.012783", "1.013978"
    search = StubSearch((exchange, 0.9, 0.466), (LAND_LOST, 1.0, 0.342), (first, 0.85, 0.338))
    for text in ("sổ đỏ nhà e bị mất thì làm lại ntn", "so do nha e bi mat thi lam lai ntn"):
        plan = run(text, search=search, intent="ask_procedure", confidence=0.99)
        assert (plan.kind, codes(plan)) == ("answer", [LAND_LOST]), (text, plan)
    plan = run("mất sổ đỏ", search=search, intent="ask_procedure", confidence=0.99)  # the wish untold: asked
    assert plan.kind == "choose", plan
