"""Numbers read the Vietnamese way, and read back: one place for every component.

Why one module: the phone gateway, the option parser ("số hai", "cái thứ ba") and the
portal parser ("200 nghìn") each had their own number words, and they drifted (a
hotline read as an amount, "DC02" read as "DChai").  Everything that turns figures
into words, or words into figures, lives here.  No third-party imports.

Reading rules (Northern usage, as a caller expects on the hotline):

* amounts: 200000 → "hai trăm nghìn", 1050 → "một nghìn không trăm năm mươi",
  21 → "hai mươi mốt", 15 → "mười lăm", 1.5 → "một phẩy năm";
* phone and hotline numbers digit by digit, grouped (1022 → "một không hai hai",
  0912345678 → "không chín một hai, ba bốn năm, sáu bảy tám");
* dates "31/12/2025" → "ngày ba mươi mốt tháng mười hai năm hai nghìn không trăm hai mươi lăm";
* form codes spelled letter by letter so that a caller can write them down
  (CT01 → "xê tê không một", TK1-TS → "tê ca một, gạch ngang, tê ét xì").
"""

from __future__ import annotations

import re

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ("", "nghìn", "triệu", "tỷ")

#: Spoken word → value, for parsing what a citizen says or types ("số hai", "thứ tư", "200 nghìn").
WORD_VALUES: dict[str, int] = {
    "không": 0, "một": 1, "nhất": 1, "hai": 2, "nhì": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "sáu": 6,
    "bảy": 7, "tám": 8, "chín": 9, "mười": 10,
}
#: Words that pick an option by its rank ("cái thứ hai", "số một", "cái đầu tiên"); the option parser's table.
ORDINAL_WORDS: dict[str, int] = {
    "một": 1, "nhất": 1, "đầu": 1, "đầu tiên": 1, "hai": 2, "nhì": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5,
}
#: Multipliers written after a figure ("200 nghìn", "1,5 triệu").
SCALE_VALUES: dict[str, int] = {"nghìn": 1_000, "ngàn": 1_000, "triệu": 1_000_000, "tỷ": 1_000_000_000}

#: Vietnamese names of Latin letters, as a caller spells them back.
LETTER_NAMES = {
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "Ê": "ê", "F": "ép",
    "G": "giê", "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "lờ", "M": "mờ", "N": "nờ", "O": "o", "Ô": "ô",
    "Ơ": "ơ", "P": "pê", "Q": "quy", "R": "rờ", "S": "ét xì", "T": "tê", "U": "u", "Ư": "ư", "V": "vê",
    "W": "vê kép", "X": "ích xì", "Y": "i dài", "Z": "dét",
}


