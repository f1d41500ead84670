"""Vietnamese text normalisation shared by the NLU component, the search and the voice gateway.

This package must stay light: no third-party imports, so that the Rasa server,
the action server and the voice gateway can all import it cheaply.
"""

from vntext.language import is_gibberish, vietnamese_share
from vntext.normalize import (
    expand_abbreviations,
    fold_accents,
    nfc,
    normalize_query,
    syllables,
    unify_tone_placement,
)

__all__ = [
    "expand_abbreviations", "fold_accents", "is_gibberish", "nfc", "normalize_query", "syllables",
    "unify_tone_placement", "vietnamese_share",
]
