"""Colloquial → official lexicon.

Citizens say "sổ đỏ", the catalogue says "Giấy chứng nhận quyền sử dụng đất".
Neither BM25 nor a small embedding model can bridge that on its own, so the
query is expanded with the official wording whenever a colloquial term occurs.
Terms are matched on accent-folded syllables so that typing without
diacritics ("so do") works the same.
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


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> tuple[LexiconEntry, ...]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(
        LexiconEntry(tuple(tuple(syllables(t)) for t in e["terms"]), e["official"])
        for e in doc["entries"]
    )


def _contains(seq: list[str], sub: tuple[str, ...]) -> bool:
    n = len(sub)
    return any(tuple(seq[i : i + n]) == sub for i in range(len(seq) - n + 1))


def matches(query: str, lexicon: tuple[LexiconEntry, ...] | None = None) -> list[str]:
    """Official phrases whose colloquial terms occur in ``query`` (diacritics optional)."""
    syl = syllables(query)
    found: list[str] = []
    for entry in lexicon or load_lexicon():
        if any(_contains(syl, term) for term in entry.terms) and entry.official not in found:
            found.append(entry.official)
    return found


def expand(query: str) -> str:
    """The query followed by the official wording of every colloquial term it uses."""
    extra = matches(query)
    return " ".join([query, *extra]) if extra else query
