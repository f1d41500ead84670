"""The portal importer: whole-file validation, commit only on success, idempotency, real-sample rates."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from knowledge_base.importer import ImportRejected, ImportReport, citizen_priority, import_file
from knowledge_base.schema import Channel, FeeKind, Procedure

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "portal_sample.jsonl"
DEFAULT_SAMPLE = REPO.parent / "shared" / "data" / "tthc" / "national_catalogue_sample_2642.jsonl.gz"


class CommitSpy:
    """Stands in for ``store.write_imported`` and remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Procedure], str]] = []

    def __call__(self, procedures: list[Procedure], source_sha256: str) -> None:
        self.calls.append((procedures, source_sha256))


def fixture_records() -> list[dict[str, Any]]:
    """The fixture's records, to build broken variants from."""
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, lines: list[bytes]) -> Path:
    """Write raw lines (bytes, so tests can plant invalid encodings)."""
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def rejected(path: Path, spy: CommitSpy) -> ImportReport:
    """Import a file that must be refused; return the report carried by the exception."""
    with pytest.raises(ImportRejected) as info:
        import_file(path, commit=spy)
    return info.value.report


def assert_rejected(report: ImportReport, spy: CommitSpy, *, line: int | None, field: str, kind: str) -> None:
    """The file was refused, nothing was committed, and the error says where."""
    assert not report.ok
    assert spy.calls == []
    assert report.committed is False
    assert report.records_imported == 0
    assert any(e.line == line and e.field == field and e.kind == kind for e in report.errors), [e.format() for e in report.errors]
    text = report.format()
    assert "BỊ TỪ CHỐI" in text and "REJECTED" in text
    if line is not None:
        assert f"dòng/line {line}" in text


# --------------------------------------------------------------------------- valid file
def test_fixture_imports_and_commits_sorted_with_sha() -> None:
    spy = CommitSpy()
    report = import_file(FIXTURE, commit=spy)
    assert report.ok, report.format()
    assert report.committed
    assert (report.records_read, report.records_imported) == (3, 3)
    assert len(spy.calls) == 1
    procedures, sha = spy.calls[0]
    assert sha == hashlib.sha256(FIXTURE.read_bytes()).hexdigest() == report.source_sha256
    assert [p.code for p in procedures] == ["9.900001", "9.900002", "9.900003"]
    for p in procedures:
        assert p.curated is False
        assert p.aliases == []
        assert p.source_url.endswith(p.code)


def test_fixture_record_content() -> None:
    report = import_file(FIXTURE, commit=None)
    by_code = {p.code: p for p in report.procedures}
    tree = by_code["9.900001"]
    assert tree.levels == ["Cấp xã"]
    assert tree.online
    assert [c.channel for c in tree.channels] == [Channel.TRUC_TIEP, Channel.TRUC_TUYEN, Channel.BUU_CHINH]
    assert [f.amount for f in tree.channels[0].fees] == [200_000]
    assert tree.documents[0].template == "CX01"
    assert tree.documents[-1].note == "Trường hợp nhờ người khác nộp thay"
    assert [b.number for b in tree.legal_basis] == ["12/2099/TT-BXD", "01/2099/QH19", "07/2099/NĐ-CP"]
    assert tree.result == "Giấy xác nhận trồng cây xanh"
    assert tree.citizen_priority == 0.9

    fair = by_code["9.900002"]
    assert fair.agency == "Bộ Thử nghiệm"  # fell back to the competent body, with a warning
    assert [f.kind for f in fair.channels[1].fees] == [FeeKind.PROVINCIAL]
    assert fair.audience == ["Người nước ngoài", "Cán bộ, công chức, viên chức"]


def test_warnings_name_line_record_and_field() -> None:
    report = import_file(FIXTURE, commit=None)
    found = {(w.line, w.record, w.field, w.kind) for w in report.warnings}
    assert (1, "9.900003", "cach_thuc_thuc_hien[0].phi", "fee_cell_not_found") in found
    assert (3, "9.900002", "cach_thuc_thuc_hien[1].thoi_gian", "duration_no_unit") in found
    assert (3, "9.900002", "co_quan_thuc_hien", "agency_fallback") in found
    unknown = [f for p in report.procedures for c in p.channels for f in c.fees if f.kind == FeeKind.UNKNOWN]
    assert unknown and all(f.note for f in unknown)  # raw text is kept


def test_dry_run_does_not_commit() -> None:
    report = import_file(FIXTURE, commit=None)
    assert report.ok and not report.committed
    assert "chạy thử" in report.format()
    # the admin app writes the checked records to a draft itself: its report says so, not "dry run"
    written = report.format(written_to="bản nháp #3")
    assert "đã ghi vào bản nháp #3" in written and "chạy thử" not in written


