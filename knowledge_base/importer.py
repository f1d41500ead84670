"""Import the national portal's JSONL export into :class:`Procedure` objects.

Why a separate, strict step: the export is large, flattened and sometimes
broken, and the assistant's answers are only as good as this data.  The
importer therefore

* rejects the whole file on any hard error (unreadable line, bad or
  duplicate ``ma_thu_tuc``, non-UTF-8 bytes, empty file, a record that does
  not fit the model) and names the line and field, so an admin can fix the
  export instead of silently getting a partial catalogue;
* records every soft problem (a fee it could not read, a duration without a
  unit...) as a warning with line, record code and field;
* never writes anything itself: the caller passes ``commit``, which is only
  called when the file is valid, with the procedures sorted by code (so the
  same file always gives the same output) and the file's SHA-256.

Run ``python -m knowledge_base.importer FILE`` for a dry run with a
readable report (``--json`` for machine-readable output); a rejected file
exits with status 1.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from knowledge_base import portal_parser as pp
from knowledge_base.schema import Procedure, SubmissionChannel, portal_url

__all__ = [
    "CommitFn",
    "FieldStats",
    "ImportIssue",
    "ImportRejected",
    "ImportReport",
    "citizen_priority",
    "import_file",
    "record_to_procedure",
]

CommitFn = Callable[[list[Procedure], str], None]

_CODE_RE = re.compile(r"[0-9]\.[0-9]{6}")
_MAX_ERRORS = 1000  # after this many hard errors the file is clearly not an export

# Ministry behind each folder of the export; used only when a record names no
# agency at all (and then reported as a warning).
_FOLDER_AGENCY = {
    "bo-cong-an": "Bộ Công an",
    "bo-tai-chinh": "Bộ Tài chính",
    "bo-nong-nghiep-mt": "Bộ Nông nghiệp và Môi trường",
    "bo-xay-dung": "Bộ Xây dựng",
    "bo-tu-phap": "Bộ Tư pháp",
    "ngan-hang-nha-nuoc": "Ngân hàng Nhà nước Việt Nam",
    "toa-an-nhan-dan": "Tòa án nhân dân",
}

# Portal field behind each model field, so validation errors name what the
# admin sees in the export.
_MODEL_TO_PORTAL = {
    "code": "ma_thu_tuc",
    "name": "ten_thu_tuc",
    "field": "linh_vuc",
    "agency": "co_quan_thuc_hien",
    "levels": "cap_thuc_hien",
    "audience": "doi_tuong_thuc_hien",
    "where_to_submit": "dia_chi_tiep_nhan",
    "channels": "cach_thuc_thuc_hien",
    "documents": "thanh_phan_ho_so",
    "steps": "trinh_tu_thuc_hien",
    "conditions": "yeu_cau_dieu_kien",
    "result": "ket_qua_xu_ly",
    "legal_basis": "can_cu_phap_ly",
    "source_url": "detail_url",
}

# Fields whose parse rate is reported, in report order.
STAT_FIELDS = (
    "cach_thuc_thuc_hien",
    "cach_thuc_thuc_hien.thoi_gian",
    "cach_thuc_thuc_hien.phi",
    "thanh_phan_ho_so",
    "can_cu_phap_ly",
    "trinh_tu_thuc_hien",
    "cap_thuc_hien",
    "doi_tuong_thuc_hien",
    "co_quan_thuc_hien",
    "yeu_cau_dieu_kien",
    "ket_qua_xu_ly",
)


@dataclass(frozen=True)
class ImportIssue:
    """A warning or error tied to a place in the file.

    ``line`` is 1-based (None for whole-file problems), ``record`` the
    ``ma_thu_tuc`` when known, ``field`` the portal field, ``kind`` a stable
    English tag to group on and ``message`` the Vietnamese explanation.
    """

    line: int | None
    record: str | None
    field: str
    kind: str
    message: str
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {
            "line": self.line,
            "record": self.record,
            "field": self.field,
            "kind": self.kind,
            "message": self.message,
            "raw": self.raw,
        }

    def format(self) -> str:
        """One readable line: where, what, and the source excerpt."""
        where = []
        if self.line is not None:
            where.append(f"dòng/line {self.line}")
        if self.record:
            where.append(f"mã/code {self.record}")
        where.append(f"trường/field {self.field}")
        text = f"{', '.join(where)}: {self.message}"
        if self.raw:
            text += f" «{self.raw}»"
        return text


@dataclass
class FieldStats:
    """How one field fared over all records: read, absent in the source, or not readable."""

    parsed: int = 0
    empty: int = 0
    failed: int = 0

    @property
    def rate(self) -> float:
        """Share of records with content in this field that were read cleanly."""
        filled = self.parsed + self.failed
        return self.parsed / filled if filled else 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {
            "parsed": self.parsed,
            "empty": self.empty,
            "failed": self.failed,
            "rate": round(self.rate, 4),
        }


@dataclass
class ImportReport:
    """Outcome of one import: counts, per-field parse statistics, warnings and errors.

    ``procedures`` holds the converted records (sorted by code) even on a
    dry run, so a caller can inspect them; it is left out of ``to_dict``.
    """

    source: str
    source_sha256: str | None = None
    records_read: int = 0
    records_imported: int = 0
    field_stats: dict[str, FieldStats] = field(default_factory=lambda: {name: FieldStats() for name in STAT_FIELDS})
    warnings: list[ImportIssue] = field(default_factory=list)
    errors: list[ImportIssue] = field(default_factory=list)
    committed: bool = False
    elapsed_s: float = 0.0
    procedures: list[Procedure] = field(default_factory=list, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when the file is valid as a whole (warnings allowed)."""
        return not self.errors

    def to_dict(self, *, include_timing: bool = False) -> dict[str, Any]:
        """JSON-ready report.  Timing is opt-in so two runs on one file compare equal."""
        out: dict[str, Any] = {
            "source": self.source,
            "source_sha256": self.source_sha256,
            "ok": self.ok,
            "committed": self.committed,
            "records_read": self.records_read,
            "records_imported": self.records_imported,
            "field_stats": {k: v.to_dict() for k, v in self.field_stats.items()},
            "warning_counts": dict(sorted(Counter(w.kind for w in self.warnings).items())),
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
        }
        if include_timing:
            out["elapsed_s"] = round(self.elapsed_s, 3)
        return out

    def format(self, max_examples: int = 20, written_to: str | None = None) -> str:
        """Readable validation report (Vietnamese with English labels) for admins and CI logs.

        ``written_to`` names where a caller wrote the checked records itself (the admin app's
        draft): the check was then no dry run, and the verdict must not say it was.
        """
        if not self.ok:
            verdict = "BỊ TỪ CHỐI – không ghi gì / REJECTED – nothing written"
        elif written_to:
            verdict = f"HỢP LỆ – đã ghi vào {written_to} / VALID – written to the draft"
        elif self.committed:
            verdict = "HỢP LỆ – đã ghi danh mục / VALID – catalogue written"
        else:
            verdict = "HỢP LỆ – chạy thử, chưa ghi / VALID – dry run, nothing written"
        lines = [
            "=== Báo cáo nhập thủ tục từ Cổng DVC quốc gia / Portal import report ===",
            f"Tệp / File: {self.source}",
            f"SHA-256: {self.source_sha256 or '-'}",
            f"Kết quả / Result: {verdict}",
            f"Bản ghi đọc được / Records read: {self.records_read}",
            f"Bản ghi nhập / Records imported: {self.records_imported}",
            f"Thời gian / Time: {self.elapsed_s:.2f} s",
            "",
            "Tỉ lệ đọc theo trường / Per-field parse rates "
            "(đọc được/parsed · trống/empty · lỗi/failed · tỉ lệ/rate of non-empty):",
        ]
        width = max(len(k) for k in self.field_stats) if self.field_stats else 10
        for name, st in self.field_stats.items():
            rate = f"{st.rate:>7.1%}" if st.parsed + st.failed else f"{'–':>7}"
            lines.append(f"  {name:<{width}}  {st.parsed:>6}  {st.empty:>6}  {st.failed:>6}  {rate}")
        lines.append("")
        lines.append(f"Lỗi / Errors: {len(self.errors)}")
        for e in self.errors[:max_examples]:
            lines.append(f"  ✗ {e.format()}")
        if len(self.errors) > max_examples:
            lines.append(f"  … và {len(self.errors) - max_examples} lỗi khác / more errors (xem --json)")
        lines.append("")
        lines.append(f"Cảnh báo / Warnings: {len(self.warnings)}")
        by_kind = Counter(w.kind for w in self.warnings)
        first_msg: dict[str, str] = {}
        for w in self.warnings:
            first_msg.setdefault(w.kind, w.message)
        for kind, n in sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0])):
            records = len({w.record for w in self.warnings if w.kind == kind})
            lines.append(f"  {kind:<28} {n:>6} ({records} thủ tục/records) – {first_msg[kind]}")
        if self.warnings and max_examples > 0:
            lines.append(f"Ví dụ / Examples (tối đa/up to {max_examples}, mỗi loại vài mục/a few per kind):")
            for w in _examples(self.warnings, max_examples):
                lines.append(f"  ! {w.format()}")
        return "\n".join(lines)


