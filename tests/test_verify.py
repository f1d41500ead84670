"""`python -m knowledge_base verify`: curated catalogue against the portal's records."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from knowledge_base import cli, store
from knowledge_base import verify as kb_verify
from tests.conftest import FIXTURES, shared_path

VERIFY = FIXTURES / "verify"
PORTAL = VERIFY / "portal_verify.jsonl"
TODAY = "2026-12-01"


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """A tiny curated catalogue in a temporary directory."""
    shutil.copy(VERIFY / "curated_verify.yaml", tmp_path / "curated_verify.yaml")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = cli.main(["verify", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _diffs(catalogue: Path, today: str = TODAY) -> list[kb_verify.Difference]:
    portal = kb_verify.load_portal(PORTAL)
    result = kb_verify.verify(store.load_curated(catalogue), portal, dt.date.fromisoformat(today), str(PORTAL))
    return result.differences


def test_matching_facts_give_no_difference(catalogue: Path) -> None:
    # 9.910001 differs only in form: "Thủ tục" prefix and final dot in the name, a shorter
    # document name with the same form code, a portal guidance row with quantity 0.
    assert [d for d in _diffs(catalogue) if d.code == "9.910001"] == []


def test_every_kind_of_difference_is_found(catalogue: Path) -> None:
    got = {d.field: d for d in _diffs(catalogue) if d.code == "9.910002"}
    assert got["name"].portal == "Cấp giấy phép thả diều trên bãi biển công cộng"
    assert got["channels"].curated == "trực tiếp, trực tuyến"
    assert got["channels"].portal == "trực tiếp, bưu chính"
    fee = got["fee[truc_tiep]"]
    assert (fee.curated, fee.portal, fee.severity) == ("30.000 đ", "50.000 đ", "high")
    assert "01/01/2024" in fee.portal_note  # the portal's own note, for a person to judge
    dur = got["duration[truc_tiep]"]
    assert (dur.curated, dur.portal) == ("5 ngày làm việc", "10 ngày làm việc")
    docs = got["documents"]
    assert docs.curated == ["Giấy cam kết giữ vệ sinh bãi biển sau khi thả diều"]
    assert docs.portal == [
        "Bản vẽ kích thước con diều và dây diều",
        "Giấy xác nhận của ban quản lý bãi biển về khu vực thả diều",
    ]
    assert (got["documents.count"].curated, got["documents.count"].portal) == ("2", "3")
    assert got["legal_basis"].curated == ["44/2099/NĐ-CP"]
    assert got["legal_basis"].portal == ["33/2099/TT-BTN"]
    # the online channel is curated-only: no fee/duration comparison for it
    assert "fee[truc_tuyen]" not in got and "duration[truc_tuyen]" not in got


def test_expired_period_is_reported_on_both_sides(catalogue: Path) -> None:
    periods = [d for d in _diffs(catalogue, TODAY) if d.kind == "fee_period"]
    assert {(d.code, d.field, d.severity) for d in periods} == {("9.910002", "fee_period[truc_tiep]", "high")}
    assert any(d.curated and "31/12/2025" in d.curated and "hết năm 2025" in d.curated for d in periods)
    assert any(d.portal and "31/12/2025" in d.portal and d.portal_note for d in periods)
    # the same notes are not reported while the period still runs
    assert [d for d in _diffs(catalogue, "2025-12-31") if d.kind == "fee_period"] == []


def test_find_periods_reads_the_usual_wordings() -> None:
    assert kb_verify.find_periods("áp dụng đến hết 31/12/2025") == [dt.date(2025, 12, 31)]
    assert kb_verify.find_periods("từ ngày 01/01/2024 đến hết ngày 31/12/2025") == [dt.date(2025, 12, 31)]
    assert kb_verify.find_periods("giảm 50% đến hết năm 2025") == [dt.date(2025, 12, 31)]
    assert kb_verify.find_periods("đến hết ngày 30 tháng 6 năm 2026") == [dt.date(2026, 6, 30)]
    assert kb_verify.find_periods("Mức đầy đủ 50.000 đ/thẻ") == []


def test_a_note_that_says_the_rate_is_over_is_not_reported() -> None:
    from knowledge_base.schema import Channel, Fee, FeeKind, Procedure, SubmissionChannel

    def proc(note: str) -> Procedure:
        ch = SubmissionChannel(channel=Channel.TRUC_TIEP, fees=[Fee(kind=FeeKind.FIXED, amount=135000, note=note)])
        return Procedure(code="9.910009", name="X", field="F", agency="A", source_url="u", channels=[ch])

    portal = proc("135.000 đồng/lần")
    today = dt.date(2026, 12, 1)
    stale = kb_verify.compare(proc("Đang thu 115.000 đ đến hết 31/12/2025"), portal, today)
    assert [d.field for d in stale] == ["fee_period[truc_tiep]"]
    past = kb_verify.compare(proc("Mức giảm 115.000 đ chỉ áp dụng đến hết 31/12/2025"), portal, today)
    assert past == []


def test_json_output_shape(catalogue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--portal", str(PORTAL), "--catalogue", str(catalogue), "--today", TODAY, "--json")
    assert rc == 0
    items = json.loads(out)
    assert items and all(
        set(item) == {"code", "name", "field", "curated", "portal", "portal_note", "severity"} for item in items
    )
    assert {item["severity"] for item in items} <= {"high", "medium", "low"}
    assert {item["code"] for item in items} == {"9.910002"}


def test_text_report_is_grouped_and_catalogue_untouched(catalogue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = hashlib.sha256((catalogue / "curated_verify.yaml").read_bytes()).hexdigest()
    rc, out, _ = _run(capsys, "--portal", str(PORTAL), "--catalogue", str(catalogue), "--today", TODAY)
    assert rc == 0
    assert "[9.910002] Cấp giấy phép thả diều trên bãi biển" in out
    assert "[9.910001]" not in out
    assert "không có trên Cổng: 1 (9.910003)" in out
    assert "ghi chú trên Cổng: «Mức giảm 30.000 đồng" in out
    assert hashlib.sha256((catalogue / "curated_verify.yaml").read_bytes()).hexdigest() == before


def test_missing_portal_file_exits_2(catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(capsys, "--portal", str(tmp_path / "nope.jsonl"), "--catalogue", str(catalogue))
    assert rc == 2 and out == ""
    assert "không thấy tệp" in err and "nope.jsonl" in err


def test_malformed_portal_file_exits_2(catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(PORTAL.read_text(encoding="utf-8") + '{"ma_thu_tuc": "9.910005", \n', encoding="utf-8")
    rc, _, err = _run(capsys, "--portal", str(bad), "--catalogue", str(catalogue))
    assert rc == 2
    assert "dòng/line 3" in err and "JSON" in err


def test_bad_today_exits_2(catalogue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(capsys, "--portal", str(PORTAL), "--catalogue", str(catalogue), "--today", "01/12/2026")
    assert rc == 2 and "YYYY-MM-DD" in err


def test_default_portal_path_follows_tthc_sample(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TTHC_SAMPLE", str(tmp_path / "x.jsonl.gz"))
    assert kb_verify.default_portal_path() == tmp_path / "x.jsonl.gz"
    monkeypatch.delenv("TTHC_SAMPLE")
    assert kb_verify.default_portal_path().name == "national_catalogue_sample_2642.jsonl.gz"


def test_gzip_portal_file_is_read(catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gz = tmp_path / "portal.jsonl.gz"
    gz.write_bytes(gzip.compress(PORTAL.read_bytes()))
    rc, out, _ = _run(capsys, "--portal", str(gz), "--catalogue", str(catalogue), "--today", TODAY, "--json")
    assert rc == 0 and {d["code"] for d in json.loads(out)} == {"9.910002"}


# --------------------------------------------------------------------------
# The real shared sample and the real curated catalogue
# --------------------------------------------------------------------------
def test_issue_facts_are_fixed_in_the_real_catalogue() -> None:
    path = shared_path("data/tthc/national_catalogue_sample_2642.jsonl.gz", "TTHC_SAMPLE")
    portal = kb_verify.load_portal(path)
    curated = store.load_curated()
    result = kb_verify.verify(curated, portal, dt.date.fromisoformat(TODAY), str(path))
    diffs = result.differences
    print(f"\nverify on the real sample: {len(diffs)} differences in {len({d.code for d in diffs})} procedures; "
          f"per field: {kb_verify.summary(diffs)}")
    by = {(d.code, d.kind): d for d in diffs}
    # the four procedures of the issue are compared at all
    assert {"1.001613", "1.002759", "2.000913", "1.008498"} <= set(result.compared)
    # 1.001613: 5 working days, as on the portal
    assert ("1.001613", "duration") not in by
    # 1.002759: per-case durations whose longest case is the portal's 45 days
    assert ("1.002759", "duration") not in by
    # 2.000913: the certified transaction itself is listed
    docs = by.get(("2.000913", "documents"))
    assert docs is None or not any("đã được chứng thực" in p for p in docs.portal or [])
    # 1.008498: the dependants' papers are listed
    docs = by.get(("1.008498", "documents"))
    dependant_words = ("phụ thuộc", "20-ĐK-TCT", "nuôi dưỡng")
    assert docs is None or not any(w in p for p in docs.portal or [] for w in dependant_words)
    proc = next(p for p in curated if p.code == "1.008498")
    assert any(d.note and "người phụ thuộc" in d.note for d in proc.documents)
    for code in ("1.001613", "1.002759", "2.000913", "1.008498"):
        assert next(p for p in curated if p.code == code).last_verified == dt.date(2026, 12, 1)
