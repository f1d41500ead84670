"""Parsers for the national portal's flattened fields, on the tricky strings the export produces.

Every string here is written for the test (invented procedures, invented
titles); only the shapes copy the portal's format.
"""

from __future__ import annotations

import pytest

from knowledge_base import portal_parser as pp
from knowledge_base.schema import Channel, Currency, DurationUnit, FeeKind

HDR = "Hình thức nộpThời gianPhí, lệ phíMô tả"
DOC_HDR = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
LEGAL_HDR = "Tên văn bản pháp lýMã văn bản"


def codes(issues: list[pp.ParseIssue]) -> list[str]:
    """Issue tags only, for compact assertions."""
    return [i.code for i in issues]


# --------------------------------------------------------------------------- amounts
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("200.000", 200_000),
        ("2,000,000", 2_000_000),
        ("15000000", 15_000_000),
        ("0.5", 0.5),
        ("1,5", 1.5),
        ("1.234.567,5", 1_234_567.5),
    ],
)
def test_parse_amount_separators(text: str, value: float) -> None:
    assert pp.parse_amount(text) == value


def test_parse_amount_refuses_ambiguous() -> None:
    assert pp.parse_amount("1.23.4") is None


# --------------------------------------------------------------------------- fees
def test_fee_labelled_vnd() -> None:
    issues: list[pp.ParseIssue] = []
    (fee,) = pp.parse_fee("Lệ phí : 200.000 Đồng", issues)
    assert fee.kind == FeeKind.FIXED
    assert fee.amount == 200_000
    assert fee.currency == Currency.VND
    assert fee.note == "Lệ phí"
    assert issues == []


def test_fee_usd() -> None:
    (fee,) = pp.parse_fee("Phí : 25 USD")
    assert (fee.kind, fee.amount, fee.currency) == (FeeKind.FIXED, 25, Currency.USD)
    (bare,) = pp.parse_fee("25 USD")
    assert (bare.amount, bare.currency) == (25, Currency.USD)


def test_fee_portal_cell_with_note() -> None:
    (fee,) = pp.parse_fee("2,000,000 Việt Nam Đồng(Phí thẩm định: 2.000.000 đồng/hồ sơ)")
    assert fee.kind == FeeKind.FIXED
    assert fee.amount == 2_000_000
    assert fee.note == "Phí thẩm định: 2.000.000 đồng/hồ sơ"


@pytest.mark.parametrize("text", ["Miễn phí", "Không thu phí", "Miễn phí(Không)", "Miễn phí(Không quy định.)"])
def test_fee_free(text: str) -> None:
    issues: list[pp.ParseIssue] = []
    (fee,) = pp.parse_fee(text, issues)
    assert fee.kind == FeeKind.FREE
    assert issues == []


def test_fee_no_information_is_empty_not_a_warning() -> None:
    issues: list[pp.ParseIssue] = []
    assert pp.parse_fee("Không có thông tin", issues) == []
    assert pp.parse_fee("", issues) == []
    assert issues == []


def test_fee_range() -> None:
    (fee,) = pp.parse_fee("từ 50.000 đến 100.000 đồng")
    assert fee.kind == FeeKind.RANGE
    assert (fee.min_amount, fee.max_amount) == (50_000, 100_000)


def test_fee_range_in_millions() -> None:
    (fee,) = pp.parse_fee("Phí thẩm định từ 1,5 triệu đến 3 triệu đồng/hồ sơ")
    assert fee.kind == FeeKind.RANGE
    assert (fee.min_amount, fee.max_amount) == (1_500_000, 3_000_000)


def test_fee_provincial() -> None:
    (fee,) = pp.parse_fee("Mức thu theo quy định của HĐND tỉnh")
    assert fee.kind == FeeKind.PROVINCIAL
    assert fee.note and "HĐND" in fee.note


