"""Reply parsing against the shared payload model, and the voice style composed from facts."""

from __future__ import annotations

import re

import pytest

import bot_payload
from tests.voice.support.fakes import (
    CHOICE_REPLY,
    DOCUMENTS,
    DOCUMENTS_REPLY,
    FALLBACK_REPLY,
    FEE_REPLY,
    HANDOFF_REPLY,
    NUMBERED_DOCUMENTS_REPLY,
    PORTAL,
    bot_message,
)
from voice.dialogue import parse_replies, sms_body, spoken
from voice.speech import DETAIL_LEAD, answer, document_item, fee_words, form_words, offer

SPOKEN_FORBIDDEN = re.compile(r"\d|https?://|www\.|[/«»()*#_|]|\b[A-ZĐ]{2,}\b")


def facts(**over: object) -> bot_payload.Facts:
    base: dict = {
        "code": "2.001234", "name": "Cấp hộ chiếu phổ thông (thực hiện tại cấp tỉnh)", "agency": "Công an tỉnh",
        "source_url": PORTAL + "2.001234", "online": True, "where_to_submit": "Phòng Quản lý xuất nhập cảnh",
        "documents": [], "channels": [], "steps": [], "legal_basis": [],
    }
    base.update(over)
    return bot_payload.Facts.from_dict(base)


def test_every_fake_reply_is_the_payload_the_real_bot_sends() -> None:
    for reply in (FEE_REPLY, DOCUMENTS_REPLY, HANDOFF_REPLY, CHOICE_REPLY, NUMBERED_DOCUMENTS_REPLY, FALLBACK_REPLY):
        for msg in reply:
            assert bot_payload.validate(msg["custom"]) == msg["custom"]
            assert set(msg["custom"]) == set(bot_payload.empty())


def test_a_payload_that_drifts_from_the_model_is_refused_naming_the_field() -> None:
    with pytest.raises(bot_payload.PayloadError, match=r"custom.facts.channels\[0\].fees\[0\].kind"):
        bot_payload.validate({"kind": "answer", "facts": {**facts().__dict__, "documents": [], "legal_basis": [],
                                                          "channels": [{"channel": "truc_tiep", "fees": [{"kind": "cheap"}]}]}})
    with pytest.raises(bot_payload.PayloadError, match="unknown keys"):
        bot_payload.validate({"documents": ["a"]})
    reply = parse_replies([{"text": "x", "custom": {"aspect": "price"}}])
    assert reply.error and spoken(reply).sentences == ["Xin lỗi, hệ thống đang bận. Anh chị vui lòng thử lại sau ít phút."]


def test_fee_is_said_in_words_from_the_facts_never_from_the_chat_text() -> None:
    said = spoken(parse_replies(FEE_REPLY))
    assert said.sentences == ["Lệ phí cấp lại giấy phép lái xe là hai trăm nghìn đồng."]
    assert said.offer and offer(said.aspect) == "Anh chị muốn nghe tiếp hồ sơ, thời gian hay nơi nộp?"
    assert not any(SPOKEN_FORBIDDEN.search(s) for s in said.sentences)


def test_the_overview_offers_what_it_has_not_said() -> None:
    """The overview says the time limit and the fee; its offer names the documents, the place and the steps."""
    assert offer("overview") == "Anh chị muốn nghe tiếp hồ sơ, nơi nộp hay các bước?"
    assert "lệ phí" not in offer("overview") and "thời gian" not in offer("overview")


