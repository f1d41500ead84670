"""What a message asks about (the aspect) and what is left that could name a procedure.

Phrase senses are handled explicitly, because word-by-word matching gets them
wrong: "mất bao lâu" / "mất mấy ngày" ask for the duration (not "bị mất", lost),
"hết bao nhiêu" / "mất bao nhiêu tiền" ask for the fee (not "hết hạn", expired).

Diacritics are evidence.  When the citizen typed them, phrases are matched in
their accented form, so "còn lệ phí" (and the fee) is never "con" (a child);
folded matching is only for text typed without diacritics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.features import strip_question_words
from vntext import fold_accents, nfc, normalize_query, syllables

# Longest phrases first within each aspect; the first aspect whose phrase occurs wins,
# in this order (fee before duration: "mất bao nhiêu tiền" is a fee, "mất bao lâu" a duration;
# where before online: in "kích hoạt VNeID làm ở đâu" VNeID is the procedure, "ở đâu" the question).
ASPECT_PHRASES: dict[str, list[str]] = {
    "fee": [
        "mất bao nhiêu tiền", "hết bao nhiêu tiền", "tốn bao nhiêu tiền", "đóng bao nhiêu tiền", "trả bao nhiêu tiền",
        "bao nhiêu tiền", "hết bao nhiêu", "đóng bao nhiêu", "trả bao nhiêu",
        "tốn bao nhiêu", "mất phí", "lệ phí", "phí", "chi phí", "tốn tiền", "mất tiền", "nộp tiền", "giá",
    ],
    "duration": [
        # "bao lâu MỘT LẦN" asks how often: "một lần" is no "bảo hiểm xã hội một lần" there
        "bao lâu một lần", "bao lâu 1 lần", "mất bao nhiêu lâu", "mất bao lâu", "mất mấy ngày", "mất bao nhiêu ngày", "bao nhiêu lâu", "bao nhiêu ngày", "bao lâu", "mấy ngày",
        "thời gian giải quyết", "thời hạn", "thời gian", "bao giờ có", "khi nào có", "bao giờ thì có",
        "lâu không", "mất mấy hôm", "mất mấy tuần", "mất mấy tháng", "mấy hôm", "mấy tuần", "mấy tháng",
        "lấy trong ngày", "lấy liền", "lấy ngay", "có liền", "trong ngày",
    ],
    "where": [
        "nộp ở đâu", "làm ở đâu", "ở đâu", "nộp đâu", "làm đâu", "chỗ nào", "nơi nào", "cơ quan nào", "nơi nộp",
        "đi đâu", "ở chỗ nào", "ra đâu", "lên đâu",
    ],
    "online": [
        "nộp online", "làm online", "online", "trực tuyến", "qua mạng", "trên mạng", "dịch vụ công", "vneid",
    ],
    "documents": [
        "cần những giấy tờ gì", "cần giấy tờ gì", "giấy tờ gì", "những giấy tờ", "giấy tờ", "hồ sơ gồm", "hồ sơ",
        "cần mang gì", "mang theo gì", "cần mang", "cần chuẩn bị", "chuẩn bị gì", "cần gì", "cần những gì",
        "thành phần",
    ],
    "steps": [
        "các bước", "quy trình", "trình tự", "làm như thế nào", "như thế nào", "làm thế nào", "thế nào",
        "cách làm", "làm sao",
    ],
    "legal_basis": ["căn cứ pháp lý", "căn cứ", "văn bản nào", "luật nào", "quy định nào", "nghị định", "thông tư"],
}

# Words that carry no procedure of their own in a follow-up ("còn … thì sao?").
# Accented forms are used when the citizen typed diacritics.
FILLERS_ACCENTED = (
    "còn thì sao vậy nhỉ ạ à nhé nữa thế hả hở ơi luôn với được không có cho hỏi mình tôi em anh chị "
    "bạn ad thế vậy thì như nào sao rồi đó này kia cái của ấy"
).split()


def _phrase_re(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")


_ACCENTED = {a: [(p, _phrase_re(p)) for p in ps] for a, ps in ASPECT_PHRASES.items()}
# Phrases too ambiguous without their diacritics: folded "gia" is "gia đình", "gia hạn" as often as "giá".
ACCENTED_ONLY = frozenset({"giá"})
_FOLDED = {a: [(p, _phrase_re(fold_accents(p))) for p in ps if p not in ACCENTED_ONLY] for a, ps in ASPECT_PHRASES.items()}
# Folded words that never name a procedure, in any spelling ("nộp" alone is no procedure).
_FOLDED_FILLERS = frozenset(
    "nop sao vay nua nhe nhi duoc hoi di xin voi luon roi xong giai quyet tren lam ton phai chi ha".split()
)
_FILLER_RE = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, FILLERS_ACCENTED)) + r")(?!\w)")


# "nộp Ở UBND xã được không", "làm Ở PHƯỜNG khác được không", "đăng ký Ở XÃ bên chồng hay bên vợ": a
# place after "ở"/"tại" (up to two words later) asks where, though no "ở đâu" is said.  Only "ở"/"tại" is
# taken out; the place stays for the search.  Folded "chỗ" is "cho" (give), so it counts only accented.
_PLACES_ACCENTED = r"phường|xã|quận|huyện|tỉnh|thành phố|ủy ban|công an|một cửa|trung tâm hành chính|chỗ|nơi"
_AT_PLACE = {
    True: re.compile(rf"(?<!\w)(?:ở|tại)\s+(?=(?:\w+\s+){{0,2}}?(?:{_PLACES_ACCENTED})(?!\w))"),
    False: re.compile(r"(?<!\w)(?:o|tai)\s+(?=(?:\w+\s+){0,2}?(?:phuong|xa|quan|huyen|tinh|thanh pho|uy ban|"
                      r"cong an|mot cua|trung tam hanh chinh|noi)(?!\w))"),
}

# … and only in a question: "ở phường vẫn còn lưu sổ" tells where something is
_ASKS = re.compile(r"\?|(?<!\w)(?:khong|chua|hay|hoac|ha|nhi|the nao)(?!\w)")
# "… cần làm thủ tục gì ở phường": the question is which procedure, the place only says where it is done
_WHICH_PROCEDURE = re.compile(r"(?<!\w)(?:thu tuc|lam)\s+(?:gi|nao)(?!\w)")


@dataclass(frozen=True)
class Parsed:
    """A message split into its aspect (None when it names none) and its procedure words."""

    aspect: str | None
    rest: str  # accent-folded procedure words, question and filler words removed ("" when none)
    accented: bool
    query: str  # the message without its aspect phrase, diacritics kept: what to search with


# "từ từ, cái ở đâu làm?": hold-on words; "từ" alone is a qualifier ("từ đủ 14 tuổi"), the pair is not
_HOLD_ON = re.compile(r"(?<!\w)(?:từ từ|tu tu|khoan đã|khoan da|đợi đã|doi da|chờ đã|cho da|chờ chút|cho chut)(?!\w)")

# "KHÔNG MẤT, sổ bị rách": a negated situation is not the situation
_NEGATED = re.compile(r"(?<!\w)(không|chưa|chẳng|khong|chua|chang)\s+(?:bị\s+|bi\s+)?(mất|hỏng|hư|mat|hong|hu)(?!\w)")


def parse(text: str) -> Parsed:
    """Aspect and remaining procedure words of one message."""
    norm = _HOLD_ON.sub(" ", _NEGATED.sub(" ", normalize_query(text)))
    typed = nfc(text).lower()
    # judged on the text as typed: expanding "bn" to "bao nhiêu" must not make it "accented"
    accented = typed != fold_accents(typed)
    work = norm if accented else fold_accents(norm)
    table = _ACCENTED if accented else _FOLDED
    aspect = None
    for name, phrases in table.items():
        for _, rx in phrases:
            if rx.search(work):
                aspect = aspect or name
                work = rx.sub(" ", work)
    if aspect is None and _AT_PLACE[accented].search(work) and not _WHICH_PROCEDURE.search(fold_accents(work)) \
            and _ASKS.search(fold_accents(norm)):
        aspect = "where"
        work = _AT_PLACE[accented].sub(" ", work)
    query = " ".join(work.split())
    if accented:
        work = _FILLER_RE.sub(" ", work)
    rest = strip_question_words(" ".join(syllables(work)), keep_if_empty=False)
    tokens = [t for t in rest.split() if t not in _FOLDED_FILLERS]
    if not accented and aspect and tokens[:1] == ["con"]:
        tokens = tokens[1:]  # typed without diacritics, a leading "con" before an aspect is "còn"
    return Parsed(aspect, " ".join(tokens), accented, query)