def test_fee_free_cell_whose_note_names_the_council_is_provincial() -> None:
    (fee,) = pp.parse_fee("Miễn phí(Mức thu do Hội đồng nhân dân cấp tỉnh quyết định)")
    assert fee.kind == FeeKind.PROVINCIAL


def test_fee_several_in_one_cell() -> None:
    fees = pp.parse_fee("Lệ phí : 200.000 Đồng; Phí : 25 USD")
    assert [(f.kind, f.amount, f.currency) for f in fees] == [
        (FeeKind.FIXED, 200_000, Currency.VND),
        (FeeKind.FIXED, 25, Currency.USD),
    ]


def test_fee_several_free_text_clauses() -> None:
    fees = pp.parse_fee("Lệ phí cấp thẻ: 50.000 đồng/thẻ; phí thẩm định 1.000.000 đồng/hồ sơ")
    assert [f.amount for f in fees] == [50_000, 1_000_000]


def test_fee_unreadable_is_unknown_with_raw_text_and_reported() -> None:
    issues: list[pp.ParseIssue] = []
    (fee,) = pp.parse_fee("Theo thỏa thuận giữa hai bên", issues, field="cach_thuc_thuc_hien[0].phi")
    assert fee.kind == FeeKind.UNKNOWN
    assert fee.note == "Theo thỏa thuận giữa hai bên"
    assert codes(issues) == ["fee_unparsed"]
    assert issues[0].field == "cach_thuc_thuc_hien[0].phi"


def test_fee_free_cell_contradicted_by_its_note_is_not_called_free() -> None:
    issues: list[pp.ParseIssue] = []
    (fee,) = pp.parse_fee("Miễn phí(Áp dụng mức thu tại Thông tư số 99/2099/TT-BTC)", issues)
    assert fee.kind == FeeKind.UNKNOWN
    assert codes(issues) == ["fee_free_contradicted"]


def test_fee_implausible_vnd_amount_is_not_published() -> None:
    issues: list[pp.ParseIssue] = []
    (fee,) = pp.parse_fee("20 VNĐ(20.000 đồng/tờ khai)", issues)
    assert fee.kind == FeeKind.UNKNOWN
    assert fee.note and "20.000" in fee.note
    assert codes(issues) == ["fee_implausible_amount"]


# --------------------------------------------------------------------------- durations
@pytest.mark.parametrize(
    ("text", "value", "max_value", "unit"),
    [
        ("5 Ngày làm việc", 5, None, DurationUnit.NGAY_LAM_VIEC),
        ("30 Ngày", 30, None, DurationUnit.NGAY),
        ("4 Giờ", 4, None, DurationUnit.GIO),
        ("0.5 Ngày làm việc", 0.5, None, DurationUnit.NGAY_LAM_VIEC),
        ("2 Tháng", 2, None, DurationUnit.THANG),
        ("10 - 15 ngày", 10, 15, DurationUnit.NGAY),
        ("từ 10 đến 15 ngày làm việc", 10, 15, DurationUnit.NGAY_LAM_VIEC),
        ("05 (năm) ngày làm việc", 5, None, DurationUnit.NGAY_LAM_VIEC),
        ("2 Tuần", 14, None, DurationUnit.NGAY),
    ],
)
def test_parse_duration(text: str, value: float, max_value: float | None, unit: DurationUnit) -> None:
    issues: list[pp.ParseIssue] = []
    d = pp.parse_duration(text, issues)
    assert d is not None
    assert (d.value, d.max_value, d.unit) == (value, max_value, unit)
    assert issues == []


def test_duration_same_day() -> None:
    d = pp.parse_duration("Trong ngày")
    assert d is not None and d.unit == DurationUnit.TRONG_NGAY and d.value is None


def test_duration_keeps_trailing_words_as_note() -> None:
    d = pp.parse_duration("7 ngày làm việc kể từ ngày nhận đủ hồ sơ")
    assert d is not None and d.note == "kể từ ngày nhận đủ hồ sơ"