def test_passport_fee_without_legal_numbers_or_the_source_line() -> None:
    f = facts(channels=[
        {"channel": "truc_tiep", "duration": {"unit": "ngay_lam_viec", "value": 8},
         "fees": [{"kind": "fixed", "amount": 200000, "note":
                   "200.000 đ/hộ chiếu; cấp lại do bị mất hoặc hư hỏng 400.000 đ/hộ chiếu (Thông tư 25/2021/TT-BTC)"}]},
        {"channel": "truc_tuyen", "duration": {"unit": "ngay_lam_viec", "value": 8},
         "fees": [{"kind": "fixed", "amount": 200000, "note": "Như nộp trực tiếp"}]},
    ])
    said = answer(f, "fee")
    assert said.sentences == [
        "Lệ phí cấp hộ chiếu phổ thông là hai trăm nghìn đồng.",
        "Cấp lại do bị mất hoặc hư hỏng bốn trăm nghìn đồng mỗi hộ chiếu.",
    ]
    assert len(said.sentences) <= 3


def test_fee_kinds_usd_and_the_provincial_council_case() -> None:
    assert fee_words(bot_payload.FeeFact("fixed", amount=1.5, currency="USD")) == "một phẩy năm đô la Mỹ"
    assert fee_words(bot_payload.FeeFact("range", min_amount=50000, max_amount=75000)) == \
        "từ năm mươi nghìn đồng đến bảy mươi lăm nghìn đồng"
    assert fee_words(bot_payload.FeeFact("provincial", min_amount=0, max_amount=10000, note="Do HĐND")) == \
        "do Hội đồng nhân dân tỉnh quyết định, thường không quá mười nghìn đồng"
    assert fee_words(bot_payload.FeeFact("free")) == "miễn phí"


def test_different_fees_per_channel_are_said_per_channel() -> None:
    f = facts(channels=[
        {"channel": "truc_tiep", "fees": [{"kind": "fixed", "amount": 15000}]},
        {"channel": "truc_tuyen", "fees": [{"kind": "fixed", "amount": 7000}]},
    ])
    assert answer(f, "fee").sentences[0] == \
        "Lệ phí cấp hộ chiếu phổ thông: nộp trực tiếp mười lăm nghìn đồng; nộp trực tuyến bảy nghìn đồng."


def test_durations_with_units_ranges_and_same_day() -> None:
    f = facts(channels=[
        {"channel": "truc_tiep", "duration": {"unit": "ngay_lam_viec", "value": 10, "max_value": 15}},
        {"channel": "truc_tuyen", "duration": {"unit": "trong_ngay"}},
    ])
    assert answer(f, "duration").sentences[0] == ("Thời hạn giải quyết cấp hộ chiếu phổ thông: nộp trực tiếp từ mười "
                                                   "đến mười lăm ngày làm việc; nộp trực tuyến trong ngày.")


def test_documents_three_at_a_time_with_copies_and_form_codes_spelled() -> None:
    said = spoken(parse_replies(DOCUMENTS_REPLY))
    assert said.sentences == ["Hồ sơ cấp lại giấy phép lái xe gồm bảy loại giấy tờ."]
    assert len(said.items) == len(DOCUMENTS)
    assert said.items[0] == "Thứ nhất, tờ khai theo mẫu, một bản chính, theo mẫu tê ca một, gạch ngang, tê ét xì."
    assert said.items[3] == "Thứ tư, hai ảnh bốn nhân sáu, một bản chính."
    doc = bot_payload.DocumentFact("Tờ khai thay đổi thông tin cư trú", 1, "bản chính", "CT01")
    assert document_item(0, doc) == "Thứ nhất, tờ khai thay đổi thông tin cư trú, một bản chính, theo mẫu xê tê không một."
    assert form_words("DC02") == "theo mẫu dê xê không hai"
    assert form_words("Mẫu số 18 ban hành kèm Nghị định 151/2025/NĐ-CP") == "theo mẫu số mười tám"
    assert form_words("Mẫu tờ khai theo Thông tư 04/2024/TT-BTP") == "theo mẫu"


def test_choice_is_read_as_numbered_keys() -> None:
    said = spoken(parse_replies(CHOICE_REPLY))
    assert said.choices == ["số 1", "số 2"]
    assert said.sentences == [
        "Anh chị muốn hỏi về lệ phí của thủ tục nào?", "Số một, cấp lại giấy phép lái xe.",
        "Số hai, đổi giấy phép lái xe do ngành Giao thông vận tải cấp.", "Anh chị bấm phím hoặc nói số thứ tự.",
    ]


