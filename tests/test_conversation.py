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


def test_without_diacritics(servers):
    c = last_custom(servers.say("nodiac-1", "lam the can cuoc mat bao lau"))
    assert c["aspect"] == "duration"
    if c["procedure_code"] is None:  # several card procedures fit: it must ask among them
        assert len(c["candidates"]) >= 2
        assert all("căn cước" in x["name"].lower() for x in c["candidates"])
    else:
        assert "căn cước" in c["procedure_name"].lower()


def test_disambiguation_and_choice(servers):
    msgs = servers.say("choose-1", "cấp lại thẻ căn cước hay cấp đổi thẻ căn cước cần gì")
    c = last_custom(msgs)
    if c["procedure_code"] is None:
        assert len(c["candidates"]) >= 2 and msgs[-1].get("buttons")
        chosen = c["candidates"][1]["code"]
        c2 = last_custom(servers.say("choose-1", "số 2"))
        assert c2["procedure_code"] == chosen
        assert c2["aspect"] == c["aspect"]  # the aspect asked before the choice
    else:  # the engine was sure: then it must be one of the two named
        assert "căn cước" in c["procedure_name"].lower()


def test_out_of_scope_says_it_does_not_know(servers):
    msgs = servers.say("oos-1", "dự báo thời tiết Hà Nội ngày mai thế nào")
    c = last_custom(msgs)
    assert c["procedure_code"] is None
    assert "1022" in msgs[-1]["text"]


def test_request_human_hands_off(servers):
    msgs = servers.say("human-1", "cho tôi gặp tổng đài viên")
    assert msgs[-1]["custom"].get("handoff") is True
    assert "1022" in msgs[-1]["text"]


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