def test_duration_without_unit_is_reported_not_guessed() -> None:
    issues: list[pp.ParseIssue] = []
    assert pp.parse_duration("5", issues) is None
    assert codes(issues) == ["duration_no_unit"]


def test_duration_no_information_is_silent() -> None:
    issues: list[pp.ParseIssue] = []
    assert pp.parse_duration("Không có thông tin", issues) is None
    assert issues == []


def test_duration_free_text_is_reported() -> None:
    issues: list[pp.ParseIssue] = []
    assert pp.parse_duration("Khi cơ quan thuế xử lý xong", issues) is None
    assert codes(issues) == ["duration_unparsed"]


# --------------------------------------------------------------------------- channels
def test_channels_three_rows_in_one_flattened_string() -> None:
    text = (
        HDR
        + "Trực tiếp5 Ngày làm việcLệ phí : 200.000 ĐồngNộp ở bộ phận một cửa."
        + "Trực tuyến3 Ngày làm việc150,000 Việt Nam Đồng(Nộp qua mạng được giảm)Nộp trên Cổng."
        + "Dịch vụ bưu chính7 NgàyMiễn phí"
    )
    issues: list[pp.ParseIssue] = []
    chans = pp.parse_channels(text, issues)
    assert issues == []
    assert [c.channel for c in chans] == [Channel.TRUC_TIEP, Channel.TRUC_TUYEN, Channel.BUU_CHINH]
    direct, online, post = chans
    assert direct.duration is not None and (direct.duration.value, direct.duration.unit) == (
        5,
        DurationUnit.NGAY_LAM_VIEC,
    )
    assert [(f.kind, f.amount) for f in direct.fees] == [(FeeKind.FIXED, 200_000)]
    assert direct.note == "Nộp ở bộ phận một cửa."
    assert [(f.amount, f.note) for f in online.fees] == [(150_000, "Nộp qua mạng được giảm")]
    assert online.note == "Nộp trên Cổng."
    assert post.duration is not None and post.duration.unit == DurationUnit.NGAY
    assert [f.kind for f in post.fees] == [FeeKind.FREE]
    assert post.note is None


def test_channel_words_inside_a_description_do_not_start_a_row() -> None:
    text = (
        HDR
        + "Trực tiếp2 Ngày làm việcMiễn phí- Trực tiếp: nộp ở xã. - Trực tuyến (khi hệ thống sẵn sàng)."
        + "Trực tuyến2 Ngày làm việcMiễn phí"
    )
    chans = pp.parse_channels(text)
    assert [c.channel for c in chans] == [Channel.TRUC_TIEP, Channel.TRUC_TUYEN]
    assert chans[0].note and chans[0].note.startswith("- Trực tiếp: nộp ở xã.")


def test_channel_same_channel_in_several_rows_is_kept() -> None:
    text = HDR + "Trực tiếp5 Ngày làm việcMiễn phíTrường hợp A.Trực tiếp10 Ngày làm việcMiễn phíTrường hợp B."
    chans = pp.parse_channels(text)
    assert [c.duration.value for c in chans if c.duration] == [5, 10]


def test_channel_no_information_cells() -> None:
    issues: list[pp.ParseIssue] = []
    (chan,) = pp.parse_channels(HDR + "Trực tuyếnKhông có thông tinKhông có thông tin", issues)
    assert chan.duration is None and chan.fees == [] and chan.note is None
    assert issues == []


def test_channel_same_day_duration_cell() -> None:
    (chan,) = pp.parse_channels(HDR + "Trực tiếpTrong ngàyMiễn phí")
    assert chan.duration is not None and chan.duration.unit == DurationUnit.TRONG_NGAY


def test_channel_unitless_duration_keeps_raw_text_and_warns() -> None:
    issues: list[pp.ParseIssue] = []
    (chan,) = pp.parse_channels(HDR + "Dịch vụ bưu chính1Miễn phí", issues)
    assert chan.duration is None
    assert chan.note == "Thời hạn gốc: 1"
    assert [(i.field, i.code) for i in issues] == [("cach_thuc_thuc_hien[0].thoi_gian", "duration_no_unit")]


