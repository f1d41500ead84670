"""mask_pii: Vietnamese phone numbers, CCCD/CMND, e-mail and street addresses, with and without separators.

Why so many forms: citizens type numbers grouped the way they read them and addresses with or
without diacritics; one unmasked form in the conversation records is a leak.  The negative
cases matter as much: fees, procedure codes, dates and "phường 5, quận 3" on their own are
what citizens ask about and must stay readable for the analytics.
"""

from __future__ import annotations

import re

import pytest

from vntext.pii import ADDRESS_MASK, mask_pii


@pytest.mark.parametrize("phone", [
    "0912345678", "0912 345 678", "0912.345.678", "0912-345-678", "091 234 5678", "+84912345678", "+84 912 345 678",
    "+84 91 234 5678", "84912345678", "(+84) 912345678", "02473000000", "024 7300 0000", "024.7300.0000",
])
def test_phone_numbers_keep_only_two_digits(phone: str) -> None:
    masked = mask_pii(f"gọi cho em số {phone} nhé")
    assert sum(c.isdigit() for c in masked) == 2, masked
    assert masked.endswith("78 nhé") or masked.endswith("00 nhé"), masked


@pytest.mark.parametrize(("text", "want"), [
    ("CCCD 001099012345", "CCCD **********45"),
    ("cccd: 001 099 012 345", "cccd: **********45"),
    ("căn cước 001.099.012.345", "căn cước **********45"),
    ("CMND 123456789", "CMND *******89"),
    ("cmnd 123 456 789", "cmnd *******89"),
])
def test_identity_numbers(text: str, want: str) -> None:
    assert mask_pii(text) == want


@pytest.mark.parametrize("email", ["an.nguyen@gmail.com", "AN_NGUYEN+tthc@yahoo.com.vn", "tran-b@so.hanoi.gov.vn"])
def test_email_keeps_only_the_domain(email: str) -> None:
    masked = mask_pii(f"mail của tôi: {email}.")
    assert email.split("@")[0] not in masked and masked.startswith("mail của tôi: ***@"), masked


@pytest.mark.parametrize(("text", "kept_before", "kept_after"), [
    ("nhà tôi ở số 12 ngõ 34 phố Huế, cần làm căn cước", "nhà tôi ở ", ", cần làm căn cước"),
    ("nha toi o so 12 ngo 34 pho hue thi lam can cuoc o dau", "nha toi o ", " thi lam can cuoc o dau"),
    ("địa chỉ 123/4 đường Lê Lợi, phường 5, quận 3 nộp ở đâu", "địa chỉ ", " nộp ở đâu"),
    ("dia chi 123/4 duong Le Loi, phuong 5, quan 3, TP.HCM", "dia chi ", ""),
    ("em ở thôn Đông, xã Tân Phú, huyện Đức Trọng, tỉnh Lâm Đồng muốn làm sổ đỏ", "em ở ", " muốn làm sổ đỏ"),
    ("em o thon dong xa tan phu muon lam so do", "em o ", " muon lam so do"),
    ("ấp Tân Phú, xã Tân Hòa", "", ""),
    ("tổ dân phố 5, phường Dịch Vọng, quận Cầu Giấy", "", ""),
    ("nhà ở hẻm 12/5 Nguyễn Trãi, quận 1", "nhà ở ", ""),
    ("số nhà 5 xóm 3 xã Nghi Phú", "", ""),
    ("12A phố Hàng Bông", "", ""),
    ("số 5 Lê Lợi, P.5, Q.3 nhé", "", " nhé"),
    ("bản Lác, xã Chiềng Châu", "", ""),
    ("ngõ 34 phố Huế", "", ""),
])
def test_street_addresses_with_and_without_diacritics(text: str, kept_before: str, kept_after: str) -> None:
    assert mask_pii(text) == f"{kept_before}{ADDRESS_MASK}{kept_after}"


@pytest.mark.parametrize("text", [
    "lệ phí 200.000 đồng, thủ tục 1.000110, hạn 31/12/2025, năm 2025, mẫu CT01",
    "nộp hồ sơ ở phường 5 quận 3 được không",
    "làm sổ đỏ ở quận Ba Đình hết bao lâu",
    "áp dụng cho ai", "bản sao có chứng thực", "tổ chức nào cấp", "xa quá không đi được",
    "mẫu số 01/TK", "đường dây nóng số 1022", "giấy phép lái xe 2 bánh đường bộ", "co quan nao cap",
    "UBND xã nơi cư trú", "làm thủ tục ở phố nào",
])
def test_questions_about_places_fees_and_codes_stay_readable(text: str) -> None:
    assert mask_pii(text) == text


def test_everything_in_one_message() -> None:
    text = ("tôi tên An, ở số 12 ngõ 34 phố Huế, sđt 0912.345.678, cccd 001 099 012 345, "
            "mail an.nguyen@gmail.com, hỏi làm hộ chiếu")
    masked = mask_pii(text)
    assert masked == "tôi tên An, ở [địa chỉ], sđt ********78, cccd **********45, mail ***@gmail.com, hỏi làm hộ chiếu"
    assert not re.search(r"\d{3}", masked)


def test_decomposed_unicode_is_masked_too() -> None:
    import unicodedata

    text = unicodedata.normalize("NFD", "thôn Đông, xã Tân Phú")
    assert mask_pii(text) == ADDRESS_MASK
