"""Deployment settings read from the environment, with embedded defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    hotline: str = os.environ.get("HOTLINE", "1022")
    # below this share of the question's words found in a procedure name, the bot says it does not know
    min_confidence: float = float(os.environ.get("ANSWER_MIN_CONFIDENCE", "0.5"))
    # candidates within this relative score gap of the top hit are offered as a choice
    ambiguity_gap: float = float(os.environ.get("ANSWER_AMBIGUITY_GAP", "0.05"))
    max_options: int = 3
    pause_on_handoff: bool = os.environ.get("HANDOFF_PAUSE", "0") == "1"


SETTINGS = Settings()