def test_channel_duration_glued_to_amount_single_reading() -> None:
    # "1" (no unit) + "20,000 VNĐ": only one cut leaves a well-formed amount.
    issues: list[pp.ParseIssue] = []
    (chan,) = pp.parse_channels(HDR + "Trực tuyến120,000 VNĐ(Lệ phí hải quan)", issues)
    assert [(f.kind, f.amount) for f in chan.fees] == [(FeeKind.FIXED, 20_000)]
    assert codes(issues) == ["duration_no_unit"]


def test_channel_duration_glued_to_amount_ambiguous_is_not_guessed() -> None:
    # "125 VNĐ" could be 1 + 25 or 12 + 5.
    issues: list[pp.ParseIssue] = []
    (chan,) = pp.parse_channels(HDR + "Trực tiếp125 VNĐ", issues)
    assert chan.duration is None
    assert [f.kind for f in chan.fees] == [FeeKind.UNKNOWN]
    assert codes(issues) == ["duration_fee_glued"]


def test_channel_unreadable_fee_cell_is_unknown_and_reported() -> None:
    issues: list[pp.ParseIssue] = []
    (chan,) = pp.parse_channels(HDR + "Trực tiếp5 Ngày làm việcTheo thỏa thuận", issues)
    assert [f.kind for f in chan.fees] == [FeeKind.UNKNOWN]
    assert chan.fees[0].note == "Theo thỏa thuận"
    assert [(i.field, i.code) for i in issues] == [("cach_thuc_thuc_hien[0].phi", "fee_cell_not_found")]


def test_channel_nested_parentheses_in_fee_note() -> None:
    text = HDR + "Trực tiếp20 Ngày làm việc500,000 VNĐ(Phí (giảm 50% đến hết năm 2099))Hai mươi ngày."
    (chan,) = pp.parse_channels(text)
    assert chan.fees[0].note == "Phí (giảm 50% đến hết năm 2099)"
    assert chan.note == "Hai mươi ngày."


def test_channels_not_found_is_reported() -> None:
    issues: list[pp.ParseIssue] = []
    assert pp.parse_channels(HDR + "nộp bằng cách nào cũng được", issues) == []
    assert codes(issues) == ["channels_not_found"]


# --------------------------------------------------------------------------- documents
def test_documents_copies_types_and_template() -> None:
    text = (
        "--"
        + DOC_HDR
        + "Tờ khai thay đổi thông tin (Mẫu CT01)Mau CT01.docx1 bản chính"
        + "Ảnh chụp giấy tờ tùy thân0 bản chính,1 bản sao"
        + "Giấy xác nhận của trường1 bản chính,1 bản sao"
        + "Biên lai nộp tiền2 bản chính"
    )
    issues: list[pp.ParseIssue] = []
    docs = pp.parse_documents(text, issues)
    assert issues == []
    assert [(d.name, d.copies, d.copy_type, d.template) for d in docs] == [
        ("Tờ khai thay đổi thông tin (Mẫu CT01)", 1, "bản chính", "CT01"),
        ("Ảnh chụp giấy tờ tùy thân", 1, "bản sao", None),
        ("Giấy xác nhận của trường", 1, "bản chính và bản sao", None),
        ("Biên lai nộp tiền", 2, "bản chính", None),
    ]
    assert docs[0].note == "Tệp mẫu trên Cổng: Mau CT01.docx"


def test_documents_template_code_from_file_name_glued_after_punctuation() -> None:
    text = "--" + DOC_HDR + "Đơn đề nghị theo mẫu ban hành kèm Thông tư 01/2099/TT-BTP.Mẫu TP-XY-05.doc1 bản chính"
    (doc,) = pp.parse_documents(text)
    assert doc.name == "Đơn đề nghị theo mẫu ban hành kèm Thông tư 01/2099/TT-BTP."
    assert doc.template == "TP-XY-05"