def test_gzip_and_plain_give_the_same_procedures(tmp_path: Path) -> None:
    gz = tmp_path / "sample.jsonl.gz"
    gz.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    plain = import_file(FIXTURE, commit=None)
    packed = import_file(gz, commit=None)
    assert packed.ok
    assert [p.model_dump() for p in packed.procedures] == [p.model_dump() for p in plain.procedures]
    assert packed.source_sha256 == hashlib.sha256(gz.read_bytes()).hexdigest()


def test_import_is_idempotent() -> None:
    first, second = CommitSpy(), CommitSpy()
    r1 = import_file(FIXTURE, commit=first)
    r2 = import_file(FIXTURE, commit=second)
    dump1 = json.dumps([p.model_dump(mode="json") for p in first.calls[0][0]], ensure_ascii=False)
    dump2 = json.dumps([p.model_dump(mode="json") for p in second.calls[0][0]], ensure_ascii=False)
    assert dump1 == dump2
    assert first.calls[0][1] == second.calls[0][1]
    assert r1.to_dict() == r2.to_dict()
    json.dumps(r1.to_dict(include_timing=True), ensure_ascii=False)  # serialisable


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    data = FIXTURE.read_bytes().replace(b"\n", b"\r\n")
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + data)
    report = import_file(path, commit=None)
    assert report.ok and report.records_imported == 3


# --------------------------------------------------------------------------- hard errors
def test_bad_json_rejects_file_naming_the_line(tmp_path: Path) -> None:
    recs = fixture_records()
    path = write_lines(tmp_path / "bad.jsonl", [encode(recs[0]), b'{"ma_thu_tuc": "9.900009", ', encode(recs[2])])
    spy = CommitSpy()
    report = rejected(path, spy)
    assert_rejected(report, spy, line=2, field="(JSON)", kind="bad_json")


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "list.jsonl", [b'["9.900001"]'])
    spy = CommitSpy()
    assert_rejected(rejected(path, spy), spy, line=1, field="(JSON)", kind="not_an_object")


def test_missing_code_rejects_file(tmp_path: Path) -> None:
    recs = fixture_records()
    del recs[1]["ma_thu_tuc"]
    path = write_lines(tmp_path / "nocode.jsonl", [encode(r) for r in recs])
    spy = CommitSpy()
    assert_rejected(rejected(path, spy), spy, line=2, field="ma_thu_tuc", kind="missing_code")


@pytest.mark.parametrize("bad", ["1.23", "abc", "", 1000110, "1.0001100"])
def test_invalid_code_rejects_file(tmp_path: Path, bad: object) -> None:
    recs = fixture_records()
    recs[2]["ma_thu_tuc"] = bad
    path = write_lines(tmp_path / "badcode.jsonl", [encode(r) for r in recs])
    spy = CommitSpy()
    report = rejected(path, spy)
    kind = "missing_code" if bad == "" else "invalid_code"
    assert_rejected(report, spy, line=3, field="ma_thu_tuc", kind=kind)


def test_non_utf8_line_is_named(tmp_path: Path) -> None:
    recs = fixture_records()
    latin1 = json.dumps(recs[1], ensure_ascii=False).encode("cp1252", errors="replace")
    path = write_lines(tmp_path / "latin1.jsonl", [encode(recs[0]), latin1 + b"\xff", encode(recs[2])])
    spy = CommitSpy()
    report = rejected(path, spy)
    assert_rejected(report, spy, line=2, field="(mã hóa/encoding)", kind="not_utf8")
    assert "UTF-8" in report.errors[0].message


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    for name, data in (("empty.jsonl", b""), ("blank.jsonl", b"\n\n  \n")):
        path = tmp_path / name
        path.write_bytes(data)
        spy = CommitSpy()
        assert_rejected(rejected(path, spy), spy, line=None, field="(tệp/file)", kind="empty_file")


def test_empty_gzip_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl.gz"
    path.write_bytes(gzip.compress(b""))
    spy = CommitSpy()
    assert_rejected(rejected(path, spy), spy, line=None, field="(tệp/file)", kind="empty_file")


def test_duplicate_codes_are_an_error_not_deduplicated(tmp_path: Path) -> None:
    recs = fixture_records()
    path = write_lines(tmp_path / "dup.jsonl", [encode(recs[0]), encode(recs[1]), encode(recs[0])])
    spy = CommitSpy()
    report = rejected(path, spy)
    assert_rejected(report, spy, line=3, field="ma_thu_tuc", kind="duplicate_code")
    assert "dòng 1" in report.errors[0].message


def test_record_without_name_is_rejected(tmp_path: Path) -> None:
    recs = fixture_records()
    recs[0]["ten_thu_tuc"] = "   "
    path = write_lines(tmp_path / "noname.jsonl", [encode(r) for r in recs])
    spy = CommitSpy()
    assert_rejected(rejected(path, spy), spy, line=1, field="ten_thu_tuc", kind="invalid_record")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    spy = CommitSpy()
    report = rejected(tmp_path / "nope.jsonl", spy)
    assert_rejected(report, spy, line=None, field="(tệp/file)", kind="file_unreadable")


