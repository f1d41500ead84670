"""Numbers read the Vietnamese way (vntext.numbers): money, phones, dates, codes; and PII masking."""

from __future__ import annotations

import pytest

from vntext.numbers import (
    date_words,
    decimal_words,
    money_words,
    number_words,
    phone_words,
    speak_text,
    spell_code,
    word_value,
)
from vntext.pii import mask_pii


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"), (10, "mười"), (11, "mười một"), (15, "mười lăm"), (21, "hai mươi mốt"), (24, "hai mươi tư"),
        (25, "hai mươi lăm"), (105, "một trăm linh năm"), (110, "một trăm mười"),
        (1050, "một nghìn không trăm năm mươi"), (200_000, "hai trăm nghìn"), (1_500_000, "một triệu năm trăm nghìn"),
        (2_024, "hai nghìn không trăm hai mươi tư"), (3_000_000_000, "ba tỷ"),
    ],
)
def test_numbers_are_read_naturally(n: int, words: str) -> None:
    assert number_words(n) == words


def test_money_usd_and_decimals() -> None:
    assert money_words(200_000) == "hai trăm nghìn đồng"
    assert money_words(1.5, "USD") == "một phẩy năm đô la Mỹ"
    assert decimal_words(2.25) == "hai phẩy hai mươi lăm"
    assert speak_text("10 USD/bản") == "mười đô la Mỹ mỗi bản"
    assert speak_text("Lệ phí 200.000 đồng") == "Lệ phí hai trăm nghìn đồng"
    assert speak_text("phí 50.000đ/lần") == "phí năm mươi nghìn đồng mỗi lần"
    assert speak_text("giảm 1,5%") == "giảm một phẩy năm phần trăm"
    assert speak_text("từ 5-7 ngày") == "từ năm đến bảy ngày"


def test_phone_and_hotline_numbers_digit_by_digit() -> None:
    assert phone_words("1022") == "một không hai hai"
    assert phone_words("0912345678") == "không chín một hai, ba bốn năm, sáu bảy tám"
    assert phone_words("+84912345678") == phone_words("0912 345 678")
    assert speak_text("gọi đường dây nóng 1022") == "gọi đường dây nóng một không hai hai"
    assert speak_text("gọi 0912.345.678") == "gọi không chín một hai, ba bốn năm, sáu bảy tám"


def test_dates_times_and_codes() -> None:
    assert date_words(31, 12, 2025) == "ngày ba mươi mốt tháng mười hai năm hai nghìn không trăm hai mươi lăm"
    assert speak_text("đến hết 31/12/2025") == "đến hết " + date_words(31, 12, 2025)
    assert speak_text("7h30–17h00") == "bảy giờ ba mươi đến mười bảy giờ"
    assert spell_code("CT01") == "xê tê không một"
    assert spell_code("DC02") == "dê xê không hai"
    assert spell_code("TK1-TS") == "tê ca một, gạch ngang, tê ét xì"
    assert speak_text("nộp tờ khai CT01 cho UBND xã") == "nộp tờ khai xê tê không một cho Ủy ban nhân dân xã"
    assert speak_text("công trình cấp III") == "công trình cấp ba"


def test_number_words_are_parsed_back() -> None:
    assert [word_value(w) for w in ("một", "hai", "tư", "không", "mười", "xyz")] == [1, 2, 4, 0, 10, None]


@pytest.mark.parametrize(
    "text",
    ["0912345678", "0912 345 678", "0912.345.678", "091-234-5678", "+84912345678", "+84 91 234 5678", "84912345678",
     "024 7300 0000"],
)
def test_phone_numbers_are_masked_in_every_form(text: str) -> None:
    masked = mask_pii(f"số của tôi là {text} nhé")
    assert masked.startswith("số của tôi là *") and masked.endswith(" nhé"), masked
    assert sum(c.isdigit() for c in masked) == 2, masked


def test_ids_and_email_are_masked_but_amounts_codes_and_dates_are_not() -> None:
    assert mask_pii("CCCD 001099012345, CMND 123456789") == "CCCD **********45, CMND *******89"
    assert mask_pii("cccd 001 099 012 345") == "cccd **********45"
    assert mask_pii("mail an.nguyen+tthc@gmail.com") == "mail ***@gmail.com"
    kept = "lệ phí 200.000 đồng, thủ tục 1.000110, hạn 31/12/2025, năm 2025, mẫu CT01"
    assert mask_pii(kept) == kept
