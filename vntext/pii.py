"""Mask a citizen's personal data before text reaches a log or the conversation records.

Why here: every log line and every analytics row that carries what a citizen said or
typed (phone transcripts, caller numbers, chat messages) must hide phone numbers,
CCCD/CMND numbers, e-mail addresses and street addresses, and one function keeps the
channels, the logs and the analytics consistent.  No third-party imports: the Rasa server
(its event broker records turns), the action server and the voice gateway all use it.

What is masked (the last digits of numbers stay, so an operator can still tell two callers apart):

* phone numbers: 0912345678, 0912 345 678, 0912.345.678, 091-234-5678, +84912345678,
  +84 91 234 5678, (+84) 912345678, 84912345678, landlines 024 7300 0000, 02473000000;
* CCCD (12 digits) and CMND (9 digits), with or without spaces in groups of 3;
* e-mail addresses (the domain is kept: it says "gmail", not who);
* street addresses, with or without diacritics, replaced by ``[địa chỉ]``: a house number
  before a street ("123/4 đường Lê Lợi", "số 12 ngõ 34 phố Huế"), a numbered alley
  ("ngõ 34", "hẻm 12"), a hamlet or residential group ("thôn Đông", "xóm 3", "ấp Tân Phú",
  "tổ dân phố 5"), together with the ward, commune, district and province that follow
  ("…, phường 5, quận 3").  A ward or district alone ("nộp ở phường 5 quận 3") is where
  a citizen asks about, not where they live, and stays readable for the analytics.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_EMAIL = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", re.UNICODE)
# +84 / 84 / 0 then 8-10 more digits, in groups separated by space, dot or dash.
_PHONE = re.compile(r"(?<![\w+])(?:\+84|84|0)(?:[\s.-]?\d){8,10}(?!\d)")
# +84 with a separator or in brackets ("+84 912 345 678", "(+84) 912345678"): before the CCCD/CMND
# pass, which would otherwise take "912 345 678" for a CMND and leave "+84" behind.
_INTL = re.compile(r"(?<![\w+])\(?\+84\)?(?:[\s.-]*\d){9,10}(?!\d)")
# 12-digit CCCD or 9-digit CMND, optionally grouped by three.
_ID = re.compile(r"(?<![\w])(?:\d{3}[\s.]?){2}\d{3}(?:[\s.]?\d{3})?(?![\w])")

ADDRESS_MASK = "[địa chỉ]"
# A house or alley number ("12", "12A", "123/4", "12/3B"), a word, or one punctuation mark.
_TOKEN = re.compile(r"\d+[^\W\d_]?(?:/\d+[^\W\d_]?)*|[^\W\d_]+|[^\w\s]")

# Keywords, accent-folded and lower-cased (diacritics optional in chat), as word sequences.
_HOUSE = (("so", "nha"), ("so",), ("sn",))
_ALLEY = (("ngo",), ("ngach",), ("hem",), ("kiet",))
_STREET = (*_ALLEY, ("duong",), ("pho",))
_HAMLET = (("to", "dan", "pho"), ("khu", "pho"), ("thon",), ("xom",), ("ap",), ("ban",), ("khom",), ("kp",), ("to",))
_ADMIN = (("thi", "tran"), ("thi", "xa"), ("thanh", "pho"), ("phuong",), ("xa",), ("quan",), ("huyen",), ("tinh",),
          ("tp",), ("p",), ("q",))
_ANY_PART = (*_STREET, *_HAMLET, *_ADMIN)
# Keywords that fold to a common word ("áp dụng", "bản sao", "tổ chức", "xa quá"): typed with other
# diacritics they are not the keyword, typed without any they need a number or a capitalised
# name after them ("ap Tan Phu", "to 5").
_AMBIGUOUS = {("ap",): "ấp", ("ban",): "bản", ("xa",): "xã", ("to",): "tổ", ("pho",): "phố", ("so",): "số",
              ("quan",): "quận", ("khom",): "khóm"}
_NEEDS_NUMBER = {("to",), ("kp",)}
# Words that end a lower-case place name ("phố huế thì làm…"): the question goes on after them.
_STOP = set(
    "thi co can lam o nop muon di de ma nhe a ah khong ko k duoc dc va nen hoi xin cho toi em minh anh chi ban "
    "het bao nhieu gi nao dau the la cua hay voi tai den ve roi oi vay sao nay do kia giay thu tuc cap dang ky "
    "moi va nhung".split()
)
_MAX_LOWER_NAME = 3  # words of a lower-case place name
_MAX_NAME = 5  # words of a capitalised place name


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").replace("đ", "d")


@dataclass(frozen=True)
class _Tok:
    raw: str
    key: str  # folded
    start: int
    end: int

    @property
    def is_num(self) -> bool:
        return self.raw[0].isdigit()

    @property
    def is_word(self) -> bool:
        return self.raw[0].isalpha()

    @property
    def is_cap(self) -> bool:
        return self.raw[0].isupper()


@dataclass(frozen=True)
class _Kw:
    words: tuple[str, ...]
    end: int  # token index after the keyword
    weak: bool  # typed without diacritics but may be a common word: needs a number or a capitalised name


def _keyword(toks: list[_Tok], i: int, table: tuple[tuple[str, ...], ...]) -> _Kw | None:
    """The keyword of ``table`` starting at token ``i`` (an abbreviation's dot skipped)."""
    for kw in table:  # longer sequences come first in each table
        n = len(kw)
        if i + n <= len(toks) and tuple(t.key for t in toks[i:i + n]) == kw:
            weak = kw in _NEEDS_NUMBER
            if kw in _AMBIGUOUS:
                raw = toks[i].raw.lower()
                if raw not in {kw[0], _AMBIGUOUS[kw]}:
                    continue
                weak = weak or raw == kw[0]
            j = i + n
            if j < len(toks) and toks[j].raw == "." and len(kw[0]) <= 2:  # "P.5", "Q.3", "TP.HCM"
                j += 1
            return _Kw(kw, j, weak)
    return None


def _name(toks: list[_Tok], i: int, kw: _Kw | None = None) -> int:
    """Index after the place name or number starting at ``i`` (``i`` itself when there is none)."""
    if i >= len(toks):
        return i
    t = toks[i]
    if t.is_num:
        return i + 1
    if not t.is_word or _keyword(toks, i, _ANY_PART) or kw is not None and kw.words in _NEEDS_NUMBER:
        return i
    if t.is_cap:
        j = i
        while j < len(toks) and j - i < _MAX_NAME and toks[j].is_cap:
            if j > i and _keyword(toks, j, _ANY_PART):
                break
            j += 1
        return j
    if kw is not None and (kw.weak or kw.words == ("ban",)):
        return i
    j = i
    while (j < len(toks) and j - i < _MAX_LOWER_NAME and toks[j].is_word and toks[j].key not in _STOP
           and not _keyword(toks, j, _ANY_PART)):
        j += 1
    return j


def _chain(toks: list[_Tok], i: int) -> int:
    """Extend an address over the parts that follow (", phường 5, quận 3"); index after its last token."""
    end = i
    while True:
        j = end
        while j < len(toks) and toks[j].raw in {",", "-"}:
            j += 1
        kw = _keyword(toks, j, _ANY_PART)
        if kw is None:
            return end
        # within an address a keyword typed without diacritics is the keyword ("…, pho hue")
        after = _name(toks, kw.end, _Kw(kw.words, kw.end, weak=False))
        if after == kw.end:
            return end
        end = after


def _anchor(toks: list[_Tok], i: int) -> int | None:
    """Index after the first part of an address starting at token ``i``, or None when none starts there."""
    house = _keyword(toks, i, _HOUSE)
    j = house.end if house else i
    if j < len(toks) and toks[j].is_num:  # "123/4 đường …", "số 12 ngõ 34 …", "số nhà 5"
        k = j + 1
        while k < len(toks) and toks[k].raw == ",":
            k += 1
        street = _keyword(toks, k, _STREET)
        if street:
            after = _name(toks, street.end, street)
            return after if after > street.end else None
        if house and k < len(toks) and toks[k].is_word and toks[k].is_cap and not _keyword(toks, k, _ANY_PART):
            return _name(toks, k)  # "số 12 Lê Lợi"
        if house and house.words != ("so",):
            return j + 1  # "số nhà 5"
        return None
    alley = _keyword(toks, i, _ALLEY)
    if alley and alley.end < len(toks) and toks[alley.end].is_num:  # "ngõ 34", "hẻm 12/5 Nguyễn Trãi"
        k = alley.end + 1
        return _name(toks, k) if k < len(toks) and toks[k].is_cap else k
    hamlet = _keyword(toks, i, _HAMLET)
    if hamlet:
        after = _name(toks, hamlet.end, hamlet)
        return after if after > hamlet.end else None
    return None


def _mask_addresses(s: str) -> str:
    toks = [_Tok(m.group(0), _fold(m.group(0)), m.start(), m.end()) for m in _TOKEN.finditer(s)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        first = _anchor(toks, i)
        if first is None:
            i += 1
            continue
        last = _chain(toks, first)
        spans.append((toks[i].start, toks[last - 1].end))
        i = last
    for start, end in reversed(spans):
        s = s[:start] + ADDRESS_MASK + s[end:]
    return s


def _keep_tail(match: re.Match[str], tail: int = 2) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*" * (len(digits) - tail) + digits[-tail:]


def mask_pii(text: object) -> str:
    """``text`` with phone numbers, CCCD/CMND numbers, e-mail and street addresses masked.

    >>> mask_pii("sđt 0912 345 678, cccd 001099012345, mail an.nguyen@gmail.com")
    'sđt ********78, cccd **********45, mail ***@gmail.com'
    >>> mask_pii("nhà ở 123/4 đường Lê Lợi, phường 5, quận 3 thì nộp ở đâu")
    'nhà ở [địa chỉ] thì nộp ở đâu'
    """
    s = unicodedata.normalize("NFC", str(text))
    s = _EMAIL.sub(lambda m: "***@" + m.group(1), s)
    s = _INTL.sub(_keep_tail, s)
    s = _ID.sub(_keep_tail, s)  # before phones: "001 099 012 345" is one CCCD, not a phone and a rest
    s = _PHONE.sub(_keep_tail, s)
    return _mask_addresses(s)


__all__ = ["ADDRESS_MASK", "mask_pii"]
