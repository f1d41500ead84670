"""Whole conversations over REST against the real Rasa server and the real action server."""

from __future__ import annotations

import pytest

from tests.servers import Servers

KEYS = {"procedure_code", "procedure_name", "aspect", "confidence", "candidates", "source_url"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    s = Servers(tmp_path_factory.mktemp("servers")).start()
    yield s
    s.stop()


def last_custom(messages: list[dict]) -> dict:
    for m in messages:
        assert KEYS <= set(m["custom"]), m
    return messages[-1]["custom"]


def test_every_message_carries_the_payload(servers):
    for m in servers.say("payload-1", "xin chào"):
        assert KEYS <= set(m["custom"])
        assert m["custom"]["procedure_code"] is None


def test_follow_ups_stay_on_the_procedure(servers):
    c = last_custom(servers.say("follow-1", "đăng ký kết hôn cần giấy tờ gì?"))
    code = c["procedure_code"]
    assert c["aspect"] == "documents" and code
    assert code in c["source_url"]
    msgs = servers.say("follow-1", "còn lệ phí thì sao?")
    c2 = last_custom(msgs)
    assert (c2["procedure_code"], c2["aspect"]) == (code, "fee")
    assert code in msgs[-1]["text"]  # the answer cites its source
    c3 = last_custom(servers.say("follow-1", "nộp ở đâu?"))
    assert (c3["procedure_code"], c3["aspect"]) == (code, "where")


def test_switching_procedure(servers):
    first = last_custom(servers.say("switch-1", "làm giấy khai sinh cho con cần gì"))
    second = last_custom(servers.say("switch-1", "còn đăng ký thường trú thì mất bao lâu?"))
    assert first["procedure_code"] != second["procedure_code"]
    assert "thường trú" in second["procedure_name"].lower()
    assert second["aspect"] == "duration"


def test_without_diacritics_how_long_is_not_lost(servers):
    """"mất bao lâu" is "how long", not "lost": the ordinary card, its duration."""
    c = last_custom(servers.say("nodiac-1", "lam the can cuoc mat bao lau"))
    assert (c["procedure_code"], c["aspect"]) == ("1.014061", "duration")
    c = last_custom(servers.say("nodiac-1", "còn lệ phí thì sao?"))
    assert (c["procedure_code"], c["aspect"]) == ("1.014061", "fee")
    c = last_custom(servers.say("nodiac-1", "dc nop online ko"))
    assert (c["procedure_code"], c["aspect"]) == ("1.014061", "online")
    c = last_custom(servers.say("nodiac-1", "cấp lại do bị mất"))
    assert c["procedure_code"] == "1.014064"  # the card re-issue, never a land certificate


def test_passport_how_long_is_not_report_lost(servers):
    c = last_custom(servers.say("passport-1", "làm hộ chiếu mất bao lâu"))
    assert (c["procedure_code"], c["aspect"]) == ("1.001456", "duration")


def test_disambiguation_and_choice(servers):
    msgs = servers.say("choose-1", "cấp lại hay cấp đổi thẻ căn cước cần gì")
    c = last_custom(msgs)
    assert c["procedure_code"] is None and c["aspect"] == "documents"
    codes = [x["code"] for x in c["candidates"]]
    assert {"1.014063", "1.014064"} <= set(codes) and msgs[-1].get("buttons")
    # a follow-up aspect during the choice never jumps to an unrelated procedure
    c2 = last_custom(servers.say("choose-1", "còn lệ phí thì sao?"))
    assert c2["aspect"] == "fee" and c2["procedure_code"] in {None, *codes}
    assert {x["code"] for x in c2["candidates"]} <= set(codes)
    c3 = last_custom(servers.say("choose-1", "số 2"))
    assert c3["procedure_code"] == codes[1] and c3["aspect"] == "fee"


def test_choice_by_the_options_words(servers):
    last_custom(servers.say("choose-2", "cấp lại hay cấp đổi thẻ căn cước"))
    c = last_custom(servers.say("choose-2", "cái cấp lại"))
    assert c["procedure_code"] == "1.014064"


def test_refinement_within_the_family(servers):
    assert last_custom(servers.say("refine-1", "đăng ký kết hôn cần giấy tờ gì"))["procedure_code"] == "1.000894"
    c = last_custom(servers.say("refine-1", "vợ tôi là người nước ngoài"))
    assert c["procedure_code"] == "2.000806" or "2.000806" in {x["code"] for x in c["candidates"]}


@pytest.mark.parametrize(
    "text", ["mua vé máy bay ở đâu", "giá vàng hôm nay bao nhiêu", "đăng ký học lái xe ô tô ở trung tâm nào rẻ",
             "mất ví thì làm sao"],
)
def test_off_topic_sharing_words_gets_the_fallback(servers, text):
    msgs = servers.say("oos-2", "làm căn cước cần giấy tờ gì")  # even inside a conversation
    msgs = servers.say("oos-2", text)
    c = last_custom(msgs)
    assert c["procedure_code"] is None and not msgs[-1].get("buttons")
    assert "1022" in msgs[-1]["text"]


@pytest.mark.parametrize("text", ["asdkjh qwe", "😀😀😀", "what is the fee for a passport"])
def test_noise_gets_rephrase_never_yes_no(servers, text):
    servers.say("noise-1", "hãy cho tôi gặp tổng đài viên")  # leaves nothing pending
    servers.say("noise-1", "làm căn cước cần giấy tờ gì")
    msgs = servers.say("noise-1", text)
    c = last_custom(msgs)
    assert c["procedure_code"] is None and c.get("rephrase") is True, msgs


def test_out_of_scope_says_it_does_not_know(servers):
    msgs = servers.say("oos-1", "dự báo thời tiết Hà Nội ngày mai thế nào")
    c = last_custom(msgs)
    assert c["procedure_code"] is None
    assert "1022" in msgs[-1]["text"]


def test_hand_off_without_a_desk_gives_the_hotline_honestly(servers):
    msgs = servers.say("human-1", "cho tôi gặp tổng đài viên")
    assert msgs[-1]["custom"].get("handoff") is False
    assert "1022" in msgs[-1]["text"] and "đang chuyển" not in msgs[-1]["text"]
    assert "chưa có tổng đài viên" in msgs[-1]["text"]


def test_a_detail_question_gets_the_nearest_facts_and_keeps_the_conversation(servers):
    servers.say("detail-1", "làm căn cước cho con 8 tuổi")
    msgs = servers.say("detail-1", "bé có phải đi cùng để chụp ảnh lấy vân tay k")
    c = last_custom(msgs)
    assert c["procedure_code"] == "1.014062" and c["aspect"] == "steps" and c["detail"] is True, msgs
    assert "chưa có thông tin riêng" in msgs[-1]["text"] and "vân tay" in msgs[-1]["text"]
    assert last_custom(servers.say("detail-1", "lệ phí làm cho bé bao nhiêu"))["procedure_code"] == "1.014062"


@pytest.mark.parametrize("text", ["số tổng đài là bao nhiêu", "hotline bn v"])
def test_asking_for_the_hotline_gets_the_number_and_keeps_the_conversation(servers, text):
    servers.say("hotline-1", "làm hộ chiếu cần giấy tờ gì")
    msgs = servers.say("hotline-1", text)
    c = last_custom(msgs)
    assert c["procedure_code"] is None and c.get("aspect") != "fee" and "1022" in msgs[-1]["text"], msgs
    assert c["kind"] == "hotline" and c["hotline"] == "1022" and not c["handoff"]  # the phone must not transfer
    assert last_custom(servers.say("hotline-1", "còn lệ phí thì sao"))["procedure_code"] == "1.001456"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😀😀😀", "how do I renew my passport?", "<script>alert('x')</script>", "khai sinh " * 1250],
)
def test_bad_input_gets_a_reply_never_500(servers, text):
    status, messages = servers.post({"sender": "bad-1", "message": text})
    assert status == 200
    assert messages and all(KEYS <= set(m["custom"]) for m in messages)
    assert all("<script>" not in (m.get("text") or "") for m in messages)


@pytest.mark.parametrize("sender", ["a b/c", "😀" * 3, "x" * 5000, 12345])
def test_odd_sender_ids(servers, sender):
    status, messages = servers.post({"sender": sender, "message": "xin chào"})
    assert status == 200 and messages


def test_malformed_requests_get_400(servers):
    assert servers.post(b"{not json")[0] == 400
    assert servers.post({"message": "xin chào"})[0] == 400
    assert servers.post({"sender": "x", "message": 42})[0] == 400