def _examples(warnings: list[ImportIssue], limit: int) -> list[ImportIssue]:
    """Pick examples round-robin over kinds so one frequent kind does not hide the others."""
    groups: dict[str, list[ImportIssue]] = {}
    for w in warnings:
        groups.setdefault(w.kind, []).append(w)
    out: list[ImportIssue] = []
    depth = 0
    while len(out) < limit and any(len(g) > depth for g in groups.values()):
        for kind in sorted(groups):
            if depth < len(groups[kind]) and len(out) < limit:
                out.append(groups[kind][depth])
        depth += 1
    return out


# --------------------------------------------------------------------------
# Citizen priority
# --------------------------------------------------------------------------
_LEVEL_SCORE = {"Cấp xã": 0.35, "Cấp tỉnh": 0.25, "Cấp bộ": 0.05, "Cơ quan khác": 0.05}
_CITIZEN = "Công dân Việt Nam"
_INDIVIDUALS = ("Người Việt Nam định cư ở nước ngoài", "Người nước ngoài")
_PUBLIC_SERVANTS = ("Cán bộ", "Đảng viên")


def citizen_priority(levels: list[str], audience: list[str]) -> float:
    """How likely an ordinary citizen is to need this procedure, from 0 to 1.

    Why: with thousands of imported procedures, search ties must favour the
    ones people actually do.  The portal has no usage data, so the score is
    a transparent heuristic from two fields:

    * level (highest that applies): cấp xã 0.35, cấp tỉnh 0.25, cấp bộ or
      other bodies 0.05 -- local procedures are the everyday ones;
    * audience (highest that applies): "Công dân Việt Nam" 0.45, other
      private persons (overseas Vietnamese, foreigners) 0.25, civil
      servants or party members 0.10, organisations/enterprises only 0.05.

    Base 0.1; result clamped to [0, 1] and rounded to 2 decimals.  So a
    commune-level procedure for citizens scores 0.9, a ministry-level one
    for enterprises only 0.2.
    """
    level = max((_LEVEL_SCORE.get(lv, 0.05) for lv in levels), default=0.05)
    if any(a.startswith(_CITIZEN) for a in audience):
        who = 0.45
    elif any(a.startswith(_INDIVIDUALS) for a in audience):
        who = 0.25
    elif any(a.startswith(_PUBLIC_SERVANTS) for a in audience):
        who = 0.10
    else:
        who = 0.05
    return round(min(1.0, max(0.0, 0.1 + level + who)), 2)