def test_documents_case_groups_become_notes() -> None:
    text = (
        "Trường hợp tự nộp:"
        + DOC_HDR
        + "Đơn đề nghị1 bản chính"
        + "Trường hợp nộp thay:"
        + DOC_HDR
        + "Đơn đề nghị1 bản chính"
        + "Giấy ủy quyền1 bản chính"
    )
    docs = pp.parse_documents(text)
    assert [(d.name, d.note) for d in docs] == [
        ("Đơn đề nghị", "Trường hợp tự nộp"),
        ("Đơn đề nghị", "Trường hợp nộp thay"),
        ("Giấy ủy quyền", "Trường hợp nộp thay"),
    ]


def test_documents_copy_count_written_inside_the_name() -> None:
    # "…: 01 bản chính" belongs to the name; the cell follows it directly.
    text = "--" + DOC_HDR + "Văn bản đề nghị: 01 bản chính1 bản chínhBản kê khai1 bản chính"
    docs = pp.parse_documents(text)
    assert [(d.name, d.copies) for d in docs] == [("Văn bản đề nghị: 01 bản chính", 1), ("Bản kê khai", 1)]


def test_documents_digit_before_copy_cell_belongs_to_name() -> None:
    text = "--" + DOC_HDR + "Bản sao quyết định theo Nghị định 1161 bản chính"
    (doc,) = pp.parse_documents(text)
    assert (doc.name, doc.copies) == ("Bản sao quyết định theo Nghị định 116", 1)


def test_documents_zero_copy_subheading_prefixes_following_notes() -> None:
    text = "--" + DOC_HDR + "- Giấy tờ phải xuất trình:0 bản chínhHộ chiếu1 bản chính"
    (doc,) = pp.parse_documents(text)
    assert doc.name == "Hộ chiếu"
    assert doc.note == "Giấy tờ phải xuất trình"


def test_documents_zero_copy_guidance_row_is_kept_and_flagged() -> None:
    text = "--" + DOC_HDR + "Không cần nộp bản sao nếu đã có dữ liệu điện tử.0 bản chính"
    (doc,) = pp.parse_documents(text)
    assert doc.copies == 0
    assert doc.note and "0" in doc.note


def test_documents_without_table_is_reported() -> None:
    issues: list[pp.ParseIssue] = []
    assert pp.parse_documents("Bước 2. Nộp hồ sơ tại xã.", issues) == []
    assert codes(issues) == ["documents_table_not_found"]
    assert pp.parse_documents("--") == []


# --------------------------------------------------------------------------- legal basis
def test_legal_basis_pairs() -> None:
    text = (
        LEGAL_HDR
        + "Quy định về xử lý khiếu nại trong ngành công an68/2013/TT-BCA"
        + "Luật Khiếu nại  năm 201102/2011/QH13"
        + "Nghị định 05/2012/NĐ-CP05/2012/NĐ-CP"
    )
    issues: list[pp.ParseIssue] = []
    out = pp.parse_legal_basis(text, issues)
    assert issues == []
    assert [(b.number, b.title) for b in out] == [
        ("68/2013/TT-BCA", "Quy định về xử lý khiếu nại trong ngành công an"),
        ("02/2011/QH13", "Luật Khiếu nại năm 2011"),
        ("05/2012/NĐ-CP", "Nghị định 05/2012/NĐ-CP"),
    ]


def test_legal_basis_glued_after_legislature_number() -> None:
    text = LEGAL_HDR + "Luật 51/2099/QH1951/2099/QH19Thông tư hướng dẫn thử01/2099/TT-BTPLuật Thử nghiệm09/2099/QH19"
    out = pp.parse_legal_basis(text)
    assert [(b.number, b.title) for b in out] == [
        ("51/2099/QH19", "Luật 51/2099/QH19"),
        ("01/2099/TT-BTP", "Thông tư hướng dẫn thử"),
        ("09/2099/QH19", "Luật Thử nghiệm"),
    ]


