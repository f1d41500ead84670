"""Compare the curated catalogue with the national portal's records, for a person to review.

Why: curated entries are written by hand and go stale when a fee, a time
limit or a form changes; the portal export is the official record but its
own cells are sometimes wrong (a "Miễn phí" cell whose note gives the real
fee, a reduced rate whose period has ended, the rate of another case).  So
this module never decides who is right and never writes anything: it lists
every difference, with the portal's own note beside a fee or duration, and a
person fixes the YAML.

Compared for each curated procedure whose code is in the portal file:

* ``name`` (normalised: case, spaces, a leading "Thủ tục", final dot);
* ``channels`` (which submission channels exist);
* ``fee[<channel>]`` (kind, amounts, currency of every fee of the channel);
* ``duration[<channel>]`` (value, max, unit; a portal figure equal to the
  upper bound of a curated range agrees with it, since the portal cell
  usually gives the longest case);
* ``documents`` (fuzzy name matching both ways) and ``documents.count``;
* ``legal_basis`` (document numbers on one side only);
* ``fee_period[<channel>]``: a rate whose dated period ("đến hết ngày
  31/12/2025", "đến hết năm 2025") has ended by ``today``, on either side.

``python -m knowledge_base verify [--portal FILE] [--json] [--today YYYY-MM-DD]``
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from knowledge_base import portal_parser as pp
from knowledge_base.schema import (
    UNIT_NAMES,
    Channel,
    Document,
    Duration,
    DurationUnit,
    Fee,
    FeeKind,
    Procedure,
    SubmissionChannel,
)

__all__ = [
    "Difference",
    "PortalFileError",
    "compare",
    "default_portal_path",
    "find_periods",
    "format_report",
    "load_portal",
    "summary",
    "verify",
]

SAMPLE_REL = Path("data") / "tthc" / "national_catalogue_sample_2642.jsonl.gz"

CHANNEL_NAMES = {
    Channel.TRUC_TIEP: "trực tiếp",
    Channel.TRUC_TUYEN: "trực tuyến",
    Channel.BUU_CHINH: "bưu chính",
}
FIELD_LABELS = {
    "name": "Tên thủ tục",
    "channels": "Hình thức nộp",
    "fee": "Phí, lệ phí",
    "duration": "Thời hạn",
    "documents": "Thành phần hồ sơ",
    "documents.count": "Số giấy tờ",
    "legal_basis": "Căn cứ pháp lý",
    "fee_period": "Mức thu có thời hạn đã hết",
}
SEVERITY_LABELS = {"high": "cao", "medium": "vừa", "low": "thấp"}
_NOTE_LIMIT = 240


class PortalFileError(Exception):
    """The portal file is missing, unreadable or malformed; the message says which and where."""


@dataclass(frozen=True)
class Difference:
    """One fact that differs between the curated entry and the portal record.

    ``field`` names the compared fact, with the channel in brackets for
    per-channel facts (``fee[truc_tiep]``); ``curated`` and ``portal`` are
    readable values (a string, or a list of strings for documents and legal
    numbers; None when that side has nothing); ``portal_note`` is a short
    excerpt of the portal's own text for a person to judge; ``severity`` is
    ``high`` (fees, expired rates), ``medium`` or ``low``.
    """

    code: str
    name: str
    field: str
    curated: str | list[str] | None
    portal: str | list[str] | None
    portal_note: str | None
    severity: str

    @property
    def kind(self) -> str:
        """The field without its channel: ``fee[truc_tiep]`` -> ``fee``."""
        return self.field.split("[", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
def default_portal_path() -> Path:
    """``TTHC_SAMPLE`` if set, else the shared sample next to the checkout (as the tests resolve it)."""
    env = os.environ.get("TTHC_SAMPLE")
    if env:
        return Path(env)
    shared = Path(os.environ.get("SHARED_DIR", Path(__file__).resolve().parent.parent.parent / "shared"))
    return shared / SAMPLE_REL


def load_portal(path: Path) -> dict[str, Procedure]:
    """Portal records by code, through the importer (same parsing, same validation).

    Raises :class:`PortalFileError` when the file is missing or the importer
    rejects it (bad JSON, wrong encoding, duplicate codes, empty file...).
    """
    from knowledge_base.importer import import_file

    path = Path(path)
    if not path.is_file():
        raise PortalFileError(f"không thấy tệp dữ liệu Cổng DVC: {path} (chỉ định bằng --portal FILE hoặc TTHC_SAMPLE)")
    report = import_file(path, commit=None, raise_on_error=False)
    if not report.ok:
        first = "; ".join(e.format() for e in report.errors[:3])
        more = f" (và {len(report.errors) - 3} lỗi khác)" if len(report.errors) > 3 else ""
        raise PortalFileError(f"tệp {path} không đúng định dạng xuất của Cổng DVC: {first}{more}")
    return {p.code: p for p in report.procedures}


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------
def _excerpt(text: str | None, limit: int = _NOTE_LIMIT) -> str | None:
    t = pp.clean_text(text)
    if not t:
        return None
    return t if len(t) <= limit else t[: limit - 1] + "…"


def _norm(text: str) -> str:
    return pp.clean_text(unicodedata.normalize("NFC", text)).lower()


def normalise_name(name: str) -> str:
    """Case, spaces, a leading "Thủ tục" and final punctuation do not count as a difference."""
    n = _norm(name)
    n = re.sub(r"^thủ tục\s+", "", n)
    n = re.sub(r"\s*([,;:()])\s*", r"\1 ", n)
    return re.sub(r"\s+", " ", n).strip(" .;,")


def _money(amount: float | None, currency: str) -> str:
    if amount is None:
        return "?"
    if currency == "USD":
        return f"{amount:g} USD"
    return f"{amount:,.0f}".replace(",", ".") + " đ"


def _fee_key(fee: Fee) -> tuple[Any, ...]:
    cur = str(fee.currency)
    if fee.kind == FeeKind.FREE:
        return ("free",)
    if fee.kind == FeeKind.FIXED:
        return ("fixed", fee.amount, cur)
    if fee.kind == FeeKind.RANGE:
        return ("range", fee.min_amount, fee.max_amount, cur)
    if fee.kind == FeeKind.PROVINCIAL:
        return ("provincial",)
    return ("unknown",)


def _fee_text(key: tuple[Any, ...]) -> str:
    kind = key[0]
    if kind == "free":
        return "miễn phí"
    if kind == "fixed":
        return _money(key[1], key[2])
    if kind == "range":
        return f"{_money(key[1], key[3])}–{_money(key[2], key[3])}"
    if kind == "provincial":
        return "do HĐND tỉnh quyết định"
    return "không đọc được ô phí"


def _dur_key(d: Duration) -> tuple[float | None, float | None, str]:
    return (d.value, d.max_value, str(d.unit))


def _dur_text(key: tuple[float | None, float | None, str]) -> str:
    value, hi, unit = key
    name = UNIT_NAMES[DurationUnit(unit)]
    if unit == DurationUnit.TRONG_NGAY:
        return name
    v = f"{value:g}" if value is not None else "?"
    return f"{v}–{hi:g} {name}" if hi is not None else f"{v} {name}"


def _dur_agrees(portal: tuple[float | None, float | None, str], curated: tuple[float | None, float | None, str]) -> bool:
    """Same figure, or the portal gives one end of a curated range (one case per portal row,
    or the longest case in a single cell)."""
    if portal == curated:
        return True
    pv, phi, pu = portal
    cv, chi, cu = curated
    return pu == cu and phi is None and chi is not None and pv in (cv, chi)


def _by_channel(channels: list[SubmissionChannel]) -> dict[Channel, list[SubmissionChannel]]:
    out: dict[Channel, list[SubmissionChannel]] = {}
    for ch in channels:
        out.setdefault(Channel(ch.channel), []).append(ch)
    return out


def _join(parts: Iterable[str | None]) -> str | None:
    seen: list[str] = []
    for p in parts:
        t = pp.clean_text(p)
        if t and t not in seen:
            seen.append(t)
    return _excerpt(" | ".join(seen)) if seen else None


# --------------------------------------------------------------------------
# Dated periods in notes
# --------------------------------------------------------------------------
_DATE = r"(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})"
_DATE_WORDS = r"(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})"
_END_RE = re.compile(
    rf"(?:đến|tới)\s+(?:hết\s+)?(?:ngày\s+)?(?:{_DATE}|{_DATE_WORDS})"
    rf"|(?:đến\s+)?hết\s+(?:ngày\s+)?(?:{_DATE}|{_DATE_WORDS})"
    r"|(?:đến\s+)?hết\s+năm\s+(\d{4})",
    re.IGNORECASE,
)
# A note that itself says the dated rate is over ("chỉ áp dụng đến hết 2025
# nên nay thu như nộp trực tiếp") documents the change instead of relying on it.
_PAST_RE = re.compile(r"chỉ áp dụng|đã hết|hết hiệu lực|không còn áp dụng|nay thu|không áp dụng nữa", re.IGNORECASE)


def _date(d: str, m: str, y: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def find_periods(text: str | None) -> list[dt.date]:
    """End dates of dated periods in a note: "đến hết ngày 31/12/2025", "đến hết năm 2025"…"""
    out: list[dt.date] = []
    for m in _END_RE.finditer(pp.clean_text(text)):
        g = m.groups()
        end = None
        for i in (0, 3, 6, 9):
            if g[i]:
                end = _date(g[i], g[i + 1], g[i + 2])
                break
        else:
            if g[12]:
                end = dt.date(int(g[12]), 12, 31)
        if end and end not in out:
            out.append(end)
    return out


def _expired(text: str | None, today: dt.date) -> dt.date | None:
    ends = [d for d in find_periods(text) if d < today]
    return max(ends) if ends else None


# --------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------
_STOP = frozenset(
    "của và hoặc các cho có được theo trường hợp bản sao chính giấy tờ mẫu số là về với tại trong khi nếu do thì "
    "phải không nộp để từ một kèm đã này đối ban hành thông tư quy định ngày năm tháng bộ người đề nghị xuất trình "
    "đơn tờ khai văn những gồm như sau đây".split()
)


def _tokens(text: str) -> set[str]:
    return {t for t in re.findall(r"\w+", _norm(text)) if t not in _STOP and not t.isdigit()}


def _compact(text: str) -> str:
    from vntext import fold_accents

    return re.sub(r"[^a-z0-9]", "", fold_accents(_norm(text)))


_ID_PAPER = re.compile(r"giấy tờ tùy thân|giấy tờ tuỳ thân|giấy tờ nhân thân")
_ID_NAMES = re.compile(r"căn cước|hộ chiếu|chứng minh nhân dân")


def _doc_similarity(a: Document, b: Document) -> float:
    """How alike two document rows are, 0..1: shared template code, shared words, or close spelling."""
    for x, y in ((a, b), (b, a)):
        if x.template:
            code = _compact(x.template)
            if len(code) >= 4 and re.search(r"\d", code) and code in _compact(y.name + " " + (y.template or "")):
                return 1.0
    na, nb = _norm(a.name), _norm(b.name)
    if any(_ID_PAPER.search(x) and _ID_NAMES.search(y) for x, y in ((na, nb), (nb, na))):
        return 1.0  # "giấy tờ tùy thân" is how curated entries name the portal's list of ID papers
    ta, tb = _tokens(a.name), _tokens(b.name)
    overlap = 0.0
    if ta and tb:
        shared = len(ta & tb)
        small = min(len(ta), len(tb))
        if shared >= 2 or small == 1:
            overlap = shared / small
        if shared >= 5:  # a long shared phrase in two long descriptions of one paper
            overlap = max(overlap, min(1.0, shared / small + 0.15))
    ratio = SequenceMatcher(None, na, nb).ratio()
    return max(overlap, ratio)


_DOC_MATCH = 0.6


def _unmatched(side: list[Document], other: list[Document]) -> list[Document]:
    return [d for d in side if not any(_doc_similarity(d, o) >= _DOC_MATCH for o in other)]


def _portal_docs(proc: Procedure) -> list[Document]:
    """Portal rows that are documents to bring (rows with quantity 0 are guidance lines)."""
    return [d for d in proc.documents if d.copies != 0]


def _doc_label(d: Document) -> str:
    return _excerpt(d.name, 160) or ""


# --------------------------------------------------------------------------
# Legal basis
# --------------------------------------------------------------------------
def legal_number(number: str) -> str:
    """"250/QĐ - TTg" and "250/QĐ-TTg" are the same document."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", number)).upper()


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------
def compare(curated: Procedure, portal: Procedure, today: dt.date) -> list[Difference]:
    """Every difference between one curated procedure and its portal record."""
    diffs: list[Difference] = []
    code, name = curated.code, curated.name

    def add(field: str, cur: Any, por: Any, note: str | None, severity: str) -> None:
        diffs.append(Difference(code, name, field, cur, por, note, severity))

    if normalise_name(curated.name) != normalise_name(portal.name):
        add("name", curated.name, portal.name, None, "low")

    cur_ch, por_ch = _by_channel(curated.channels), _by_channel(portal.channels)
    if por_ch and set(cur_ch) != set(por_ch):
        only_cur = [CHANNEL_NAMES[c] for c in Channel if c in cur_ch and c not in por_ch]
        only_por = [CHANNEL_NAMES[c] for c in Channel if c in por_ch and c not in cur_ch]
        add(
            "channels",
            ", ".join(CHANNEL_NAMES[c] for c in Channel if c in cur_ch) or None,
            ", ".join(CHANNEL_NAMES[c] for c in Channel if c in por_ch) or None,
            "chỉ có trong danh mục: " + (", ".join(only_cur) or "—") + "; chỉ có trên Cổng: " + (", ".join(only_por) or "—"),
            "medium",
        )

    for channel in Channel:
        if channel not in cur_ch or channel not in por_ch:
            continue
        label = channel.value
        c_rows, p_rows = cur_ch[channel], por_ch[channel]
        # Fees
        c_fees = [f for r in c_rows for f in r.fees]
        p_fees = [f for r in p_rows for f in r.fees]
        c_keys = {_fee_key(f) for f in c_fees}
        p_keys = {_fee_key(f) for f in p_fees}
        if p_keys and c_keys != p_keys:
            add(
                f"fee[{label}]",
                "; ".join(_fee_text(k) for k in sorted(c_keys, key=str)) or None,
                "; ".join(_fee_text(k) for k in sorted(p_keys, key=str)),
                _join([f.note for f in p_fees] + [r.note for r in p_rows if not (r.note or "").startswith("Thời hạn gốc")]),
                "high",
            )
        # Durations
        c_durs = {_dur_key(r.duration) for r in c_rows if r.duration}
        p_durs = {_dur_key(r.duration) for r in p_rows if r.duration}
        if p_durs:
            portal_ok = all(any(_dur_agrees(p, c) for c in c_durs) for p in p_durs)
            if not portal_ok:
                add(
                    f"duration[{label}]",
                    "; ".join(_dur_text(k) for k in sorted(c_durs, key=str)) or None,
                    "; ".join(_dur_text(k) for k in sorted(p_durs, key=str)),
                    _join([r.duration.note for r in p_rows if r.duration] + [r.note for r in p_rows]),
                    "medium",
                )
        # Dated periods on either side
        for side, rows in (("curated", c_rows), ("portal", p_rows)):
            for row in rows:
                texts = [f.note for f in row.fees] + [row.note, row.duration.note if row.duration else None]
                for text in texts:
                    end = _expired(text, today)
                    if end is None or (side == "curated" and _PAST_RE.search(text or "")):
                        continue
                    gone = f"mức thu áp dụng đến {end:%d/%m/%Y} đã hết hạn (hôm nay {today:%d/%m/%Y})"
                    add(
                        f"fee_period[{label}]",
                        f"{gone}: «{_excerpt(text, 160)}»" if side == "curated" else None,
                        gone if side == "portal" else None,
                        _excerpt(text) if side == "portal" else None,
                        "high",
                    )

    # Documents
    p_docs = _portal_docs(portal)
    if p_docs:
        only_cur = _unmatched(curated.documents, p_docs)
        only_por = _unmatched(p_docs, curated.documents)
        if only_cur or only_por:
            add(
                "documents",
                [_doc_label(d) for d in only_cur],
                [_doc_label(d) for d in only_por],
                _join(d.note for d in p_docs if d in only_por),
                "medium",
            )
        if len(curated.documents) != len(p_docs):
            add("documents.count", str(len(curated.documents)), str(len(p_docs)), None, "low")

    # Legal basis
    c_num = {legal_number(lb.number): lb.number for lb in curated.legal_basis}
    p_num = {legal_number(lb.number): lb.number for lb in portal.legal_basis}
    if p_num and set(c_num) != set(p_num):
        add(
            "legal_basis",
            sorted(c_num[k] for k in set(c_num) - set(p_num)),
            sorted(p_num[k] for k in set(p_num) - set(c_num)),
            None,
            "low",
        )
    return diffs


