"""One place for Vietnamese text normalisation.

Citizens type in NFC or NFD (some keyboards send decomposed Unicode), with or
without diacritics, and with chat abbreviations ("ko", "dc", "mk", "ntn").
Models trained on NFC text misread NFD input, and catalogue text is written
with full diacritics, so every component runs user text through these
functions before anything else.
"""

from __future__ import annotations

import re
import unicodedata

# Chat abbreviations → full forms.  Keys are accent-folded lower case tokens
# so that "đc" and "dc" share one entry.  Only abbreviations that are not
# also common words are expanded ("k" alone is "không"; "j" is "gì").
ABBREVIATIONS: dict[str, str] = {
    "ko": "không",
    "k": "không",
    "kh": "không",
    "khg": "không",
    "hok": "không",
    "hong": "không",
    "dc": "được",
    "duoc": "được",
    "mk": "mình",
    "mik": "mình",
    "ntn": "như thế nào",
    "bn": "bao nhiêu",
    "bnh": "bao nhiêu",
    "j": "gì",
    "gj": "gì",
    "vs": "với",
    "r": "rồi",
    "ns": "nói",
    "cx": "cũng",
    "ck": "chồng",
    "vk": "vợ",
    "a": "anh",
    "e": "em",
    "cmnd": "chứng minh nhân dân",
    "cccd": "căn cước công dân",
    "gplx": "giấy phép lái xe",
    "bhxh": "bảo hiểm xã hội",
    "bhyt": "bảo hiểm y tế",
    "mst": "mã số thuế",
    "ubnd": "ủy ban nhân dân",
    "sdd": "sử dụng đất",
    "qsdd": "quyền sử dụng đất",
    "gcn": "giấy chứng nhận",
    "dkkd": "đăng ký kinh doanh",
    "dk": "đăng ký",
    "hs": "hồ sơ",
    "tt": "thủ tục",
    "tthc": "thủ tục hành chính",
}

# Abbreviations written with diacritics: "đc" is "được", "đk" is "đăng ký", but a token like
# "é" or "à" is a real word and must not be expanded.
_ACCENTED_OK = {"dc", "dk"}

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")

# Old-style tone placement ("hoà", "uỷ") vs the catalogue's ("hòa", "ủy").
# Only open syllables differ, so the rule applies at the end of a syllable.
_TONE_MOVES = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}
_TONE_RE = re.compile("(" + "|".join(_TONE_MOVES) + r")\b")

# Old-style "i" for the catalogue's "y" in whole syllables ("đăng kí" = "đăng ký", "lí lịch" =
# "lý lịch", "quí" = "quý").  Only k-, l- and qu- syllables: "mì", "tí", "sĩ" are other words.
_I_TO_Y = {f"{c}{i}": f"{c}{y}" for c in ("k", "l", "qu") for i, y in zip("iíìỉĩị", "yýỳỷỹỵ", strict=True)}
_I_TO_Y_RE = re.compile(r"(?<!\w)(" + "|".join(_I_TO_Y) + r")(?!\w)")


# "BHXH 1 lần": the catalogue spells the count out ("một lần"), citizens type the digit
_ONE_TIME_RE = re.compile(r"(?<!\w)1 (lần|lan)(?!\w)")


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC with collapsed whitespace."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def fold_accents(text: str) -> str:
    """Strip Vietnamese diacritics: "Đăng ký khai sinh" → "dang ky khai sinh".

    Lower-cases too, because folded text is only ever used for matching.
    """
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped.replace("đ", "d"))


def unify_tone_placement(text: str) -> str:
    """Write open syllables the catalogue's way: "hoà" → "hòa", "thuỷ" → "thủy", "kí" → "ký"."""
    text = _TONE_RE.sub(lambda m: _TONE_MOVES[m.group(1)], text)
    return _I_TO_Y_RE.sub(lambda m: _I_TO_Y[m.group(1)], text)


def expand_abbreviations(text: str) -> str:
    """Replace chat abbreviations ("ko", "dc", "ntn") by their full words.

    Works token by token on NFC text and keeps everything else untouched.
    """

    def repl(match: re.Match[str]) -> str:
        token = match.group()
        key = fold_accents(token)
        bare = token.lower() == key  # typed without diacritics
        if key in ABBREVIATIONS and (bare or key in _ACCENTED_OK):
            return ABBREVIATIONS[key]
        return token

    return _TOKEN_RE.sub(repl, nfc(text))


def normalize_query(text: str) -> str:
    """NFC, lower case, unified tone placement and expanded abbreviations.

    This is what every component feeds to its model.  Diacritics are kept
    (accent folding loses information); callers fold separately when they
    need a diacritic-insensitive key.
    """
    text = unify_tone_placement(expand_abbreviations(nfc(text).lower()))
    return _ONE_TIME_RE.sub(lambda m: ("một " if m.group(1) == "lần" else "mot ") + m.group(1), text)


def syllables(text: str, fold: bool = True) -> list[str]:
    """Split text into lower-case syllables, accent-folded unless ``fold`` is false."""
    norm = normalize_query(text)
    if fold:
        norm = fold_accents(norm)
    return _TOKEN_RE.findall(norm)