def test_corrupt_gzip_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes())[:40])
    spy = CommitSpy()
    assert_rejected(rejected(path, spy), spy, line=None, field="(tệp/file)", kind="bad_gzip")


def test_blank_line_inside_file_is_a_warning(tmp_path: Path) -> None:
    recs = fixture_records()
    path = write_lines(tmp_path / "gap.jsonl", [encode(recs[0]), b"", encode(recs[1])])
    report = import_file(path, commit=None)
    assert report.ok
    assert any(w.kind == "blank_line" and w.line == 2 for w in report.warnings)


def test_rejection_can_return_the_report_instead_of_raising(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [b"{not json"])
    spy = CommitSpy()
    report = import_file(path, commit=spy, raise_on_error=False)
    assert_rejected(report, spy, line=1, field="(JSON)", kind="bad_json")
    with pytest.raises(ImportRejected, match="dòng/line 1"):
        import_file(path, commit=None)  # a dry run of a bad file is refused too


# --------------------------------------------------------------------------- heuristic
def test_citizen_priority_heuristic() -> None:
    assert citizen_priority(["Cấp xã"], ["Công dân Việt Nam"]) == 0.9
    assert citizen_priority(["Cấp bộ"], ["Doanh nghiệp"]) == 0.2
    assert citizen_priority(["Cấp bộ", "Cấp tỉnh"], ["Công dân Việt Nam"]) == 0.8
    assert citizen_priority(["Cấp tỉnh"], ["Doanh nghiệp"]) < citizen_priority(["Cấp tỉnh"], ["Công dân Việt Nam"])


# --------------------------------------------------------------------------- real data
def _sample_path() -> Path:
    configured = os.environ.get("TTHC_SAMPLE")
    if configured:
        return Path(configured)
    shared = os.environ.get("SHARED_DIR")
    return Path(shared) / "data" / "tthc" / DEFAULT_SAMPLE.name if shared else DEFAULT_SAMPLE


def test_real_sample_parses() -> None:
    """Import the real 2,642-record portal sample and hold the parse rates measured on it.

    Measured when written: every record has >= 1 channel; durations read in
    85% of the records that have a duration cell (83% of channel rows), fees
    in 86% (86% of fee entries typed, not UNKNOWN), documents 98%, legal
    basis 97%; about 2,100 warnings on 934 records, no errors, ~3-6 s.  The
    thresholds leave a few points of slack for parser changes.
    """
    path = _sample_path()
    if not path.exists():
        reason = (
            f"Real portal sample not found at {path}. Set TTHC_SAMPLE to its path "
            "(default: ../shared/data/tthc/national_catalogue_sample_2642.jsonl.gz next to the repo)."
        )
        if os.environ.get("ALLOW_MISSING_SHARED") == "1":
            pytest.skip(f"ALLOW_MISSING_SHARED=1: {reason}")
        pytest.fail(f"{reason} To skip on purpose, set ALLOW_MISSING_SHARED=1.")

    spy = CommitSpy()
    started = time.perf_counter()
    report = import_file(path, commit=spy)
    elapsed = time.perf_counter() - started
    print(report.format(max_examples=5))

    assert report.ok, [e.format() for e in report.errors[:10]]
    assert report.records_read == report.records_imported >= 2600
    assert len(spy.calls) == 1
    procedures = spy.calls[0][0]
    assert [p.code for p in procedures] == sorted(p.code for p in procedures)

    with_channel = sum(1 for p in procedures if p.channels) / len(procedures)
    assert with_channel >= 0.95
    stats = report.field_stats
    assert stats["cach_thuc_thuc_hien"].rate >= 0.98
    assert stats["cach_thuc_thuc_hien.thoi_gian"].rate >= 0.80
    assert stats["cach_thuc_thuc_hien.phi"].rate >= 0.80
    assert stats["thanh_phan_ho_so"].rate >= 0.95
    assert stats["can_cu_phap_ly"].rate >= 0.93
    assert stats["trinh_tu_thuc_hien"].rate >= 0.99

    # Most channel rows carry a duration with a unit and at least one typed fee.
    rows = [c for p in procedures for c in p.channels]
    assert sum(1 for c in rows if c.duration is not None) / len(rows) >= 0.75
    fees = [f for c in rows for f in c.fees]
    assert sum(1 for f in fees if f.kind != FeeKind.UNKNOWN) / len(fees) >= 0.80
    # Warnings stay a minority of records and every one says where it is.
    assert len({w.record for w in report.warnings}) / len(procedures) < 0.5
    assert all(w.line and w.record and w.field for w in report.warnings)
    assert elapsed < 120