# --------------------------------------------------------------------------
# Record conversion
# --------------------------------------------------------------------------
def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _stat(stats: dict[str, FieldStats], name: str, source: str, produced: bool, issues: list[pp.ParseIssue]) -> None:
    failed = any(i.field == name or i.field.startswith(name + "[") or i.field.startswith(name + ".") for i in issues)
    st = stats[name]
    if failed or (produced is False and not pp.is_no_info(source)):
        st.failed += 1
    elif pp.is_no_info(source):
        st.empty += 1
    else:
        st.parsed += 1


def _channel_stats(stats: dict[str, FieldStats], channels: list[SubmissionChannel], issues: list[pp.ParseIssue]) -> None:
    for sub, has in (
        ("thoi_gian", any(c.duration is not None for c in channels)),
        ("phi", any(c.fees for c in channels)),
    ):
        name = f"cach_thuc_thuc_hien.{sub}"
        st = stats[name]
        if any(i.field.endswith("." + sub) for i in issues):
            st.failed += 1
        elif has:
            st.parsed += 1
        else:
            st.empty += 1


def record_to_procedure(
    record: dict[str, Any],
    issues: list[pp.ParseIssue],
    stats: dict[str, FieldStats] | None = None,
) -> Procedure:
    """Convert one portal record (already checked to have a valid code) to a Procedure.

    Soft problems go to ``issues``; ``stats`` (optional) is updated with one
    parsed/empty/failed count per reported field.  Raises pydantic's
    ``ValidationError`` when the record cannot form a valid Procedure (e.g.
    no name), which the importer turns into a hard error.
    """
    code = _text(record, "ma_thu_tuc").strip()
    cach = _text(record, "cach_thuc_thuc_hien")
    docs_src = _text(record, "thanh_phan_ho_so")
    legal_src = _text(record, "can_cu_phap_ly")
    steps_src = _text(record, "trinh_tu_thuc_hien")
    levels_src = _text(record, "cap_thuc_hien")
    audience_src = _text(record, "doi_tuong_thuc_hien")
    cond_src = _text(record, "yeu_cau_dieu_kien")
    result_src = _text(record, "ket_qua_xu_ly")

    channels = pp.parse_channels(cach, issues)
    documents = pp.parse_documents(docs_src, issues)
    legal = pp.parse_legal_basis(legal_src, issues)
    steps = pp.parse_steps(steps_src, issues)
    levels = pp.parse_levels(levels_src)
    audience = pp.parse_audience(audience_src)
    conditions = pp.parse_conditions(cond_src)
    result = pp.parse_result(result_src)

    agency_src = _text(record, "co_quan_thuc_hien")
    agency = pp.clean_text(agency_src)
    if pp.is_no_info(agency):
        competent = pp.clean_text(_text(record, "co_quan_co_tham_quyen"))
        folder = _FOLDER_AGENCY.get(_text(record, "agency_folder"))
        if not pp.is_no_info(competent):
            agency = competent
            issues.append(
                pp.ParseIssue(
                    "co_quan_thuc_hien",
                    "agency_fallback",
                    "Không có cơ quan thực hiện; dùng cơ quan có thẩm quyền.",
                    competent,
                )
            )
        elif folder:
            agency = folder
            issues.append(
                pp.ParseIssue(
                    "co_quan_thuc_hien",
                    "agency_fallback",
                    "Không có cơ quan thực hiện/có thẩm quyền; dùng bộ ngành của thư mục xuất.",
                    folder,
                )
            )
        else:
            agency = ""

    source_url = pp.clean_text(_text(record, "detail_url"))
    if not source_url:
        source_url = portal_url(code)
        issues.append(pp.ParseIssue("detail_url", "source_url_missing", "Thiếu đường dẫn chi tiết; dùng liên kết theo mã."))

    where = pp.clean_text(_text(record, "dia_chi_tiep_nhan"))
    if stats is not None:
        _stat(stats, "cach_thuc_thuc_hien", cach, bool(channels), issues_for(issues, "cach_thuc_thuc_hien", deep=False))
        _channel_stats(stats, channels, issues)
        _stat(stats, "thanh_phan_ho_so", docs_src, bool(documents), issues)
        _stat(stats, "can_cu_phap_ly", legal_src, bool(legal), issues)
        _stat(stats, "trinh_tu_thuc_hien", steps_src, bool(steps), issues)
        _stat(stats, "cap_thuc_hien", levels_src, bool(levels), issues)
        _stat(stats, "doi_tuong_thuc_hien", audience_src, bool(audience), issues)
        _stat(stats, "co_quan_thuc_hien", agency_src, bool(agency), issues)
        _stat(stats, "yeu_cau_dieu_kien", cond_src, bool(conditions), issues)
        _stat(stats, "ket_qua_xu_ly", result_src, result is not None, issues)

    return Procedure(
        code=code,
        name=_text(record, "ten_thu_tuc"),
        aliases=[],
        field=_text(record, "linh_vuc"),
        levels=levels,
        audience=audience,
        agency=agency,
        where_to_submit=None if pp.is_no_info(where) else where,
        channels=channels,
        documents=documents,
        steps=steps,
        conditions=conditions,
        result=result,
        legal_basis=legal,
        source_url=source_url,
        last_verified=None,
        curated=False,
        citizen_priority=citizen_priority(levels, audience),
    )


