"""Mask a citizen's personal data before text reaches a log (or, later, analytics).

Why here: every log line that carries what a citizen said or typed (phone transcripts,
caller numbers, chat messages) must hide phone numbers, CCCD/CMND numbers and e-mail
addresses, and one function keeps the channels consistent.  No third-party imports.

What is masked (the last digits stay, so an operator can still tell two callers apart):

* phone numbers: 0912345678, 0912 345 678, 0912.345.678, 091-234-5678, +84912345678,
  +84 91 234 5678, 84912345678, landlines 024 7300 0000, 02473000000;
* CCCD (12 digits) and CMND (9 digits), with or without spaces in groups of 3;
* e-mail addresses (the domain is kept: it says "gmail", not who).
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", re.UNICODE)
# +84 / 84 / 0 then 8-10 more digits, in groups separated by space, dot or dash.
_PHONE = re.compile(r"(?<![\w+])(?:\+84|84|0)(?:[\s.-]?\d){8,10}(?!\d)")
# 12-digit CCCD or 9-digit CMND, optionally grouped by three.
_ID = re.compile(r"(?<![\w])(?:\d{3}[\s.]?){2}\d{3}(?:[\s.]?\d{3})?(?![\w])")


def _keep_tail(match: re.Match[str], tail: int = 2) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*" * (len(digits) - tail) + digits[-tail:]


def mask_pii(text: object) -> str:
    """``text`` with phone numbers, CCCD/CMND numbers and e-mail addresses masked.

    >>> mask_pii("sđt 0912 345 678, cccd 001099012345, mail an.nguyen@gmail.com")
    'sđt ********78, cccd **********45, mail ***@gmail.com'
    """
    s = str(text)
    s = _EMAIL.sub(lambda m: "***@" + m.group(1), s)
    s = _ID.sub(_keep_tail, s)  # before phones: "001 099 012 345" is one CCCD, not a phone and a rest
    s = _PHONE.sub(_keep_tail, s)
    return s


__all__ = ["mask_pii"]
