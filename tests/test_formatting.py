"""Answer formatting: amounts, durations, documents and the source line come from the fields."""

from __future__ import annotations

import pytest

from actions.formatting import answer, format_duration, format_fee, money
from knowledge_base.schema import Currency, Duration, DurationUnit, Fee, FeeKind, Procedure


@pytest.fixture
def proc() -> Procedure:
    return Procedure(
        code="9.000010",
        name="Thủ tục thử",
        field="Thử nghiệm",
        agency="UBND cấp xã",
        where_to_submit="Bộ phận Một cửa",
        channels=[
            {"channel": "truc_tiep", "duration": {"value": 5, "unit": "ngay_lam_viec"},
             "fees": [{"kind": "fixed", "amount": 200000}]},
            {"channel": "truc_tuyen", "duration": {"unit": "trong_ngay"}, "fees": [{"kind": "free"}]},
        ],
        documents=[{"name": "Tờ khai", "copies": 1, "copy_type": "bản chính", "template": "CT01"}, {"name": "Ảnh 4x6"}],
        steps=["Nộp hồ sơ", "Nhận kết quả"],
        legal_basis=[{"number": "60/2014/QH13", "title": "Luật Hộ tịch"}],
        source_url="https://example.invalid/9.000010",
    )


def test_money():
    assert money(200000) == "200.000 đồng"
    assert money(25, Currency.USD) == "25 USD"


def test_fees():
    assert format_fee(Fee(kind=FeeKind.FREE)) == "Miễn phí"
    prov = Fee(kind=FeeKind.PROVINCIAL, min_amount=50000, max_amount=100000, note="Do HĐND cấp tỉnh quyết định")
    assert format_fee(prov) == "Do HĐND cấp tỉnh quyết định; thường từ 50.000 đồng đến 100.000 đồng"


def test_durations():
    assert format_duration(Duration(value=5, unit=DurationUnit.NGAY_LAM_VIEC)) == "5 ngày làm việc"
    assert format_duration(Duration(unit=DurationUnit.TRONG_NGAY)) == "trong ngày"
    assert format_duration(Duration(value=10, max_value=15, unit=DurationUnit.NGAY)) == "từ 10 đến 15 ngày"
    assert format_duration(Duration(value=0.5, unit=DurationUnit.NGAY_LAM_VIEC)) == "0,5 ngày làm việc"


def test_documents_are_a_numbered_list_with_source(proc):
    text = answer(proc, "documents")
    assert "1. Tờ khai (1 bản chính, mẫu CT01)" in text
    assert "2. Ảnh 4x6" in text
    assert text.endswith("Nguồn: thủ tục 9.000010 — https://example.invalid/9.000010")


@pytest.mark.parametrize(
    ("aspect", "expected"),
    [
        ("fee", "- Nộp trực tiếp: 200.000 đồng"),
        ("duration", "- Nộp trực tuyến: trong ngày"),
        ("where", "Nơi nộp hồ sơ: Bộ phận Một cửa."),
        ("steps", "2. Nhận kết quả"),
        ("online", "Có."),
        ("legal_basis", "- Luật Hộ tịch (60/2014/QH13)"),
    ],
)
def test_each_aspect(proc, aspect, expected):
    text = answer(proc, aspect)
    assert expected in text
    assert "9.000010" in text


def test_missing_fields_are_said_not_invented(proc):
    bare = proc.model_copy(update={"documents": [], "channels": []})
    assert "chưa ghi" in answer(bare, "documents")
    assert "chưa ghi" in answer(bare, "fee")
