"""Word segmentation aligned to the original text.

Kept free of Rasa imports so that it can be unit-tested in either
environment.  Vietnamese writes one syllable per space-separated unit, and
words are one to four syllables ("căn cước", "giấy chứng nhận").
underthesea groups syllables into words; this module maps the groups back to
character offsets of the text the citizen actually typed, so entity spans
stay correct even when an abbreviation ("ko") was expanded ("không").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

from vntext import expand_abbreviations, fold_accents, unify_tone_placement

_WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Segment:
    text: str  # normalised word, syllables joined by "_": "căn_cước"
    folded: str  # accent-folded: "can_cuoc"
    start: int
    end: int


def nfc_text(text: str) -> str:
    """NFC only (no whitespace change), so offsets of NFC input stay valid."""
    return unicodedata.normalize("NFC", text)


def segment(text: str, word_tokenize: Callable[[str], list[str]] | None) -> list[Segment]:
    """Segment NFC ``text`` into words with offsets into ``text`` itself."""
    units = [(m.start(), m.end(), m.group()) for m in _WORD_RE.finditer(text)]
    if not units:
        return []
    # normalised syllables per original unit ("ko" → ["không"], "ntn" → ["như", "thế", "nào"])
    syl: list[str] = []
    owner: list[int] = []
    for idx, (_, _, raw) in enumerate(units):
        for s in unify_tone_placement(expand_abbreviations(raw.lower())).split():
            syl.append(s)
            owner.append(idx)
    groups: list[list[int]] = [[i] for i in range(len(syl))]
    has_diacritics = any(fold_accents(raw) != raw.lower() for _, _, raw in units)
    # without diacritics underthesea's groupings are noise ("the can" + "cuoc"): keep syllables
    if word_tokenize is not None and len(syl) > 1 and has_diacritics:
        words = word_tokenize(" ".join(syl))
        sizes = [len(w.split()) for w in words]
        if sum(sizes) == len(syl):  # otherwise keep syllables: never guess an alignment
            groups, pos = [], 0
            for size in sizes:
                groups.append(list(range(pos, pos + size)))
                pos += size
    segments: list[Segment] = []
    for group in groups:
        first, last = owner[group[0]], owner[group[-1]]
        if segments and segments[-1].start == units[first][0]:
            # an expanded abbreviation split across words: keep one token per original unit
            prev = segments.pop()
            word = prev.text + "_" + "_".join(syl[i] for i in group)
        else:
            word = "_".join(syl[i] for i in group)
        segments.append(Segment(word, fold_accents(word), units[first][0], units[last][1]))
    return segments


def split_at_boundaries(text: str, words: list[Segment], boundaries: set[int]) -> list[Segment]:
    """Break words that straddle an entity boundary into their syllables.

    Training examples annotate entities on syllable boundaries ("[sổ đỏ] mất
    phí"), while the segmenter may join across them ("đỏ_mất").  Splitting
    only there keeps the words elsewhere and the annotations aligned.
    """
    out: list[Segment] = []
    syllable_level = None
    for word in words:
        if any(word.start < b < word.end for b in boundaries):
            syllable_level = syllable_level or segment(text, None)
            out.extend(s for s in syllable_level if word.start <= s.start and s.end <= word.end)
        else:
            out.append(word)
    return out