def test_legal_basis_other_number_shapes() -> None:
    text = (
        LEGAL_HDR
        + "Nghị quyết thử nghiệm66.16/2099/NQ-CP"
        + "Quyết định của Thủ tướng thử12/2099/QĐ-TTg"
        + "LUẬT THỬ NGHIỆM VIẾT HOA07/2099/QH19"
        + "Thông tư liên tịch thử03/2099/TTLT-BCA-BTC"
    )
    out = pp.parse_legal_basis(text)
    assert [b.number for b in out] == ["66.16/2099/NQ-CP", "12/2099/QĐ-TTg", "07/2099/QH19", "03/2099/TTLT-BCA-BTC"]
    assert out[2].title == "LUẬT THỬ NGHIỆM VIẾT HOA"


def test_legal_basis_number_inside_title_followed_by_words() -> None:
    text = LEGAL_HDR + "Thông tư số 08/2099/TT-BTP ngày 01/01/2099 về phân cấp08/2099/TT-BTP"
    (b,) = pp.parse_legal_basis(text)
    assert b.number == "08/2099/TT-BTP"
    assert b.title == "Thông tư số 08/2099/TT-BTP ngày 01/01/2099 về phân cấp"


def test_legal_basis_leftover_is_reported() -> None:
    issues: list[pp.ParseIssue] = []
    out = pp.parse_legal_basis(LEGAL_HDR + "Luật Thử nghiệm09/2099/QH19Văn bản không có số", issues)
    assert [b.number for b in out] == ["09/2099/QH19"]
    assert codes(issues) == ["legal_without_number"]


def test_legal_basis_no_information() -> None:
    assert pp.parse_legal_basis("Không có thông tin") == []


# --------------------------------------------------------------------------- steps, levels, audience, result
def test_steps_by_step_markers() -> None:
    text = "Bước 1: Chuẩn bị hồ sơ.\nBước 2: Nộp hồ sơ.\n- Nộp ở xã hoặc qua mạng.\n\nBước 3: Nhận kết quả."
    assert pp.parse_steps(text) == [
        "Bước 1: Chuẩn bị hồ sơ.",
        "Bước 2: Nộp hồ sơ.\n- Nộp ở xã hoặc qua mạng.",
        "Bước 3: Nhận kết quả.",
    ]


def test_steps_lettered_and_plain_lines() -> None:
    assert pp.parse_steps("a) Nộp hồ sơ:\n- tại xã\nb) Giải quyết.") == ["a) Nộp hồ sơ:\n- tại xã", "b) Giải quyết."]
    assert pp.parse_steps("Nộp tờ khai.\n\nChờ kết quả.") == ["Nộp tờ khai.", "Chờ kết quả."]


def test_levels_and_audience() -> None:
    assert pp.parse_levels("Cấp bộ, Cấp tỉnh, Cấp xã") == ["Cấp bộ", "Cấp tỉnh", "Cấp xã"]
    assert pp.parse_audience("Tổ chức (không bao gồm doanh nghiệp, HTX), Cán bộ, công chức, viên chức, Công dân Việt Nam") == [
        "Tổ chức (không bao gồm doanh nghiệp, HTX)",
        "Cán bộ, công chức, viên chức",
        "Công dân Việt Nam",
    ]


def test_result_drops_codes_and_page_text() -> None:
    text = "Giấy phép thửMã: KQ.G99.000001Văn bản từ chốiMã: 000.00.00.G99-KQ0002Từ khóaKhông có thông tinMô tả"
    assert pp.parse_result(text) == "Giấy phép thử; Văn bản từ chối"
    assert pp.parse_result("Không có thông tin") is None


def test_conditions() -> None:
    assert pp.parse_conditions("Không") == []
    assert pp.parse_conditions("- Đủ 18 tuổi.\n+ Có chỗ ở hợp pháp.") == ["Đủ 18 tuổi.", "Có chỗ ở hợp pháp."]