def issues_for(issues: list[pp.ParseIssue], name: str, *, deep: bool) -> list[pp.ParseIssue]:
    """Issues of one field; ``deep=False`` leaves out sub-parts such as ``[2].phi``.

    Why: a fee problem in one channel row is counted under the fee statistic,
    not as a failure to find the channels themselves.
    """
    if deep:
        return [i for i in issues if i.field == name or i.field.startswith((name + "[", name + "."))]
    return [i for i in issues if i.field == name]


# --------------------------------------------------------------------------
# File reading
# --------------------------------------------------------------------------
def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Numbered raw lines (1-based), without the line terminator."""
    for number, line in enumerate(data.split(b"\n"), start=1):
        yield number, line[:-1] if line.endswith(b"\r") else line


def _decode_error(line_no: int, line: bytes, exc: UnicodeDecodeError) -> ImportIssue:
    snippet = line[max(0, exc.start - 20) : exc.end + 20]
    return ImportIssue(
        line_no,
        None,
        "(mã hóa/encoding)",
        "not_utf8",
        f"Dòng không phải UTF-8: byte 0x{line[exc.start]:02x} ở vị trí {exc.start}. Hãy xuất lại tệp với mã hóa UTF-8.",
        snippet.decode("utf-8", errors="replace"),
    )


def _field_of(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "(bản ghi/record)"
    return _MODEL_TO_PORTAL.get(str(loc[0]), str(loc[0]))


class ImportRejected(Exception):
    """The file was refused as a whole and nothing was committed; ``report`` lists the errors.

    Why an exception: a caller that asked for an import must not carry on
    (rebuild an index, say "done") as if the catalogue had changed.
    """

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        first = report.errors[0].format() if report.errors else "không rõ lỗi"
        super().__init__(f"Tệp {report.source} bị từ chối ({len(report.errors)} lỗi), lỗi đầu: {first}")


def import_file(
    path: str | Path,
    *,
    commit: CommitFn | None,
    raise_on_error: bool = True,
) -> ImportReport:
    """Validate and convert a portal export (``.jsonl`` or ``.jsonl.gz``); commit only if all of it is valid.

    ``commit(procedures, source_sha256)`` receives every procedure sorted by
    code and the SHA-256 of the file's bytes as given (compressed or not).
    Pass ``commit=None`` for a dry run.  Nothing is ever deduplicated: two
    records with the same code are an error naming both lines.

    A rejected file raises :class:`ImportRejected` (its ``report`` names
    every line and field at fault); with ``raise_on_error=False`` the report
    is returned instead, with ``ok`` False.  Either way ``commit`` is not
    called.
    """
    started = time.perf_counter()
    report = ImportReport(source=str(path))

    def finish() -> ImportReport:
        report.elapsed_s = time.perf_counter() - started
        if report.errors and raise_on_error:
            raise ImportRejected(report)
        return report

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        report.errors.append(
            ImportIssue(None, None, "(tệp/file)", "file_unreadable", f"Không đọc được tệp: {exc.strerror or exc}.")
        )
        return finish()
    report.source_sha256 = hashlib.sha256(data).hexdigest()

    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            report.errors.append(ImportIssue(None, None, "(tệp/file)", "bad_gzip", f"Tệp gzip hỏng hoặc bị cắt: {exc}."))
            return finish()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 BOM is harmless; strip it instead of failing line 1

    procedures: list[Procedure] = []
    first_line: dict[str, int] = {}
    lines = list(_lines(data))
    while lines and not lines[-1][1].strip():
        lines.pop()  # trailing newline(s) at the end of the file
    for line_no, raw in lines:
        if len(report.errors) >= _MAX_ERRORS:
            report.errors.append(ImportIssue(line_no, None, "(tệp/file)", "too_many_errors", "Quá nhiều lỗi; dừng kiểm tra tệp."))
            break
        if not raw.strip():
            report.warnings.append(ImportIssue(line_no, None, "(dòng/line)", "blank_line", "Dòng trống giữa tệp; bỏ qua."))
            continue
        report.records_read += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.errors.append(_decode_error(line_no, raw, exc))
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            report.errors.append(
                ImportIssue(
                    line_no,
                    None,
                    "(JSON)",
                    "bad_json",
                    f"JSON không hợp lệ ở cột {exc.colno}: {exc.msg}.",
                    pp.clean_text(text[max(0, exc.pos - 30) : exc.pos + 30]),
                )
            )
            continue
        if not isinstance(record, dict):
            report.errors.append(
                ImportIssue(line_no, None, "(JSON)", "not_an_object", "Mỗi dòng phải là một đối tượng JSON {…}.")
            )
            continue
        code_value = record.get("ma_thu_tuc")
        if code_value is None or (isinstance(code_value, str) and not code_value.strip()):
            report.errors.append(ImportIssue(line_no, None, "ma_thu_tuc", "missing_code", "Thiếu mã thủ tục (ma_thu_tuc)."))
            continue
        if not isinstance(code_value, str) or not _CODE_RE.fullmatch(code_value.strip()):
            report.errors.append(
                ImportIssue(
                    line_no,
                    None,
                    "ma_thu_tuc",
                    "invalid_code",
                    "Mã thủ tục sai dạng (cần dạng 1.234567).",
                    str(code_value)[:60],
                )
            )
            continue
        code = code_value.strip()
        if code in first_line:
            report.errors.append(
                ImportIssue(
                    line_no,
                    code,
                    "ma_thu_tuc",
                    "duplicate_code",
                    f"Mã thủ tục trùng với dòng {first_line[code]}; không tự loại trùng.",
                )
            )
            continue
        first_line[code] = line_no

        issues: list[pp.ParseIssue] = []
        try:
            procedure = record_to_procedure(record, issues, report.field_stats)
        except ValidationError as exc:
            for err in exc.errors():
                report.errors.append(
                    ImportIssue(
                        line_no,
                        code,
                        _field_of(tuple(err.get("loc", ()))),
                        "invalid_record",
                        f"Bản ghi không hợp lệ: {err.get('msg', 'lỗi')}.",
                    )
                )
            continue
        report.warnings.extend(ImportIssue(line_no, code, i.field, i.code, i.message, i.raw) for i in issues)
        procedures.append(procedure)

    if report.records_read == 0 and not report.errors:
        report.errors.append(ImportIssue(None, None, "(tệp/file)", "empty_file", "Tệp không có bản ghi nào; không ghi gì."))

    procedures.sort(key=lambda p: p.code)
    report.procedures = procedures
    if report.ok:
        report.records_imported = len(procedures)
        if commit is not None:
            commit(procedures, report.source_sha256)
            report.committed = True
    return finish()


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Dry-run (default) or commit an export from the command line; exit 1 when rejected."""
    parser = argparse.ArgumentParser(description="Kiểm tra/nhập tệp xuất của Cổng DVC quốc gia.")
    parser.add_argument("path", help="tệp .jsonl hoặc .jsonl.gz")
    parser.add_argument("--json", action="store_true", help="in báo cáo dạng JSON")
    parser.add_argument("--examples", type=int, default=20, help="số ví dụ cảnh báo/lỗi in ra")
    parser.add_argument(
        "--commit",
        action="store_true",
        help="ghi danh mục nhập qua knowledge_base.store.write_imported nếu tệp hợp lệ",
    )
    args = parser.parse_args(argv)
    commit: CommitFn | None = None
    if args.commit:
        from knowledge_base.store import write_imported  # the store owns all writes

        commit = write_imported
    report = import_file(args.path, commit=commit, raise_on_error=False)
    if args.json:
        json.dump(report.to_dict(include_timing=True), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.format(max_examples=args.examples))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