def test_fallback_reads_the_hotline_digit_by_digit_and_its_hours() -> None:
    said = spoken(parse_replies(FALLBACK_REPLY))
    assert said.sentences[1] == ("Anh chị có thể gọi đường dây nóng một không hai hai, bảy giờ ba mươi đến mười bảy giờ, "
                                 "thứ Hai đến thứ Sáu.")


def test_the_hotline_asked_for_is_said_and_never_transfers() -> None:
    said = spoken(parse_replies([bot_message("Anh/Chị có thể gọi đường dây nóng 1022 (7h30–17h).", kind="hotline",
                                             hotline="1022", hotline_hours="7h30–17h00, thứ Hai đến thứ Sáu")]))
    assert not said.handoff
    assert said.sentences[0] == ("Anh chị có thể gọi đường dây nóng một không hai hai, bảy giờ ba mươi đến mười bảy giờ, "
                                 "thứ Hai đến thứ Sáu.")


def test_a_detail_answer_says_first_that_it_is_no_specific_answer() -> None:
    steps = facts(steps=["Nộp hồ sơ tại bộ phận một cửa", "Nhận kết quả"])
    plain_steps = spoken(parse_replies([bot_message("x", kind="answer", aspect="steps", facts=steps.__dict__)]))
    detail = spoken(parse_replies([bot_message("x", kind="answer", aspect="steps", facts=steps.__dict__, detail=True)]))
    assert plain_steps.sentences[0] != DETAIL_LEAD
    assert detail.sentences == [DETAIL_LEAD, *plain_steps.sentences] and detail.items == plain_steps.items


def test_a_step_that_opens_with_its_condition_is_said_with_what_to_do() -> None:
    steps = facts(steps=[
        "Với người dưới 6 tuổi: cha hoặc mẹ đăng nhập ứng dụng, chọn thủ tục, xem lại thông tin của con rồi gửi "
        "đề nghị cho cơ quan công an nơi cư trú để được giải quyết theo quy định",
        "Nhận kết quả. Trường hợp chưa đủ hồ sơ thì bổ sung",
    ])
    said = answer(steps, "steps")
    assert said.items == ["Bước một, với người dưới sáu tuổi: cha hoặc mẹ đăng nhập ứng dụng, chọn thủ tục.",
                          "Bước hai, nhận kết quả."]
    short = answer(facts(steps=["Với người dưới 6 tuổi: cha hoặc mẹ đăng nhập ứng dụng, chọn thủ tục rồi gửi đề nghị"]), "steps")
    assert short.items == ["Bước một, với người dưới sáu tuổi: cha hoặc mẹ đăng nhập ứng dụng, chọn thủ tục rồi gửi đề nghị."]


def test_handoff_and_plain_messages() -> None:
    assert spoken(parse_replies(HANDOFF_REPLY)).handoff
    plain = spoken(parse_replies([bot_message("Chào Anh/Chị! Xem https://x.vn nhé.")]))
    assert plain.sentences == ["Chào Anh chị!", "Xem nhé."]
    assert parse_replies([]).is_empty and parse_replies({"oops": 1}).error


def test_sms_body_carries_the_code_the_facts_and_the_link() -> None:
    body = sms_body(parse_replies(FEE_REPLY))
    assert body.startswith("Cấp lại giấy phép lái xe (mã 1.001234)")
    assert "200.000 đ" in body and body.endswith(PORTAL + "1.001234")
    long = parse_replies([bot_message("x", kind="answer", aspect="documents",
                                      facts={**DOCUMENTS_REPLY[0]["custom"]["facts"],
                                             "documents": [{"name": "giấy " * 40}] * 20})])
    assert len(sms_body(long)) <= 600 and sms_body(long).endswith("ma_thu_tuc=1.001234")