def _triple(n: int, full: bool) -> list[str]:
    """0..999; ``full`` says "không trăm"/"linh" inside a larger number."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if hundreds or full:
                words.append("linh")
            words.append(DIGITS[units])
        return words
    words += ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if units == 1:
        words.append("mốt" if tens > 1 else "một")
    elif units == 4:
        words.append("tư" if tens > 1 else "bốn")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(DIGITS[units])
    return words


def number_words(n: int) -> str:
    """A whole number as words: 200000 → "hai trăm nghìn"."""
    if n < 0:
        return "âm " + number_words(-n)
    if n == 0:
        return "không"
    if n >= 10**12:
        return digit_words(str(n))
    groups: list[int] = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    words: list[str] = []
    top = len(groups) - 1
    for idx in range(top, -1, -1):
        if groups[idx]:
            words += _triple(groups[idx], full=idx < top)
            if _SCALES[idx]:
                words.append(_SCALES[idx])
    return " ".join(words)


def decimal_words(value: float | int | str) -> str:
    """1.5 → "một phẩy năm", 10 → "mười" (a decimal point is said "phẩy", never "chấm")."""
    text = value if isinstance(value, str) else f"{float(value):.6f}".rstrip("0").rstrip(".")
    whole, _, frac = text.replace(",", ".").partition(".")
    words = number_words(int(whole or 0))
    frac = frac.rstrip("0")
    if frac:
        words += " phẩy " + (number_words(int(frac)) if len(frac) <= 2 and frac[0] != "0" else digit_words(frac))
    return words


def digit_words(text: str) -> str:
    """Digits one at a time: "1022" → "một không hai hai" (other characters are skipped)."""
    return " ".join(DIGITS[int(c)] for c in text if c.isdigit())


def money_words(amount: float, currency: str = "VND") -> str:
    """200000 → "hai trăm nghìn đồng"; 1.5 USD → "một phẩy năm đô la Mỹ"."""
    if currency == "USD":
        return decimal_words(amount) + " đô la Mỹ"
    return number_words(int(round(amount))) + " đồng"


def phone_words(number: str) -> str:
    """A phone or hotline number digit by digit, grouped with commas (pauses) as people say it.

    +84912345678 and 0912345678 → "không chín một hai, ba bốn năm, sáu bảy tám";
    1022 → "một không hai hai"; 02473000000 → "không hai bốn, bảy ba không không, không không không không".
    """
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("+84"):
        digits = "0" + digits[2:]
    if len(digits) <= 6:
        return digit_words(digits)
    if len(digits) == 10:
        groups = [digits[:4], digits[4:7], digits[7:]]
    elif len(digits) == 11:
        groups = [digits[:3], digits[3:7], digits[7:]]
    else:
        groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return ", ".join(digit_words(g) for g in groups)


_MONTHS = {1: "một", 4: "tư"}


def date_words(day: int, month: int, year: int | None = None) -> str:
    """31, 12, 2025 → "ngày ba mươi mốt tháng mười hai năm hai nghìn không trăm hai mươi lăm"."""
    text = f"ngày {number_words(day)} tháng {_MONTHS.get(month, number_words(month))}"
    return text + (f" năm {number_words(year)}" if year is not None else "")


def time_words(hour: int, minute: int = 0) -> str:
    """7, 30 → "bảy giờ ba mươi"; 17, 0 → "mười bảy giờ"."""
    return f"{number_words(hour)} giờ" + (f" {number_words(minute)}" if minute else "")


def spell_code(code: str) -> str:
    """A form or document code spelled so that it can be written down: "DC02" → "dê xê không hai"."""
    parts: list[str] = []
    for ch in code.strip():
        up = ch.upper()
        if ch.isdigit():
            parts.append(DIGITS[int(ch)])
        elif up in LETTER_NAMES:
            parts.append(LETTER_NAMES[up])
        elif ch in "-–":
            parts.append(", gạch ngang,")
        elif ch == "/":
            parts.append(", gạch chéo,")
        elif ch == ".":
            parts.append("chấm")
    return re.sub(r"\s+,", ",", " ".join(parts)).strip(" ,")


#: Acronyms said in full on the phone (a caller does not know "HĐND" spelled out).
ACRONYMS = {
    "HĐND": "Hội đồng nhân dân", "UBND": "Ủy ban nhân dân", "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân", "BHXH": "bảo hiểm xã hội", "BHYT": "bảo hiểm y tế", "GPLX": "giấy phép lái xe",
    "VNeID": "vê nờ e ai đi", "TTHC": "thủ tục hành chính", "ĐKKD": "đăng ký kinh doanh", "MST": "mã số thuế",
    "GCN": "giấy chứng nhận", "CA": "Công an", "QSDĐ": "quyền sử dụng đất", "THCS": "trung học cơ sở", "THPT": "trung học phổ thông",
}
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10, "XI": 11, "XII": 12}


def word_value(word: str) -> int | None:
    """The value of one spoken number word ("hai" → 2, "tư" → 4), or None."""
    return WORD_VALUES.get(word.strip().lower())


# ---------------------------------------------------------------- free text

_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:gov|com|net|org)\.vn\S*|\b[\w-]+\.(?:vn|com)\b", re.IGNORECASE)
_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{4}))?(?![\d/])")
_TIME = re.compile(r"(?<!\d)([01]?\d|2[0-3])[hg:](?:([0-5]\d))?(?!\w)")
_PHONE = re.compile(r"(?<![\d.,])(?:\+84|0)(?:[ .-]?\d){8,10}(?![\d])")
_HOTLINE_WORD = re.compile(r"(đường dây nóng|tổng đài|hotline|số điện thoại|gọi số|gọi)\s+(\d{3,5})(?!\d|[ .-]\d)", re.IGNORECASE)
_MONEY = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+|\d+(?:[.,]\d+)?)\s*(đồng|đ|vnđ|vnd|usd|đô la|\$)(?![\w])", re.IGNORECASE
)
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s*%")
_RANGE = re.compile(r"(\d)\s*[–-]\s*(\d)")
_ACRONYM = re.compile(r"(?<!\w)(" + "|".join(sorted(map(re.escape, ACRONYMS), key=len, reverse=True)) + r")(?!\w)")
_ROMAN_AFTER = re.compile(r"\b(cấp|loại|nhóm|hạng|phụ lục|chương|mục|phần|khu vực)\s+(" + "|".join(
    sorted(_ROMAN, key=len, reverse=True)) + r")\b", re.IGNORECASE)
# A form code in running text: CT01, DC02, TK1-TS, ĐKX10, 03/BĐS-TNCN, 14-HSB.
_FORM = re.compile(r"(?<![\w/])(?=[\w/-]*[A-ZĐ])(?=[\w/-]*\d)[A-ZĐ0-9]+(?:[/-][A-ZĐ0-9]+)*[a-z]?(?![\w/])")
_CAPS = re.compile(r"(?<!\w)[A-ZĐ]{2,}(?!\w)")
_NUMBER = re.compile(r"(?<![\w])(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?(?![\w])")


def _amount(text: str) -> float:
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):
        return float(text.replace(".", ""))
    return float(text.replace(",", "."))


def _money(m: re.Match[str]) -> str:
    unit = m.group(2).lower()
    usd = unit in ("usd", "đô la", "$")
    return money_words(_amount(m.group(1)), "USD" if usd else "VND")


def _number(m: re.Match[str]) -> str:
    whole = int(m.group(1).replace(".", ""))
    return number_words(whole) + (f" phẩy {digit_words(m.group(2))}" if m.group(2) else "")


def speak_text(text: str) -> str:
    """Free text (a note, a name, a short prompt) with every figure as words and no links.

    Order matters: links go first, then the shapes that are not amounts (dates, times,
    phone numbers), then money, percentages, ranges and plain numbers.
    """
    text = _URL.sub("", text)
    text = _ACRONYM.sub(lambda m: ACRONYMS[m.group(1)], text)
    text = _ROMAN_AFTER.sub(lambda m: f"{m.group(1)} {number_words(_ROMAN[m.group(2).upper()])}", text)
    text = _FORM.sub(lambda m: spell_code(m.group(0)), text)
    text = _HOTLINE_WORD.sub(lambda m: f"{m.group(1)} {phone_words(m.group(2))}", text)
    text = _PHONE.sub(lambda m: phone_words(m.group(0)), text)
    text = _RANGE.sub(r"\1 đến \2", re.sub(r"(\d[hg]\d{0,2})\s*[–-]\s*(?=\d)", r"\1 đến ", text))
    text = _DATE.sub(lambda m: date_words(int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else None)
                     if 1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12 else m.group(0), text)
    text = _TIME.sub(lambda m: time_words(int(m.group(1)), int(m.group(2) or 0)), text)
    text = _MONEY.sub(_money, text)
    text = re.sub(r"(?<!\w)(\d+)\s*[x×]\s*(\d+)(?=\s*(?:cm|mm)?(?!\w))", r"\1 nhân \2", text)  # ảnh 4x6
    text = re.sub(r"(?<=\d)\s*(cm|mm)\b", lambda m: {"cm": " xăng ti mét", "mm": " mi li mét"}[m.group(1)], text)
    text = _PERCENT.sub(lambda m: decimal_words(m.group(1)) + " phần trăm", text)
    text = _NUMBER.sub(_number, text)
    text = _CAPS.sub(lambda m: spell_code(m.group(0)), text)  # any other acronym, letter by letter
    text = re.sub(r"(đồng|đô la Mỹ|phần trăm|nghìn|triệu)\s*/\s*(?=\w)", r"\1 mỗi ", text)  # "đồng/lần"
    text = re.sub(r"(?<=\w)\s*/\s*(?=\w)", " hoặc ", text)  # "Cổng Dịch vụ công/VNeID"
    text = re.sub(r"\s*[–—]\s*|\s+-\s+", ", ", text)
    return re.sub(r"\s+", " ", text).strip()


__all__ = [
    "ACRONYMS", "DIGITS", "LETTER_NAMES", "ORDINAL_WORDS", "SCALE_VALUES", "WORD_VALUES", "date_words", "decimal_words", "digit_words",
    "money_words", "number_words", "phone_words", "speak_text", "spell_code", "time_words", "word_value",
]
