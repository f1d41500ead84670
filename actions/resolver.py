"""Decide which procedure a message is about: answer, ask which one, follow up, or admit ignorance.

Kept apart from rasa-sdk so the decision can be tested without a tracker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from knowledge_base.features import query_text
from knowledge_base.search import Hit
from vntext import fold_accents, syllables

_ORDINALS = {
    "mot": 1, "nhat": 1, "dau": 1, "dau tien": 1, "hai": 2, "nhi": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5,
}


@dataclass
class Decision:
    kind: str  # "answer" | "choose" | "follow_up" | "unknown"
    hits: list[Hit] = field(default_factory=list)


def parse_option(text: str, n_options: int) -> int | None:
    """1-based option from "số 2", "cái thứ hai", "2", "cái cuối"; None if it names none."""
    folded = fold_accents(text)
    if re.search(r"\b(cuoi|cuoi cung|sau cung)\b", folded):
        return n_options or None
    m = re.search(r"\b(\d{1,2})\b", folded)
    if m:
        value = int(m.group(1))
        return value if 1 <= value <= n_options else None
    for word, value in sorted(_ORDINALS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b(thu|so|cai|lua chon|phuong an)?\s*{word}\b", folded) and value <= n_options:
            return value
    return None


def names_a_procedure(text: str, entity: str | None) -> bool:
    """Does the message carry its own procedure words (not only "còn lệ phí thì sao")?"""
    if entity:
        return True
    return len(query_text(text, keep_if_empty=False).split()) >= 2


def decide(
    text: str,
    entity: str | None,
    hits: list[Hit],
    has_current: bool,
    min_confidence: float,
    ambiguity_gap: float,
    max_options: int,
) -> Decision:
    """Pick the reply kind from the search hits and the conversation state."""
    if not names_a_procedure(text, entity) and has_current:
        return Decision("follow_up")
    if not hits or hits[0].confidence < min_confidence:
        if has_current and not entity and len(syllables(text)) <= 6:
            return Decision("follow_up")
        return Decision("unknown", hits)
    top = hits[0]
    close = [
        h for h in hits[1:max_options]
        if h.confidence >= min_confidence and (top.score - h.score) <= ambiguity_gap * top.score
    ]
    if close:
        return Decision("choose", [top, *close])
    return Decision("answer", [top])
