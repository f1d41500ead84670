"""Recover structure from the national portal's flattened procedure fields.

The portal (dichvucong.gov.vn) shows channels, documents and legal bases as
HTML tables.  Its export glues every cell together without a separator, so
"Trực tiếp" + "5 Ngày làm việc" + "Lệ phí : 200.000 Đồng" arrive as one
string.  The functions here undo that using the few things the portal always
does the same way: fixed header rows, fixed channel labels, a number-plus-unit
duration cell, a fee cell in one of a handful of shapes, a "N bản chính" count
at the end of every document row and a document number ending every legal
basis row.

Every function is pure: it reads a string and returns schema objects.  When a
cell cannot be read with confidence the function does not invent a value; it
keeps the raw text (in a ``note`` or as ``FeeKind.UNKNOWN``) and appends a
:class:`ParseIssue` to the optional ``issues`` list so the importer can show
an administrator exactly which record and field need a human.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from knowledge_base.schema import (
    Channel,
    Currency,
    Document,
    Duration,
    DurationUnit,
    Fee,
    FeeKind,
    LegalBasis,
    SubmissionChannel,
)
from vntext.numbers import SCALE_VALUES

__all__ = [
    "ParseIssue",
    "clean_text",
    "is_no_info",
    "parse_amount",
    "parse_audience",
    "parse_channels",
    "parse_conditions",
    "parse_documents",
    "parse_duration",
    "parse_fee",
    "parse_legal_basis",
    "parse_levels",
    "parse_result",
    "parse_steps",
    "split_fee_cell",
]


@dataclass(frozen=True)
class ParseIssue:
    """One thing a parser could not read with confidence.

    ``field`` names the portal field (with a sub-part such as
    ``cach_thuc_thuc_hien[2].phi``), ``code`` is a stable English tag an
    admin tool can group on, ``message`` is the Vietnamese explanation and
    ``raw`` a short excerpt of the source text, so the report can be acted
    on without opening the export.
    """

    field: str
    code: str
    message: str
    raw: str | None = None


Issues = list[ParseIssue] | None


def _report(issues: Issues, field: str, code: str, message: str, raw: str | None = None) -> None:
    """Append an issue when the caller collects them (parsers stay usable alone)."""
    if issues is not None:
        issues.append(ParseIssue(field, code, message, _excerpt(raw) if raw is not None else None))


def _excerpt(text: str, limit: int = 160) -> str:
    """Shorten raw source text so a report stays readable."""
    text = clean_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------
# Character classes.  Python's ``re`` has no \p{Lu}; Vietnamese capitals live
# in Latin-1, Latin Extended-A/B and Latin Extended Additional, so the classes
# are built once from ``str.isupper``/``islower`` over those ranges.
# --------------------------------------------------------------------------
def _char_class(pred: Callable[[str], bool]) -> str:
    chars = [chr(c) for c in range(0x41, 0x250) if pred(chr(c))]
    chars += [chr(c) for c in range(0x1E00, 0x1F00) if pred(chr(c))]
    return "".join(re.escape(c) for c in chars)


_UP = _char_class(lambda c: c.isalpha() and c.isupper())
_LO = _char_class(lambda c: c.isalpha() and c.islower())

_NO_INFO_RE = re.compile(
    r"(?:không có thông tin|không có|không|không quy định|chưa quy định|--|-|\.)\.?",
    re.IGNORECASE,
)


def clean_text(text: str | None) -> str:
    """Collapse whitespace and trim: the export mixes tabs, NBSPs and doubled spaces."""
    if not text:
        return ""
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def is_no_info(text: str | None) -> bool:
    """True for the portal's ways of saying "nothing here" ("Không có thông tin", "Không"...).

    Such a cell is *empty*, not a parse failure, and must not produce a warning.
    """
    t = clean_text(text)
    return not t or _NO_INFO_RE.fullmatch(t) is not None


# --------------------------------------------------------------------------
# Amounts and fees
# --------------------------------------------------------------------------
_NUM = r"\d+(?:[.,]\d+)*"
_VND = r"Việt Nam Đồng|VNĐ|VND|vnđ|vnd|đồng|Đồng|ĐỒNG|đ|Đ"
_USD = r"USD|usd|đô la Mỹ|Đô la Mỹ"
_MULT = "|".join(SCALE_VALUES)  # "triệu|nghìn|ngàn|tỷ": the multiplier words live in vntext.numbers
# "200.000 Đồng", "15000000/lần Đồng", "1,5 triệu đồng", "25 USD", "100.000đ/lần"
_AMOUNT_RE = re.compile(
    rf"(?P<num>{_NUM})\s*(?:(?P<mult>{_MULT})\s*)?(?P<per>/\s*[^\s()]{{1,20}}\s*)?"
    rf"(?P<cur>{_VND}|{_USD})(?![{_LO}{_UP}])"
)


def parse_amount(text: str) -> float | None:
    """Read "200.000", "2,000,000", "1,5", "0.5" or "15000000" as a number.

    Vietnamese sources use both '.' and ',' as thousand separators (and as
    decimal marks), so the rule is positional: a separator followed by exactly
    three digits, in every group, is a thousand separator; a single separator
    followed by one or two digits is a decimal mark.  Anything else is
    ambiguous and yields None instead of a guess.
    """
    t = text.strip()
    if re.fullmatch(r"\d+", t):
        return float(t)
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", t) or re.fullmatch(r"\d{1,3}(?:,\d{3})+", t):
        return float(re.sub(r"[.,]", "", t))
    m = re.fullmatch(r"(\d+)[.,](\d{1,2})", t)
    if m:
        return float(f"{m.group(1)}.{m.group(2)}")
    # "1.234,5" / "1,234.5": thousands with a decimal tail.
    m = re.fullmatch(r"(\d{1,3}(?:\.\d{3})+),(\d{1,2})", t) or re.fullmatch(r"(\d{1,3}(?:,\d{3})+)\.(\d{1,2})", t)
    if m:
        return float(re.sub(r"[.,]", "", m.group(1)) + "." + m.group(2))
    return None


def _currency(cur: str) -> Currency:
    return Currency.USD if re.fullmatch(_USD, cur) else Currency.VND


def _money(m: re.Match[str]) -> tuple[float, Currency] | None:
    """Amount and currency of an ``_AMOUNT_RE`` match, or None when the number is ambiguous."""
    value = parse_amount(m.group("num"))
    if value is None:
        return None
    value *= SCALE_VALUES.get((m.group("mult") or "").lower(), 1)
    return value, _currency(m.group("cur"))


# A VND fee below this is not a real fee: the portal's cell then holds a
# figure in thousands or a USD amount typed into the VND column (both seen in
# the national sample: "20 VNĐ" next to "(20.000 đồng/tờ khai)", "145 VNĐ"
# next to "145 USD").  Publishing it would mislead, so it is reported.
_MIN_PLAUSIBLE_VND = 1_000

_PROVINCIAL_RE = re.compile(
    r"HĐND|Hội đồng nhân dân|hội đồng nhân dân|UBND (?:cấp )?tỉnh|Ủy ban nhân dân (?:cấp )?tỉnh"
    r"|Uỷ ban nhân dân (?:cấp )?tỉnh|ủy ban nhân dân (?:cấp )?tỉnh|uỷ ban nhân dân (?:cấp )?tỉnh",
)
_FREE_RE = re.compile(
    r"miễn phí|miễn lệ phí|miễn thu|không thu (?:lệ )?phí|không thu|không mất phí"
    r"|không phải nộp (?:lệ )?phí|không phải trả phí",
    re.IGNORECASE,
)
# A "Miễn phí" cell whose note only restates that there is nothing to pay.
_FREE_NOTE_RE = re.compile(
    r"(?:không|không có|không có thông tin|không quy định|chưa quy định|không thu(?: lệ)? phí"
    r"|miễn phí|miễn lệ phí|không thu phí, lệ phí|không thu phí và lệ phí)[ .;]*",
    re.IGNORECASE,
)
_RANGE_RE = re.compile(
    rf"(?:từ\s+)?(?P<lo>{_NUM})\s*(?:(?P<lomult>{_MULT})\s*)?(?:(?:{_VND}|{_USD})\s*)?"
    rf"(?:đến|tới|-|–)\s*(?P<hi>{_NUM})\s*(?:(?P<himult>{_MULT})\s*)?(?P<cur>{_VND}|{_USD})"
    rf"(?![{_LO}{_UP}])",
    re.IGNORECASE,
)


def _scaled(num: str, mult: str | None) -> float | None:
    value = parse_amount(num)
    if value is None:
        return None
    return value * SCALE_VALUES.get((mult or "").lower(), 1)


def _clauses(text: str) -> list[str]:
    """Split free fee text into clauses: one fee per clause is the norm in the sources."""
    parts = re.split(r"\s*(?:;|\n|\s\+\s|(?:^|\s)-\s|\.\s+(?=[" + _UP + r"]))\s*", text)
    return [p.strip(" .;,") for p in parts if p and p.strip(" .;,")]


def _fee_from_clause(clause: str) -> Fee | None:
    """Read one clause of free text; None when it holds no fee statement."""
    if _PROVINCIAL_RE.search(clause):
        rng = _RANGE_RE.search(clause)
        lo = hi = None
        if rng:
            lo, hi = _scaled(rng["lo"], rng["lomult"]), _scaled(rng["hi"], rng["himult"])
        return Fee(kind=FeeKind.PROVINCIAL, min_amount=lo, max_amount=hi, note=clause)
    rng = _RANGE_RE.search(clause)
    if rng:
        lo, hi = _scaled(rng["lo"], rng["lomult"]), _scaled(rng["hi"], rng["himult"])
        if lo is not None and hi is not None and lo <= hi:
            return Fee(
                kind=FeeKind.RANGE,
                min_amount=lo,
                max_amount=hi,
                currency=_currency(rng["cur"]),
                note=clause,
            )
    m = _AMOUNT_RE.search(clause)
    if m:
        money = _money(m)
        if money is not None:
            return Fee(kind=FeeKind.FIXED, amount=money[0], currency=money[1], note=clause)
    if _FREE_RE.search(clause):
        return Fee(kind=FeeKind.FREE, note=None if _FREE_NOTE_RE.fullmatch(clause) else clause)
    return None


def _implausible(fee: Fee) -> bool:
    return (
        fee.kind == FeeKind.FIXED
        and fee.currency == Currency.VND
        and fee.amount is not None
        and 0 < fee.amount < _MIN_PLAUSIBLE_VND
    )


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the ')' closing the '(' at ``start``; None if it never closes."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


# The portal's structured fee item: "2,000,000 Việt Nam Đồng", "70,000 VNĐ",
# "10 USD", or the older "Lệ phí : 200.000 Đồng" / "Phí : 15000000/lần Đồng".
_FEE_ITEM_RE = re.compile(
    rf"(?:(?P<label>(?:Lệ phí|Phí|Giá dịch vụ|Lệ Phí)[^:()]{{0,60}}?)\s*:\s*)?"
    rf"(?P<num>{_NUM})\s*(?:(?P<mult>{_MULT})\s*)?(?P<per>/\s*[^\s()]{{1,20}}\s*)?"
    rf"(?P<cur>Việt Nam Đồng|VNĐ|VND|Đồng|đồng|USD)"
    rf"(?P<per2>\s*/\s*[^\s();,.]+(?:\s[{_LO}][^\s();,.]*){{0,2}})?"
)
_FREE_HEAD_RE = re.compile(r"Miễn phí|Không thu phí|Không thu lệ phí|Miễn lệ phí")
_NO_INFO_HEAD = "Không có thông tin"


def split_fee_cell(text: str) -> tuple[str, str] | None:
    """Split "<fee cell><description>" at the end of the fee cell.

    The portal renders a fee cell as "Miễn phí", "Không có thông tin" or one
    or more "<amount> <currency>" items, each optionally followed by a
    parenthesised note.  Parentheses are matched, because notes nest
    ("(Phí : Đồng (Từ ngày ...))").  Returns (fee_cell, rest) or None when
    the text does not start with a fee cell.
    """
    t = text.lstrip()
    pos = 0
    m = _FREE_HEAD_RE.match(t)
    if m:
        pos = m.end()
        return _with_note(t, pos)
    if t.startswith(_NO_INFO_HEAD):
        return t[: len(_NO_INFO_HEAD)], t[len(_NO_INFO_HEAD) :]
    found = False
    while True:
        m = _FEE_ITEM_RE.match(t, pos)
        if not m:
            break
        found = True
        cell, rest = _with_note(t, m.end())
        pos = len(cell)
        # Several items may follow each other ("... Đồng(...)  Phí: ...").
        gap = re.match(r"[\s;,]*", t[pos:])
        nxt = pos + (gap.end() if gap else 0)
        if not _FEE_ITEM_RE.match(t, nxt):
            break
        pos = nxt
    if not found:
        return None
    return t[:pos], t[pos:]


def _with_note(t: str, pos: int) -> tuple[str, str]:
    """Extend a fee cell over a directly following "(...)" note."""
    gap = re.match(r"[ \t]*\(", t[pos:])
    if gap:
        pos += gap.end() - 1
        end = _balanced_end(t, pos)
        pos = len(t) if end is None else end
    return t[:pos], t[pos:]


def parse_fee(text: str | None, issues: Issues = None, field: str = "phi") -> list[Fee]:
    """Turn a fee cell or a free fee sentence into typed fees.

    Why so careful: a wrong fee is the costliest error the assistant can make.
    Handled shapes: the portal's "<amount> <currency>(note)" items, "Lệ phí :
    200.000 Đồng", "Phí : 25 USD", "Miễn phí", "Không thu phí", ranges ("từ
    50.000 đến 100.000 đồng"), fees set by the provincial council ("theo quy
    định của HĐND tỉnh" -> ``PROVINCIAL``) and several fees in one cell.

    "Không có thông tin" or an empty cell gives ``[]`` (nothing known, no
    warning).  Anything that cannot be read becomes one ``FeeKind.UNKNOWN``
    fee carrying the raw text, and a :class:`ParseIssue` is recorded.  Two
    portal habits are also reported instead of trusted: a "Miễn phí" cell whose
    note cites fee rules or amounts (the portal's default when nobody filled
    the amount in), and VND amounts under 1.000 đồng (figures in thousands or
    USD typed as VND).
    """
    raw = clean_text(text)
    if is_no_info(raw):
        return []
    fees: list[Fee] = []

    head = _FREE_HEAD_RE.match(raw)
    if head and (head.end() == len(raw) or raw[head.end() :].lstrip().startswith("(")):
        note = raw[head.end() :].strip()
        if note.startswith("("):
            note = note[1:-1].strip() if note.endswith(")") else note[1:].strip()
        if not note or _FREE_NOTE_RE.fullmatch(note) or len(note) < 3:
            # The note only restates "free" or is a stray letter ("a", "ii").
            return [Fee(kind=FeeKind.FREE)]
        if _PROVINCIAL_RE.search(note):
            return [Fee(kind=FeeKind.PROVINCIAL, note=note)]
        _report(
            issues,
            field,
            "fee_free_contradicted",
            "Ô phí ghi 'Miễn phí' nhưng ghi chú dẫn mức thu hoặc văn bản về phí; không khẳng định là miễn phí.",
            raw,
        )
        return [Fee(kind=FeeKind.UNKNOWN, note=raw)]

    pos = 0
    while True:
        m = _FEE_ITEM_RE.match(raw, pos)
        if not m:
            break
        value = parse_amount(m["num"])
        end = m.end()
        per = re.sub(r"\s*/\s*", "/", clean_text((m["per"] or "") + (m["per2"] or "")))
        if per:  # "15000000/lần Đồng" -> "(đồng/lần)"
            per = f"({'USD' if _currency(m['cur']) == Currency.USD else 'đồng'}{per})"
        note_parts = [p for p in (m["label"], per) if p]
        gap = re.match(r" *\(", raw[end:])
        if gap:
            end += gap.end() - 1
            close = _balanced_end(raw, end)
            inner_end = (close - 1) if close else len(raw)
            note_parts.append(raw[end + 1 : inner_end].strip())
            end = close or len(raw)
        note = clean_text(" ".join(note_parts)) or None
        if value is None:
            _report(issues, field, "fee_amount_unreadable", "Không đọc được số tiền.", m.group(0))
            fees.append(Fee(kind=FeeKind.UNKNOWN, note=raw))
        else:
            value *= SCALE_VALUES.get((m["mult"] or "").lower(), 1)
            fee = Fee(kind=FeeKind.FIXED, amount=value, currency=_currency(m["cur"]), note=note)
            if value == 0:
                fee = Fee(kind=FeeKind.FREE, note=note)
            if _implausible(fee):
                _report(
                    issues,
                    field,
                    "fee_implausible_amount",
                    f"Số tiền {value:g} đồng quá nhỏ (nghi ghi theo nghìn đồng hoặc nhầm USD); "
                    "giữ nguyên văn, không công bố con số.",
                    raw,
                )
                fee = Fee(kind=FeeKind.UNKNOWN, note=raw)
            fees.append(fee)
        gap = re.match(r"[\s;,]*", raw[end:])
        pos = end + (gap.end() if gap else 0)
    rest = raw[pos:].strip(" ;,.")
    if fees and not rest:
        return fees
    found_before = len(fees)
    for clause in _clauses(rest):
        fee = _fee_from_clause(clause)
        if fee is None:
            continue
        if _implausible(fee):
            _report(
                issues,
                field,
                "fee_implausible_amount",
                "Số tiền dưới 1.000 đồng, nghi sai đơn vị; giữ nguyên văn.",
                clause,
            )
            fee = Fee(kind=FeeKind.UNKNOWN, note=clause)
        fees.append(fee)
    if not fees:
        _report(issues, field, "fee_unparsed", "Không đọc được mức phí; giữ nguyên văn.", raw)
        fees.append(Fee(kind=FeeKind.UNKNOWN, note=raw))
    elif found_before and len(fees) == found_before:
        _report(
            issues,
            field,
            "fee_trailing_text",
            "Còn phần chữ sau các mức phí không đọc được.",
            rest,
        )
    return fees


# --------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------
_UNITS: dict[str, tuple[DurationUnit, float]] = {
    "ngày làm việc": (DurationUnit.NGAY_LAM_VIEC, 1),
    "ngày": (DurationUnit.NGAY, 1),
    "giờ": (DurationUnit.GIO, 1),
    "giờ làm việc": (DurationUnit.GIO, 1),
    "tháng": (DurationUnit.THANG, 1),
    # Not in the schema: converted exactly and said so in the note.
    "tuần": (DurationUnit.NGAY, 7),
    "năm": (DurationUnit.THANG, 12),
    "phút": (DurationUnit.GIO, 1 / 60),
}
_UNIT_RE = r"ngày làm việc|giờ làm việc|ngày|giờ|tháng|tuần|năm|phút"
_DUR_NUM = r"\d+(?:[.,]\d+)?"
_DURATION_RE = re.compile(
    rf"(?:(?:trong vòng|trong thời hạn|trong|không quá|tối đa|từ)\s+)?"
    rf"(?P<v>{_DUR_NUM})\s*(?:\([^)]*\)\s*)?"
    rf"(?:(?:đến|tới|-|–)\s*(?P<hi>{_DUR_NUM})\s*(?:\([^)]*\)\s*)?)?"
    rf"(?P<unit>{_UNIT_RE})(?![{_LO}])",
    re.IGNORECASE,
)
_SAME_DAY_RE = re.compile(rf"(?:trả kết quả\s+)?trong (?:ngày làm việc|ngày)(?![{_LO}])", re.I)


def _dur_value(text: str) -> float:
    return float(text.replace(",", "."))


def parse_duration(text: str | None, issues: Issues = None, field: str = "thoi_gian") -> Duration | None:
    """Read a processing time such as "5 Ngày làm việc", "Trong ngày", "0.5 Ngày làm việc" or "10 - 15 ngày".

    Why: the citizen asks "bao lâu thì có kết quả?", and the answer depends
    on the unit as much as the number (5 working days is a week).  The
    duration must start the text; trailing words ("kể từ ngày nhận đủ hồ
    sơ") are kept in ``note``.  "Không có thông tin" gives None silently;
    a bare number without a unit, or text that holds no duration, gives None
    and a :class:`ParseIssue`, because the unit cannot be assumed.
    """
    raw = clean_text(text)
    if is_no_info(raw):
        return None
    same = _SAME_DAY_RE.match(raw)
    if same:
        return Duration(unit=DurationUnit.TRONG_NGAY, note=raw[same.end() :].strip(" .,;") or None)
    m = _DURATION_RE.match(raw)
    if m:
        unit, factor = _UNITS[m["unit"].lower()]
        value = _dur_value(m["v"]) * factor
        hi = _dur_value(m["hi"]) * factor if m["hi"] else None
        notes = []
        if factor != 1:
            notes.append(f"quy đổi từ '{m.group(0).strip()}'")
        tail = raw[m.end() :].strip(" .,;")
        if tail:
            notes.append(tail)
        if hi is not None and hi < value:
            _report(issues, field, "duration_bad_range", "Khoảng thời gian ngược (cận trên nhỏ hơn).", raw)
            return None
        return Duration(
            value=round(value, 4),
            max_value=round(hi, 4) if hi is not None else None,
            unit=unit,
            note="; ".join(notes) or None,
        )
    if re.fullmatch(_DUR_NUM, raw):
        _report(
            issues,
            field,
            "duration_no_unit",
            f"Thời hạn '{raw}' không có đơn vị (ngày/ngày làm việc/giờ); không suy đoán.",
            raw,
        )
        return None
    _report(issues, field, "duration_unparsed", "Không đọc được thời hạn giải quyết.", raw)
    return None


# --------------------------------------------------------------------------
# Submission channels
# --------------------------------------------------------------------------
_CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
_CHANNEL_LABELS = {
    "Trực tiếp": Channel.TRUC_TIEP,
    "Trực tuyến": Channel.TRUC_TUYEN,
    "Dịch vụ bưu chính": Channel.BUU_CHINH,
}
# A label starts a table row only when the next cell is glued to it: the
# duration cell always begins with a digit or a capital ("Không có thông tin").
# The same words inside a description are followed by a space, ':' or '('.
_ROW_RE = re.compile(rf"(Trực tiếp|Trực tuyến|Dịch vụ bưu chính)(?=[0-9{_UP}])")
_DURATION_CELL_RE = re.compile(
    rf"(?P<v>{_DUR_NUM})\s*(?:(?:-|–|đến)\s*(?P<hi>{_DUR_NUM})\s*)?"
    r"(?P<unit>Ngày làm việc|Ngày|Giờ|Tháng|Tuần|Năm|Phút)",
)
_VALID_AMOUNT = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d*")


def _split_glued_number(digits: str) -> list[tuple[str, str]]:
    """Ways to cut "120" (unit-less duration glued to "20 VNĐ") into duration + amount.

    Only cuts that leave a well-formed amount (no leading zero, 3-digit
    groups) are kept; the caller refuses to choose when more than one
    remains.
    """
    out = []
    for k in range(1, min(3, len(digits))):
        head, tail = digits[:k], digits[k:]
        if head.isdigit() and _VALID_AMOUNT.fullmatch(tail):
            out.append((head, tail))
    return out


def _duration_cell(seg: str) -> tuple[str, str, bool]:
    """Cut the duration cell off a channel row: (duration_text, rest, ambiguous).

    The portal always fills this cell, with a number and unit, a bare number,
    "Không có thông tin" or a short sentence; it ends where the fee cell
    begins.
    """
    m = _DURATION_CELL_RE.match(seg)
    if m:
        return m.group(0), seg[m.end() :], False
    if seg.startswith(_NO_INFO_HEAD):
        return _NO_INFO_HEAD, seg[len(_NO_INFO_HEAD) :], False
    m = re.match(r"\d+(?:\.\d+)?", seg)
    if m:
        rest = seg[m.end() :]
        if not rest or split_fee_cell(rest) is not None and not rest[:1].isdigit():
            return m.group(0), rest, False
        # Digits run on into an amount: "120 VNĐ" is "1" + "20 VNĐ".
        g = re.match(rf"(\d[\d,]*)\s?(?:{_VND}|{_USD})", seg)
        if g:
            cuts = _split_glued_number(g.group(1))
            if len(cuts) == 1:
                head = cuts[0][0]
                return head, seg[len(head) :], False
            return g.group(1), seg[len(g.group(1)) :], True
        return m.group(0), rest, False
    # Free text ("Không phải trả kết quả ...") up to the first fee cell.
    for i in range(1, len(seg)):
        if seg[i - 1] != " " and split_fee_cell(seg[i:]) is not None and seg[i] in "MKLP0123456789":
            if seg[i].isdigit() and seg[i - 1].isdigit():
                continue
            return seg[:i], seg[i:], False
    return seg, "", False


def parse_channels(text: str | None, issues: Issues = None, field: str = "cach_thuc_thuc_hien") -> list[SubmissionChannel]:
    """Rebuild the channel table (channel, duration, fees, description) from its flattened text.

    Why: whether a procedure can be done online, how long it takes and what
    it costs are the first three things a citizen asks.  The text is split
    at channel labels that start a row (see ``_ROW_RE``), then each row is
    cut into duration cell, fee cell and description.  A channel may appear
    in several rows (one per case); all rows are kept, in source order.  A
    unit-less or unreadable duration keeps its raw text in the channel note;
    fee problems are handled by :func:`parse_fee`.
    """
    raw = (text or "").strip()
    if is_no_info(raw):
        return []
    body = raw[len(_CHANNEL_HEADER) :] if raw.startswith(_CHANNEL_HEADER) else raw
    rows = list(_ROW_RE.finditer(body))
    if not rows:
        _report(issues, field, "channels_not_found", "Không tìm thấy hình thức nộp nào.", raw)
        return []
    if body[: rows[0].start()].strip():
        _report(
            issues,
            field,
            "channels_leading_text",
            "Có phần chữ trước hình thức nộp đầu tiên; đã bỏ qua.",
            body[: rows[0].start()],
        )
    channels: list[SubmissionChannel] = []
    for i, row in enumerate(rows):
        end = rows[i + 1].start() if i + 1 < len(rows) else len(body)
        seg = body[row.end() : end]
        sub = f"{field}[{i}]"
        dur_text, rest, ambiguous = _duration_cell(seg)
        notes: list[str] = []
        if ambiguous:
            _report(
                issues,
                f"{sub}.thoi_gian",
                "duration_fee_glued",
                f"Thời hạn và số tiền dính liền ('{dur_text}'), có nhiều cách tách; không suy đoán.",
                seg,
            )
            duration = None
            notes.append(f"Thời hạn/phí gốc: {dur_text}")
        else:
            duration = parse_duration(dur_text, issues, f"{sub}.thoi_gian")
            if duration is None and not is_no_info(dur_text):
                notes.append(f"Thời hạn gốc: {clean_text(dur_text)}")
        split = split_fee_cell(rest)
        if ambiguous:
            fee_text, desc = split if split else (rest, "")
            fees = [Fee(kind=FeeKind.UNKNOWN, note=clean_text(dur_text + fee_text))]
        elif split is None:
            if rest.strip():
                _report(
                    issues,
                    f"{sub}.phi",
                    "fee_cell_not_found",
                    "Không xác định được ô phí, lệ phí trong dòng này.",
                    rest,
                )
                fees = [Fee(kind=FeeKind.UNKNOWN, note=_excerpt(rest, 500))]
            else:
                fees = []
            desc = ""
        else:
            fee_text, desc = split
            fees = parse_fee(fee_text, issues, f"{sub}.phi")
        desc = clean_text(desc)
        if desc:
            notes.append(desc)
        channels.append(
            SubmissionChannel(
                channel=_CHANNEL_LABELS[row.group(1)],
                duration=duration,
                fees=fees,
                note="\n".join(notes) or None,
            )
        )
    return channels


# --------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------
_DOC_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
# The quantity column: "1 bản chính", "0 bản chính,1 bản sao".  It is glued
# to the next row (no space, '.', ';' ... after it), which tells it apart from
# "01 bản chính;" written inside a document name.  Counts are single digits
# in every portal row seen; a digit glued before it belongs to the name
# ("Nghị định 116" + "1 bản chính").  A name that itself ends in "01 bản
# chính" is followed directly by the real cell; see ``_quantity_cells``.
_QTY_RE = re.compile(r"(?<!\()(\d) bản (chính|sao)((?:,\d bản (?:chính|sao))*)(?![\s.;:,)])")


def _quantity_cells(chunk: str) -> list[re.Match[str]]:
    """Quantity cells of one table, dropping matches that sit inside the following row's name.

    When two matches touch ("...: 01 bản chính" + "1 bản chính"), only the
    second is the cell; the first is the end of the document name.
    """
    found = list(_QTY_RE.finditer(chunk))
    return [m for i, m in enumerate(found) if i + 1 == len(found) or found[i + 1].start() != m.end()]


_FILE_EXT = r"\.(?:docx|doc|pdf|xlsx|xls|odt|rtf|zip|rar)"
_FILE_RE = re.compile(rf"{_FILE_EXT}(?=\s*$)", re.IGNORECASE)
_FILE_KEYWORD_RE = re.compile(r"(?:Mẫu|Mau|MẪU|MAU|mẫu|mau|Phụ lục|PHỤ LỤC|Phu luc|Phụ Lục|PL|Biểu mẫu|Tờ khai|To khai)")
_TEMPLATE_CODE_RE = re.compile(
    r"(?:Mẫu|Mau|MẪU|MAU|mẫu|mau|Mu)\s*(?:số|so|SỐ|SO|s)?\s*[:.]?\s*"
    r"(?P<code>(?:[A-ZĐ]{1,8}[-.\s]?){0,3}\d{1,3}[a-zA-Z]?(?![a-zà-ỹ])"
    r"(?:[-/.][A-ZĐ0-9]+(?![a-zà-ỹ]))*(?:\([A-Z]+\))?)"
)


def _template_code(text: str) -> str | None:
    """Form code from a file or document name: "Mau CT01.docx" -> "CT01", "Mẫu TP-TSCC-10" -> "TP-TSCC-10".

    Purely numeric codes ("Mẫu số 05") are returned only with their prefix
    ("Mẫu số 05") because a bare "05" means nothing without the regulation.
    """
    for m in _TEMPLATE_CODE_RE.finditer(text):
        code = m["code"].strip(" .-")
        code = re.sub(r"\s+", "", code) if re.match(r"[A-Z]{1,6}\s\d", code) else code
        if re.search(r"[A-Za-z" + _UP + r"]", code):
            return code
        return f"Mẫu số {code}"
    return None


def _split_file_names(row: str) -> tuple[str, list[str]]:
    """Separate the template file name(s) glued to the end of a document name.

    The "Mẫu đơn, tờ khai" column holds file names such as "Mau CT01.docx"
    (sometimes several, glued together).  Where the first one starts is not
    marked, so the start is taken at the last glued template keyword ("Mẫu",
    "Mau", "Phụ lục" directly after a letter or punctuation), else after the
    last ';', ')' or '.' glued to the next character, else at a
    lower-to-upper case change.  If none is found the name is left whole.
    """
    files: list[str] = []
    text = row
    while True:
        m = _FILE_RE.search(text)
        if not m:
            break
        stem_end = m.start()
        start = _file_start(text, stem_end)
        if start is None:
            break
        files.insert(0, text[start : m.end()].strip())
        text = text[:start]
        if not re.search(rf"{_FILE_EXT}\s*$", text, re.IGNORECASE):
            break
    return text, files


def _file_start(text: str, stem_end: int) -> int | None:
    prev_ext = None
    for m in re.finditer(_FILE_EXT, text[:stem_end], re.IGNORECASE):
        prev_ext = m.end()
    lo = prev_ext or 0
    if prev_ext is not None and prev_ext > 0:
        return prev_ext  # files glued one after another: "A.docxB.docx"
    window = text[lo:stem_end]
    best = None
    for m in _FILE_KEYWORD_RE.finditer(window):
        p = m.start()
        if p > 0 and not (window[p - 1].isspace() or window[p - 1] == "("):
            best = p
            break
    if best is None:
        for m in re.finditer(r"[;).](?=\S)", window):
            if m.group(0) == "." and m.start() > 0 and window[m.start() - 1].isdigit():
                continue
            best = m.end()
        if best is not None and best >= len(window) - 1:
            best = None
    if best is None:  # "quy định1.2. Don de nghi.doc": a number glued to a word starts the file
        m = re.search(rf"(?<=[{_LO}])(?=\d)", window)
        best = m.start() if m else None
    if best is None:
        for m in re.finditer(rf"(?<=[{_LO}0-9])(?=[{_UP}])", window):
            best = m.start()
    if not best:
        return None  # a row always has a name, so a file cannot start it
    return lo + best


def _copies(spec: str) -> tuple[int | None, str | None, str | None]:
    """(copies, copy_type, note) from "1 bản chính,1 bản sao"."""
    counts = {t: int(n) for n, t in re.findall(r"(\d) bản (chính|sao)", spec)}
    orig, copy = counts.get("chính", 0), counts.get("sao", 0)
    if orig and copy:
        if orig == copy:
            return orig, "bản chính và bản sao", f"Số lượng trên Cổng: {orig} bản chính, {copy} bản sao"
        return None, "bản chính và bản sao", f"Số lượng trên Cổng: {orig} bản chính, {copy} bản sao"
    if orig:
        return orig, "bản chính", None
    if copy:
        return copy, "bản sao", None
    return 0, None, "Cổng ghi số lượng 0: có thể là dòng hướng dẫn, không phải giấy tờ phải nộp"


def _clean_name(text: str) -> str:
    name = clean_text(text)
    name = re.sub(r"^(?:[-+*•]+\s*)+", "", name)
    return name.strip(" ;,")


def parse_documents(text: str | None, issues: Issues = None, field: str = "thanh_phan_ho_so") -> list[Document]:
    """Rebuild the dossier list: name, copies, copy type and form code.

    Why: "mang theo giấy tờ gì?" is the question that saves a second trip.
    The field holds one or more tables, each introduced by a group title
    ("--" when there is none; otherwise e.g. "Trường hợp ..." or "* Giấy tờ
    phải xuất trình:") and the header row.  Every row ends with the quantity
    cell, which is how rows are found.  The group title is kept in each
    document's ``note`` so case-specific documents stay distinguishable.
    Rows with quantity 0 are kept (the portal uses them for guidance lines)
    and say so in their note; a group title ending in ':' inside the rows
    ("- Giấy tờ phải nộp:" with quantity 0) prefixes the notes of the
    documents that follow it.
    """
    raw = (text or "").strip()
    if is_no_info(raw):
        return []
    if _DOC_HEADER not in raw:
        _report(issues, field, "documents_table_not_found", "Không thấy bảng thành phần hồ sơ.", raw)
        return []
    chunks = raw.split(_DOC_HEADER)
    title = clean_text(chunks[0])
    docs: list[Document] = []
    for gi, chunk in enumerate(chunks[1:], start=1):
        group = None if title in ("", "--", "-") else title.rstrip(":").strip()
        sub_group: str | None = None
        pos = 0
        rows = _quantity_cells(chunk)
        if not rows and chunk.strip():
            _report(
                issues,
                field,
                "documents_no_quantity",
                f"Nhóm hồ sơ {gi}: không thấy cột số lượng; không tách được giấy tờ.",
                chunk,
            )
            title = ""
            continue
        for m in rows:
            row_text = chunk[pos : m.start()]
            pos = m.end()
            name_part, files = _split_file_names(row_text)
            name = _clean_name(name_part)
            copies, copy_type, qty_note = _copies(m.group(0))
            if not name:
                _report(issues, field, "document_without_name", "Dòng hồ sơ không có tên giấy tờ.", m.group(0))
                continue
            if copies == 0 and not files and name.endswith(":"):
                sub_group = name.rstrip(":").strip()
                continue
            template = None
            for f in files:
                template = _template_code(re.sub(_FILE_EXT + "$", "", f, flags=re.I))
                if template:
                    break
            if template is None:
                template = _template_code(name)
            notes = [n for n in (group, sub_group, qty_note) if n]
            if files:
                notes.append("Tệp mẫu trên Cổng: " + ", ".join(files))
            docs.append(
                Document(
                    name=name,
                    copies=copies,
                    copy_type=copy_type,
                    template=template,
                    note="\n".join(notes) or None,
                )
            )
        title = clean_text(chunk[pos:])  # text after the last row titles the next group
    if title and title not in ("--", "-") and len(chunks) > 1:
        _report(issues, field, "documents_trailing_text", "Phần chữ cuối bảng hồ sơ không thuộc dòng nào.", title)
    return docs


# --------------------------------------------------------------------------
# Legal basis
# --------------------------------------------------------------------------
_LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
# "68/2013/TT-BCA", "02/2011/QH13", "05/2024/UBTVQH15", "66.16/2026/NQ-CP",
# "20/2013/TTLT-BYT-BCT-BNNPTNT", "105/2025/NĐ- CP", "1234/QĐ-TTg".
# The issuer part must not swallow the capital that starts the next title
# ("TT-BTPLuật"), hence the lookahead against a following lowercase letter;
# legislature numbers take exactly two digits ("QH11" + "65/2006/...").
_ISSUER = r"[A-ZĐ](?:[A-ZĐ]|(?<=TT)g|\s?-\s?(?=[A-ZĐ]))*(?:(?<=QH)\d{2}|(?<=[A-ZĐg])(?![a-zđ" + _LO + r"]))"
# An all-capital title glued to the previous number ("NĐ-CPLUẬT QUỐC TỊCH")
# would be read as part of the issuer code; such titles start with one of
# these words, so a space is put in front of them first.
_CAPS_TITLE_RE = re.compile(
    r"(?:(?<=[A-ZĐ0-9])|(?<=TTg))(?=(?:BỘ LUẬT|LUẬT|NGHỊ ĐỊNH|NGHỊ QUYẾT|THÔNG TƯ|QUYẾT ĐỊNH|PHÁP LỆNH"
    r"|SỬA ĐỔI|QUY ĐỊNH|HƯỚNG DẪN)\b)"
)
# The number cell sometimes repeats the document type ("Luật" + "60/2014/QH13"),
# which then sticks to the end of the previous title: "Luật Hộ tịchLuật".
_GLUED_TYPE_RE = re.compile(rf"(?<=[{_LO}.;)])(?:Luật|Thông tư|Nghị định|Nghị quyết|Quyết định|Pháp lệnh)(?:\s+số)?\s*:?\s*$")
_LEGAL_NUM_RE = re.compile(rf"(?:(?<!\d)|(?<=QH\d\d))(?P<run>\d+)(?P<tail>(?:\.\d{{1,3}})?/(?:\d{{4}}/)?{_ISSUER})")


def _legal_number(m: re.Match[str], body: str) -> tuple[int, str, bool]:
    """(start, number, certain) for a document-number match.

    The number is glued to the title before it, so a title ending in a year
    ("Luật Khiếu nại năm 2011" + "02/2011/QH13") arrives as the digit run
    "201102".  A run that starts a word with a 19xx/20xx year and is longer
    than four digits is cut after the year.  Other runs longer than four
    digits are cut to their last four digits and flagged as uncertain.
    """
    run, start = m["run"], m.start()
    certain = True
    if len(run) > 4:
        word_start = start == 0 or not body[start - 1].isalnum()
        if word_start and re.match(r"(?:19|20)\d\d", run) and len(run) - 4 <= 4:
            cut = 4
        else:
            cut, certain = len(run) - 4, False
        run, start = run[cut:], start + cut
    number = re.sub(r"\s*-\s*", "-", run + m["tail"]).strip()
    return start, number, certain


def _is_row_end(text: str, end: int) -> bool:
    """A document number ends a table row when the next title is glued to it or starts fresh."""
    nxt = text[end:]
    if not nxt.strip():
        return True
    if not nxt[0].isspace():
        return nxt[0] not in ".,;:)" and not (nxt[0] == "-" and nxt[1:2].isalpha())
    after = nxt.lstrip()
    return bool(re.match(rf"[{_UP}0-9]", after)) and not re.match(r"(?:ngày|của|về)\b", after)


def parse_legal_basis(text: str | None, issues: Issues = None, field: str = "can_cu_phap_ly") -> list[LegalBasis]:
    """Split the flattened "title + number" pairs of the legal-basis table.

    Why: answers cite the law so a citizen (or official) can check them.
    A row ends with its document number ("68/2013/TT-BCA", "02/2011/QH13"),
    so the text is cut after each number that is directly followed by the
    next title.  A title may itself contain a number ("Nghị định
    05/2012/NĐ-CP" + "05/2012/NĐ-CP"), and a row whose title would be empty
    is merged into the next one, so such rows come out whole.  Text left
    without a number is reported.
    """
    raw = (text or "").strip()
    if is_no_info(raw):
        return []
    if raw.startswith(_LEGAL_HEADER):
        body = raw[len(_LEGAL_HEADER) :]
    else:
        _report(issues, field, "legal_header_missing", "Thiếu dòng tiêu đề bảng căn cứ pháp lý.", raw)
        body = raw
    body = _CAPS_TITLE_RE.sub(" ", body)
    out: list[LegalBasis] = []
    start = 0
    found = list(_LEGAL_NUM_RE.finditer(body))
    for i, m in enumerate(found):
        if not _is_row_end(body, m.end()):
            continue
        num_start, number, certain = _legal_number(m, body)
        if i + 1 < len(found) and found[i + 1].start() == m.end():
            _, nxt, _ = _legal_number(found[i + 1], body)
            if nxt == number:
                continue  # "Nghị định 05/2012/NĐ-CP" + "05/2012/NĐ-CP": this one is in the title
        title = clean_text(_GLUED_TYPE_RE.sub("", body[start:num_start]))
        if not title:
            continue  # the number is itself the title: wait for the number cell
        if not certain:
            _report(
                issues,
                field,
                "legal_number_boundary",
                f"Số hiệu dính liền chữ số của tên văn bản; tách thành '{number}' nhưng không chắc chắn.",
                title[-60:] + number,
            )
        out.append(LegalBasis(number=number, title=title))
        start = m.end()
    tail = clean_text(body[start:])
    if tail:
        _report(issues, field, "legal_without_number", "Có văn bản không tách được số hiệu; bỏ qua.", tail)
    return out


# --------------------------------------------------------------------------
# Steps, levels, audience, conditions, result
# --------------------------------------------------------------------------
_STEP_MARKERS = (
    re.compile(r"(?m)^[\s\-–+*•]*Bước\s*\d+\s*[:.)\-–]?"),
    re.compile(r"(?m)^\s*[a-zđ]\)\s"),
    re.compile(r"(?m)^\s*\d{1,2}[.)]\s"),
)


def parse_steps(text: str | None, issues: Issues = None, field: str = "trinh_tu_thuc_hien") -> list[str]:
    """Split the procedure's sequence into steps.

    Why: the assistant walks a citizen through one step at a time.  The
    first marker style present at least twice at line starts wins ("Bước
    1:", then "a)", then "1."); each step keeps its sub-lines.  Without
    markers, each non-empty line is a step.
    """
    raw = (text or "").replace("\r\n", "\n").replace("\xa0", " ").strip()
    if is_no_info(raw):
        return []
    for marker in _STEP_MARKERS:
        starts = [m.start() for m in marker.finditer(raw)]
        if len(starts) >= 2:
            pieces = []
            if raw[: starts[0]].strip():
                pieces.append(raw[: starts[0]])
            pieces += [raw[s:e] for s, e in zip(starts, starts[1:] + [len(raw)], strict=True)]
            return [_tidy_block(p) for p in pieces if _tidy_block(p)]
    return [clean_text(line) for line in raw.split("\n") if clean_text(line)]


def _tidy_block(text: str) -> str:
    """Keep line breaks inside a step (its sub-items) but drop blank lines and padding."""
    lines = [clean_text(line) for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def _split_top_level_commas(text: str) -> list[str]:
    """Split on commas outside parentheses: "Tổ chức (không bao gồm doanh nghiệp, HTX)" is one item."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [clean_text(x) for x in out if clean_text(x)]


def parse_levels(text: str | None) -> list[str]:
    """Levels from ``cap_thuc_hien`` ("Cấp bộ, Cấp tỉnh"), order kept, duplicates dropped.

    Why: the level decides where the citizen goes (commune, province or
    ministry) and feeds the citizen-priority heuristic.
    """
    seen: list[str] = []
    for item in _split_top_level_commas(text or ""):
        if not is_no_info(item) and item not in seen:
            seen.append(item)
    return seen


def parse_audience(text: str | None) -> list[str]:
    """Audience groups from ``doi_tuong_thuc_hien``.

    Why: "Công dân Việt Nam" vs "Doanh nghiệp" decides whether the bot
    should offer the procedure to a private person at all.  Commas inside
    parentheses are kept ("Tổ chức (không bao gồm doanh nghiệp, HTX)"), and
    a piece starting in lower case continues the previous group ("Cán bộ,
    công chức, viên chức" is one group), since every group name is
    capitalised.
    """
    out: list[str] = []
    for item in _split_top_level_commas(text or ""):
        if is_no_info(item):
            continue
        if out and item[:1].islower():
            out[-1] = f"{out[-1]}, {item}"
        else:
            out.append(item)
    return list(dict.fromkeys(out))


def parse_conditions(text: str | None) -> list[str]:
    """Conditions from ``yeu_cau_dieu_kien``: one item per line, bullets stripped; empty when "Không".

    Why: conditions are read out as a checklist, so each needs to stand alone.
    """
    raw = (text or "").replace("\xa0", " ").strip()
    if is_no_info(raw):
        return []
    items = [re.sub(r"^[\s\-–+*•]+", "", line).strip() for line in raw.split("\n")]
    return [clean_text(i) for i in items if clean_text(i)]


_RESULT_TAIL = re.compile(r"Từ khóa.*\Z", re.DOTALL)
_RESULT_CODE = re.compile(rf"^(?:[A-Za-z0-9_.\-]*\d|[a-z]+(?![{_LO}])|[A-Z]{{2,}}(?![{_LO}]))")


def parse_result(text: str | None) -> str | None:
    """Result documents from ``ket_qua_xu_ly``, without the portal's page furniture.

    Why: the field carries result codes ("Mã: KQ.G01.00262") and trailing
    page text ("Từ khóa... Nộp hồ sơ") that mean nothing to a citizen.
    Several results are joined with "; ".
    """
    raw = (text or "").strip()
    if is_no_info(raw):
        return None
    raw = _RESULT_TAIL.sub("", raw)
    pieces = re.split(r"Mã:\s*", raw)
    # Each "Mã:" is followed by a result code glued to the next result's
    # name: "KQ.G01.00262", "000.00.00.G11-KQ1711", "VBTT", or junk typed by
    # hand ("utw").  Codes end in a digit or are one run of letters.
    parts = [pieces[0]] + [_RESULT_CODE.sub("", p, count=1) for p in pieces[1:]]
    items = [clean_text(p).strip(" ;") for p in parts if clean_text(p).strip(" ;")]
    items = [i for i in items if not is_no_info(i)]
    return "; ".join(items) or None