@dataclass
class VerifyResult:
    differences: list[Difference]
    compared: list[str]  # curated codes found on the portal
    missing: list[str]  # curated codes not in the portal file
    portal_path: str
    today: dt.date


def verify(curated: list[Procedure], portal: dict[str, Procedure], today: dt.date, portal_path: str = "") -> VerifyResult:
    """Compare every curated procedure that has a portal record; the catalogue is only read."""
    diffs: list[Difference] = []
    compared, missing = [], []
    for proc in sorted(curated, key=lambda p: p.code):
        other = portal.get(proc.code)
        if other is None:
            missing.append(proc.code)
            continue
        compared.append(proc.code)
        diffs.extend(compare(proc, other, today))
    return VerifyResult(diffs, compared, missing, portal_path, today)


def summary(diffs: list[Difference]) -> dict[str, int]:
    """Number of differences per field kind (channel left out), most frequent first."""
    return dict(Counter(d.kind for d in diffs).most_common())


def _value(v: str | list[str] | None) -> str:
    if v is None or v == []:
        return "—"
    if isinstance(v, list):
        return "; ".join(v)
    return v


def format_report(result: VerifyResult) -> str:
    """Readable Vietnamese report, grouped per procedure."""
    lines = [
        "=== Đối chiếu danh mục biên soạn với dữ liệu Cổng DVC quốc gia ===",
        f"Tệp Cổng: {result.portal_path}",
        f"Ngày đối chiếu: {result.today:%d/%m/%Y}",
        f"Thủ tục đã đối chiếu: {len(result.compared)}; không có trên Cổng: {len(result.missing)}"
        + (f" ({', '.join(result.missing)})" if result.missing else ""),
        "",
    ]
    by_code: dict[str, list[Difference]] = {}
    for d in result.differences:
        by_code.setdefault(d.code, []).append(d)
    for code, diffs in by_code.items():
        lines.append(f"[{code}] {diffs[0].name} — {len(diffs)} khác biệt")
        for d in diffs:
            field = FIELD_LABELS.get(d.kind, d.kind)
            if "[" in d.field:
                channel = Channel(d.field.split("[", 1)[1].rstrip("]"))
                field += f" ({CHANNEL_NAMES[channel]})"
            lines.append(f"  - [{SEVERITY_LABELS[d.severity]}] {field}")
            if d.kind == "documents":
                for doc in d.curated or []:
                    lines.append(f"      chỉ có trong danh mục: {doc}")
                for doc in d.portal or []:
                    lines.append(f"      chỉ có trên Cổng:      {doc}")
            elif d.kind == "legal_basis":
                lines.append(f"      chỉ có trong danh mục: {_value(d.curated)}")
                lines.append(f"      chỉ có trên Cổng:      {_value(d.portal)}")
            else:
                lines.append(f"      danh mục: {_value(d.curated)}")
                lines.append(f"      Cổng:     {_value(d.portal)}")
            if d.portal_note:
                lines.append(f"      ghi chú trên Cổng: «{d.portal_note}»")
        lines.append("")
    counts = summary(result.differences)
    lines.append(
        f"Tổng cộng: {len(result.differences)} khác biệt ở {len(by_code)} thủ tục"
        + (" — " + ", ".join(f"{k}: {v}" for k, v in counts.items()) if counts else "")
    )
    lines.append("Danh mục không bị thay đổi; người rà soát sửa tệp YAML nếu Cổng và văn bản pháp luật xác nhận.")
    return "\n".join(lines)
