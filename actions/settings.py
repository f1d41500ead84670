"""Deployment settings read from the environment, with embedded defaults."""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass

from actions.resolver import Thresholds


@dataclass(frozen=True)
class Settings:
    hotline: str = os.environ.get("HOTLINE", "1022")
    # when the hotline is staffed: said with the number whenever no operator can take over in the chat
    hotline_hours: str = os.environ.get("HOTLINE_HOURS", "7h30–17h00, thứ Hai đến thứ Sáu")
    # the answer rule (actions/resolver.py: may_name): a procedure is named only when the
    # search finds at least ANSWER_MIN_CONFIDENCE of the question's identifying words in it
    # AND the NLU is at least NLU_MIN_CONFIDENCE sure the message is a procedure question
    min_confidence: float = float(os.environ.get("ANSWER_MIN_CONFIDENCE", "0.6"))
    nlu_min_confidence: float = float(os.environ.get("NLU_MIN_CONFIDENCE", "0.5"))
    # candidates within this relative score gap of the top hit are offered as a choice
    ambiguity_gap: float = float(os.environ.get("ANSWER_AMBIGUITY_GAP", "0.05"))
    max_options: int = 3
    pause_on_handoff: bool = os.environ.get("HANDOFF_PAUSE", "0") == "1"
    # live-agent desk: the bot says it transfers the citizen only when a desk is configured
    # and reports someone on duty (GET {AGENT_DESK_URL}/status → {"agents_on_duty": n})
    agent_desk_url: str = os.environ.get("AGENT_DESK_URL", "")

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.min_confidence, self.nlu_min_confidence, self.ambiguity_gap, self.max_options)

    def desk_on_duty(self) -> bool:
        """True only when a live-agent desk is configured and says an operator is on duty."""
        if not self.agent_desk_url:
            return False
        try:
            with urllib.request.urlopen(self.agent_desk_url.rstrip("/") + "/status", timeout=1.5) as resp:
                return int(json.loads(resp.read()).get("agents_on_duty", 0)) > 0
        except (OSError, ValueError, TypeError, AttributeError):
            return False


SETTINGS = Settings()
