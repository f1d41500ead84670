"""Terms the retrievers see, for documents and queries alike.

BM25 runs over accent-folded syllables (so "lam so do" meets "làm sổ đỏ"),
syllable bigrams (phrase order: "khai sinh" vs "sinh ... khai") and
underthesea word tokens (multi-syllable words such as "chứng_nhận").  Word
segmentation needs diacritics to work, so it only adds tokens; the folded
syllables and bigrams carry diacritic-free queries.
"""

from __future__ import annotations

import re
from functools import lru_cache

from knowledge_base.schema import Procedure
from vntext import fold_accents, normalize_query, syllables

# Aspect and question words: they say *what* the citizen asks about a
# procedure, not *which* procedure, so they are dropped before matching.
_STOP_PHRASES = [
    "can nhung giay to gi", "can giay to gi", "giay to gi", "nhung giay to", "giay to", "ho so gi",
    "can chuan bi", "chuan bi", "bao nhieu tien", "bao nhieu ngay", "bao nhieu", "het bao nhieu",
    "mat bao lau", "bao lau", "may ngay", "mat may ngay", "nop o dau", "lam o dau", "o dau",
    "nhu the nao", "the nao", "ra sao", "lam sao", "thi sao", "duoc khong", "co duoc khong",
    "le phi", "chi phi", "phi", "thu tuc", "cac buoc", "quy trinh", "trinh tu", "truc tuyen",
    "online", "thoi gian", "qua vneid", "tren vneid", "bang vneid", "app vneid", "ung dung vneid", "vneid",
    "qua mang", "tren mang", "dich vu cong", "cong dich vu cong", "qua app", "tren app", "toi muon", "minh muon", "em muon", "cho hoi", "cho minh hoi",
    "cho em hoi", "xin hoi", "muon hoi", "hoi ve", "can gi", "gi", "khong", "a", "vay", "nhi", "nhe",
    "oi", "ad", "ban", "minh", "toi", "em", "anh", "chi", "co", "la", "thi", "can", "muon", "lam",
    # time and possession words of a citizen's story ("tạm trú của tôi sắp hết hạn, giờ muốn gia hạn")
    "cua", "sap", "gio", "roi",
]
_STOP_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _STOP_PHRASES), key=len, reverse=True)) + r")\b")


def strip_question_words(folded: str, keep_if_empty: bool = True) -> str:
    """Remove aspect/question phrases from accent-folded text.

    With ``keep_if_empty`` a question made only of such words is returned
    whole, so that search still has something to match.
    """
    stripped = " ".join(_STOP_RE.sub(" ", folded).split())
    return stripped or (folded if keep_if_empty else "")


@lru_cache(maxsize=1)
def _word_tokenize():  # noqa: ANN202 - returns underthesea's function
    from underthesea import word_tokenize  # heavy import, only when needed

    return word_tokenize


def word_tokens(text: str) -> list[str]:
    """Multi-syllable underthesea words, accent-folded, joined by "_"."""
    norm = normalize_query(text)
    if norm == fold_accents(norm):  # no diacritics: segmentation would be noise
        return []
    words = _word_tokenize()(norm)
    return [fold_accents(w).replace(" ", "_") for w in words if " " in w]


def lexical_terms(text: str, with_words: bool = True) -> list[str]:
    """Folded syllables + syllable bigrams (+ underthesea words) of ``text``."""
    syl = syllables(text)
    terms = list(syl)
    terms += [f"{a}_{b}" for a, b in zip(syl, syl[1:], strict=False)]
    if with_words:
        terms += word_tokens(text)
    return terms


def query_text(query: str, keep_if_empty: bool = True) -> str:
    """Folded query with question words removed: what identifies the procedure."""
    return strip_question_words(" ".join(syllables(query)), keep_if_empty)


def dense_text(text: str) -> str:
    """Input of the embedding model: folded syllables followed by their bigrams."""
    syl = syllables(text)
    return " ".join(syl + [f"{a}_{b}" for a, b in zip(syl, syl[1:], strict=False)])


_PAREN_RE = re.compile(r"\([^)]*\)")


def short_name(name: str) -> str:
    """Official name without parenthesised qualifiers such as "(thực hiện tại cấp tỉnh)"."""
    return " ".join(_PAREN_RE.sub(" ", name).split())


def doc_fields(proc: Procedure) -> dict[str, str]:
    """The text of a procedure that identifies it, by field (for BM25 and matched-field reports)."""
    return {
        "name": proc.name,
        "aliases": " ; ".join(proc.aliases),
        "field": proc.field,
        "result": proc.result or "",
        # documents, conditions: words citizens use when they describe their situation
        "details": " ; ".join([d.name for d in proc.documents] + proc.conditions),
    }
