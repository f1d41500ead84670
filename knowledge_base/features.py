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
from vntext import fold_accents, nfc, normalize_query, syllables

# Aspect and question words: they say *what* the citizen asks about a
# procedure, not *which* procedure, so they are dropped before matching.
_STOP_PHRASES = [
    "can nhung giay to gi", "can giay to gi", "giay to gi", "nhung giay to", "giay to", "ho so gi",
    "can chuan bi", "chuan bi", "bao nhieu tien", "bao nhieu ngay", "bao nhieu", "het bao nhieu",
    # "bao lâu một lần": how often, not a "một lần" procedure
    "bao lau mot lan", "bao lau 1 lan", "mat bao lau", "bao lau", "may ngay", "mat may ngay", "nop o dau", "lam o dau", "o dau",
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


# --- one analysis per unique text during an index build ------------------------------------
# Why: a build used to normalise the same text three or four times (BM25 terms, the dense
# model's document text, its training queries, the document vectors), and synthetic and real
# catalogues repeat many strings (fields, lexicon terms, document names).  These caches hold
# one result per unique text; ``index.build`` clears them when it finishes.  They give exactly
# what the uncached functions give (tests/test_index_speed_parts.py checks it).

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)  # the same pattern as vntext.syllables
_BUILD_CACHE_MAX = 1_000_000
_SYL_SEED: dict[str, tuple[str, ...]] = {}


_MN_RE: re.Pattern[str] | None = None


def _mn_re() -> re.Pattern[str]:
    """Any nonspacing mark (category Mn): text with one is analysed whole, never token by token."""
    global _MN_RE
    if _MN_RE is None:
        import sys
        import unicodedata

        marks = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Mn"]
        _MN_RE = re.compile("[" + "".join(re.escape(m) for m in marks) + "]")
    return _MN_RE


@lru_cache(maxsize=200_000)
def _token_analysis(token: str) -> tuple[tuple[str, ...], bool]:
    """(folded syllables, has diacritics) of one lower-case NFC word of a text."""
    norm = normalize_query(token)
    folded = fold_accents(norm)
    return tuple(_TOKEN_RE.findall(folded)), norm != folded


def _fast_syllables(text: str) -> tuple[tuple[str, ...], bool] | None:
    """``syllables(text)`` and whether its normalised form has diacritics, word by word with a cache.

    Why: normalising every name of a 100k catalogue (abbreviations and accent folding, a
    Python call per character) was most of the BM25 step, while the names reuse a few
    thousand words.  normalize_query, fold_accents and the syllable split all work within
    a word, so the words' results concatenate to the text's, except across nonspacing marks
    and separators that folding changes: such texts return None (analysed whole).
    """
    low = nfc(nfc(text).lower())
    if _mn_re().search(low) is not None:
        return None
    seps = _TOKEN_RE.sub("", low)
    if seps and fold_accents(seps) != seps:
        return None
    syl: list[str] = []
    accented = False
    for token in _TOKEN_RE.findall(low):
        tok_syl, tok_acc = _token_analysis(token)
        syl.extend(tok_syl)
        accented = accented or tok_acc
    return tuple(syl), accented


@lru_cache(maxsize=_BUILD_CACHE_MAX)
def cached_analysis(text: str, with_words: bool = True) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(``syllables(text)``, ``word_tokens(text)`` or () without words, has diacritics), one normalisation."""
    if not with_words:
        fast = _fast_syllables(text)
        if fast is not None:
            _SYL_SEED[text] = fast[0]
            return fast[0], (), fast[1]
    norm = normalize_query(text)
    folded = fold_accents(norm)
    syl = tuple(_TOKEN_RE.findall(folded))
    _SYL_SEED[text] = syl
    accented = norm != folded
    if not accented or not with_words:
        return syl, (), accented
    words = _word_tokenize()(norm)
    return syl, tuple(_fold_word(w) for w in words if " " in w), accented


@lru_cache(maxsize=100_000)
def _fold_word(word: str) -> str:
    return fold_accents(word).replace(" ", "_")


@lru_cache(maxsize=_BUILD_CACHE_MAX)
def cached_syllables(text: str) -> tuple[str, ...]:
    """``tuple(syllables(text))``, once per unique text (seeded by the build's worker processes)."""
    seeded = _SYL_SEED.get(text)
    if seeded is not None:
        return seeded
    fast = _fast_syllables(text)
    return fast[0] if fast is not None else tuple(syllables(text))


def seed_syllables(known: dict[str, tuple[str, ...]]) -> None:
    """Syllables other processes already computed (the BM25 workers), so the dense model reuses them."""
    _SYL_SEED.update(known)


def clear_build_caches() -> None:
    _SYL_SEED.clear()
    cached_syllables.cache_clear()
    cached_analysis.cache_clear()
    _fold_word.cache_clear()
    _token_analysis.cache_clear()


def syllable_terms(syl: tuple[str, ...] | list[str]) -> list[str]:
    """Syllables followed by their bigrams (what ``lexical_terms(..., with_words=False)`` returns)."""
    return [*syl, *[f"{a}_{b}" for a, b in zip(syl, syl[1:], strict=False)]]


def cached_lexical_terms(text: str) -> list[str]:
    """``lexical_terms(text)`` with one normalisation and one segmentation per unique text."""
    syl, words, _ = cached_analysis(text)
    return [*syllable_terms(syl), *words]


def dense_text_of_parts(parts: list[str]) -> str:
    """``dense_text(" ; ".join(parts))`` from each part's cached syllables (no syllable spans " ; ")."""
    syl = [s for part in parts for s in cached_syllables(part)]
    return " ".join(syllable_terms(syl))


def cached_dense_text(text: str) -> str:
    """``dense_text(text)`` from the text's cached syllables."""
    return " ".join(syllable_terms(cached_syllables(text)))


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


# "… ĐỂ vay ngân hàng": an alias's purpose clause; "để lại" (to bequeath) is a verb, not a purpose
_PURPOSE_RE = re.compile(r"\s+để\s+(?!lại\b)", re.IGNORECASE)


def alias_head(alias: str) -> str:
    """An alias without its purpose clause: "xác nhận tình trạng hôn nhân để vay ngân hàng" names the
    certificate by its head; "vay ngân hàng" says what it is for, and alone names no procedure."""
    return _PURPOSE_RE.split(nfc(alias), maxsplit=1)[0]


def name_words_said(said: set[str], names: set[str], heads: set[str]) -> set[str]:
    """The question's words that a procedure's names hold, where ``names`` are the syllables of its name
    and aliases and ``heads`` the same without the purpose clauses (``alias_head``): a purpose counts
    only beside a word of what the procedure is."""
    return said & (names if said & heads else heads)


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
