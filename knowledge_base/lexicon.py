"""Colloquial → official lexicon.

Citizens say "sổ đỏ", the catalogue says "Giấy chứng nhận quyền sử dụng đất".
Neither BM25 nor a small embedding model can bridge that on its own, so the
query is expanded with the official wording whenever a colloquial term occurs.
Terms are matched on accent-folded syllables so that typing without
diacritics ("so do") works the same; a syllable typed with diacritics must
match them ("con chó nhà tôi" does not say "cho nhà", a gift of a house).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from vntext import syllables

LEXICON_PATH = Path(__file__).resolve().parent / "lexicon.yaml"


@dataclass(frozen=True)
class LexiconEntry:
    terms: tuple[tuple[str, ...], ...]  # folded syllable sequences
    official: str
    accented: tuple[tuple[str, ...], ...] = ()  # the same terms with their diacritics


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> tuple[LexiconEntry, ...]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(
        LexiconEntry(tuple(tuple(syllables(t)) for t in e["terms"]), e["official"],
                     tuple(tuple(syllables(t, fold=False)) for t in e["terms"]))
        for e in doc["entries"]
    )


def _same(typed: str, folded: str, term: str, term_folded: str) -> bool:
    """A syllable typed without diacritics matches by its letters; one typed with them, exactly."""
    return folded == term_folded if typed == folded else typed == term


def _says(typed: list[str], folded: list[str], term: tuple[str, ...], term_folded: tuple[str, ...]) -> bool:
    n = len(term_folded)
    return any(
        tuple(folded[i : i + n]) == term_folded
        and (term == term_folded or all(_same(typed[i + j], folded[i + j], term[j], term_folded[j]) for j in range(n)))
        for i in range(len(folded) - n + 1)
    )


def matches(query: str, lexicon: tuple[LexiconEntry, ...] | None = None) -> list[str]:
    """Official phrases whose colloquial terms occur in ``query`` (diacritics optional, but used when typed)."""
    folded = syllables(query)
    typed = syllables(query, fold=False)
    if len(typed) != len(folded):  # cannot align: compare folded only
        typed = folded
    found: list[str] = []
    for entry in lexicon or load_lexicon():
        accented = entry.accented or entry.terms  # a term listed without diacritics matches by letters
        if entry.official not in found and any(
                _says(typed, folded, acc, term) for term, acc in zip(entry.terms, accented, strict=True)):
            found.append(entry.official)
    return found


def expand(query: str) -> str:
    """The query followed by the official wording of every colloquial term it uses."""
    extra = matches(query)
    return " ".join([query, *extra]) if extra else query
