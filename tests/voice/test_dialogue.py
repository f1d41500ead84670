"""Rasa reply parsing and the voice style (numbers, short sentences, documents)."""

from __future__ import annotations

import pytest

from voice.dialogue import (
    BotReply,
    digits_to_words,
    document_sentences,
    number_to_words,
    parse_replies,
    reply_sentences,
    sms_body,
    speak_numbers,
    voice_sentences,
)
from voice.testing.fakes import CLARIFY_REPLY, DOCUMENTS, DOCUMENTS_REPLY, FEE_REPLY, HANDOFF_REPLY


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"),
        (10, "mười"),
        (11, "mười một"),
        (15, "mười lăm"),
        (21, "hai mươi mốt"),
        (24, "hai mươi tư"),
        (25, "hai mươi lăm"),
        (105, "một trăm linh năm"),
        (110, "một trăm mười"),
        (1050, "một nghìn không trăm năm mươi"),
        (200_000, "hai trăm nghìn"),
        (1_500_000, "một triệu năm trăm nghìn"),
        (2_024, "hai nghìn không trăm hai mươi tư"),
        (3_000_000_000, "ba tỷ"),
    ],
)
def test_numbers_are_read_naturally(n: int, words: str) -> None:
    assert number_to_words(n) == words


def test_amounts_durations_codes_and_phone_numbers() -> None:
    assert speak_numbers("Lệ phí 200.000 đồng") == "Lệ phí hai trăm nghìn đồng"
    assert speak_numbers("phí 50.000đ/lần") == "phí năm mươi nghìn đồng mỗi lần"
    assert speak_numbers("trong 05 ngày làm việc") == "trong năm ngày làm việc"
    assert speak_numbers("giảm 1,5%") == "giảm một phẩy năm phần trăm"
    assert speak_numbers("mã 1.000110") == "mã một chấm không không không một một không"
    assert speak_numbers("gọi 0912345678.") == "gọi không chín một hai ba bốn năm sáu bảy tám."
    assert digits_to_words("113") == "một một ba"


def test_chat_text_becomes_short_spoken_sentences() -> None:
    text = (
        "**Lệ phí**: 200.000 đồng. Thời hạn giải quyết là 05 ngày làm việc kể từ khi nhận đủ hồ sơ hợp lệ, "
        "trường hợp cần xác minh thì thời hạn có thể kéo dài thêm 10 ngày làm việc nữa. "
        "Xem chi tiết tại https://dichvucong.gov.vn/p/home.html."
    )
    sentences = voice_sentences(text)
    assert sentences[0] == "Lệ phí: hai trăm nghìn đồng."
    assert all(len(s.split()) <= 18 for s in sentences)
    assert not any("http" in s or "*" in s for s in sentences)
    assert any("mười ngày" in s for s in sentences)


def test_bullets_are_dropped_when_documents_are_read_separately() -> None:
    assert voice_sentences("Hồ sơ gồm:\n- Tờ khai\n- Ảnh", drop_bullets=True) == ["Hồ sơ gồm."]


def test_documents_are_read_in_groups_with_ordinals() -> None:
    first = document_sentences(DOCUMENTS, 0, 3)
    assert first == ["Thứ nhất, tờ khai theo mẫu.", "Thứ hai, bản sao giấy khai sinh.", "Thứ ba, căn cước công dân."]
    assert document_sentences(DOCUMENTS, 6, 3) == ["Thứ bảy, biên lai nộp lệ phí."]
    assert document_sentences(["CCCD"], 0, 3) == ["Thứ nhất, CCCD."]


def test_parse_reply_with_custom_payload_and_documents() -> None:
    reply = parse_replies(DOCUMENTS_REPLY)
    assert reply.procedure_code == "1.001234"
    assert reply.aspect == "documents"
    assert reply.documents == DOCUMENTS
    assert "documents" not in reply.custom
    assert not reply.handoff


def test_parse_reply_without_custom_or_documents() -> None:
    reply = parse_replies([{"recipient_id": "x", "text": "Xin chào"}])
    assert reply.texts == ["Xin chào"] and reply.documents == [] and reply.custom == {}
    assert reply.procedure_code == "" and reply.candidates == []
    assert parse_replies([]).is_empty
    assert parse_replies({"oops": 1}).is_empty
    assert parse_replies([None, 3, {"image": "x.png"}]).is_empty


def test_documents_at_message_level_and_as_strings() -> None:
    reply = parse_replies([{"text": "Hồ sơ:", "documents": ["Tờ khai", {"ten": "Ảnh 4x6"}, {}, 5]}])
    assert reply.documents == ["Tờ khai", "Ảnh 4x6"]


@pytest.mark.parametrize(
    "messages",
    [
        HANDOFF_REPLY,
        [{"text": "Chuyển máy", "handoff": True}],
        [{"custom": {"action": "request_human"}}],
        [{"custom": {"request_human": True}}],
    ],
)
def test_handoff_is_detected(messages: list) -> None:
    assert parse_replies(messages).handoff


def test_candidates_become_a_spoken_question_when_there_is_no_text() -> None:
    sentences = reply_sentences(parse_replies(CLARIFY_REPLY))
    assert sentences[0].startswith("Anh/chị muốn hỏi")
    assert "Thứ nhất, Đăng ký khai sinh." in sentences


def test_sms_body_has_everything_including_the_link() -> None:
    body = sms_body(parse_replies(FEE_REPLY))
    assert body.startswith("Cấp lại giấy phép lái xe (1.001234)")
    assert "200.000 đồng" in body and "https://dichvucong.gov.vn" in body
    long = BotReply(texts=["x" * 3000])
    assert len(sms_body(long)) == 1500


def test_plan_reads_the_bots_numbered_options_as_keys() -> None:
    from voice.dialogue import plan_reply
    from voice.testing.fakes import CHOICE_REPLY

    plan = plan_reply(parse_replies(CHOICE_REPLY))
    assert plan.choices == ["số 1", "số 2"] and plan.documents == []
    assert plan.sentences[1] == "Số một, Cấp lại giấy phép lái xe."
    assert plan.sentences[-1] == "Anh Chị trả lời số thứ tự, ví dụ: số một, hoặc bấm chọn."


def test_plan_turns_a_numbered_document_list_into_groups() -> None:
    from voice.dialogue import plan_reply
    from voice.testing.fakes import NUMBERED_DOCUMENTS_REPLY

    plan = plan_reply(parse_replies(NUMBERED_DOCUMENTS_REPLY), per_turn=3)
    assert plan.sentences == ["Hồ sơ Đăng ký khai sinh gồm."]
    assert len(plan.documents) == 5 and plan.documents[0].startswith("Tờ khai đăng ký khai sinh")
    assert document_sentences(plan.documents, 0, 1) == ["Thứ nhất, tờ khai đăng ký khai sinh, bản chính: một."]


def test_plan_keeps_short_lists_inline() -> None:
    from voice.dialogue import plan_reply

    reply = parse_replies([{"text": "Lệ phí:\n- Trực tiếp: 200.000 đồng\n- Trực tuyến: 150.000 đồng", "custom": {"aspect": "fee"}}])
    plan = plan_reply(reply)
    assert plan.documents == [] and plan.sentences[1] == "Trực tiếp: hai trăm nghìn đồng."
