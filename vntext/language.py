"""Is this Vietnamese at all?  Keyboard noise, emoji and other languages are not.

The NLU model always picks *some* intent, so "asdkjh qwe" used to come out as
a yes/no answer.  A cheap structural test catches that before any model runs:
Vietnamese is written in syllables of a fixed shape (onset + vowel group +
optional final), so a message whose words mostly do not have that shape is not
Vietnamese, and the assistant asks the citizen to rephrase.
"""

from __future__ import annotations

import re

from vntext.normalize import fold_accents, normalize_query

_ONSET = r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|b|c|d|g|h|k|l|m|n|p|r|s|t|v|x)?"
_VOWELS = r"[aeiouy]{1,3}"
_FINAL = r"(?:ch|nh|ng|c|m|n|p|t|i|y|o|u)?"
_SYLLABLE_RE = re.compile(rf"^{_ONSET}{_VOWELS}{_FINAL}$")
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)

# Words that are not Vietnamese syllables but appear in Vietnamese chat about procedures.
LOANWORDS = frozenset(
    "online offline app web website email mail gmail zalo vneid visa passport pdf file sms ok okay oke "
    "hello hi alo bye thanks thank you cccd cmnd gplx bhxh bhyt mst id cv form hotline".split()
)


def is_vietnamese_syllable(token: str) -> bool:
    """True when the (accent-folded, lower-case) token has the shape of a Vietnamese syllable."""
    return bool(_SYLLABLE_RE.match(token))


def vietnamese_share(text: str) -> float | None:
    """Share of the message's words shaped like Vietnamese syllables (None: no countable word).

    Numbers, codes with digits (CT01) and common loanwords ("online", "VNeID") are
    neutral: they neither prove nor disprove anything.
    """
    tokens = [fold_accents(t) for t in _TOKEN_RE.findall(normalize_query(text)) if t != "_"]
    counted = [t for t in tokens if not any(ch.isdigit() for ch in t) and t not in LOANWORDS]
    if not counted:
        return None
    return sum(is_vietnamese_syllable(t) for t in counted) / len(counted)


def is_gibberish(text: str, min_share: float = 0.7) -> bool:
    """Keyboard noise, emoji-only text or another language: nothing to answer.

    A message with no letters or digits at all (emoji, punctuation) is gibberish;
    one made only of numbers or loanwords is not (it may answer "số 2" or "ok").
    """
    if not _TOKEN_RE.search(text or ""):
        return True
    share = vietnamese_share(text)
    return share is not None and share < min_share
