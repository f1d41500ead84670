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
    # and reports someone on duty (GET {AGENT_DESK_URL}/status → {"agents_on_duty": n}) and
    # accepts the hand-off (POST {AGENT_DESK_URL}/handoff, see docs/desk.md); both calls carry
    # "Authorization: Bearer $DESK_SECRET" (scripts/run.sh generates it into .run/secrets.env)
    agent_desk_url: str = os.environ.get("AGENT_DESK_URL", "")
    desk_secret: str = os.environ.get("DESK_SECRET", "")

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.min_confidence, self.nlu_min_confidence, self.ambiguity_gap, self.max_options)

    def desk_on_duty(self) -> bool:
        """True only when a live-agent desk is configured and says an operator is on duty."""
        if not self.agent_desk_url:
            return False
        try:
            return int(self._desk("GET", "status").get("agents_on_duty", 0)) > 0
        except (OSError, ValueError, TypeError, AttributeError):
            return False

    def desk_handoff(self, sender_id: str, channel: str) -> dict | None:
        """Queue the conversation at the desk; its answer when it accepted, else None (no desk, nobody, error).

        The desk accepts only while an operator is on duty, so "I am transferring you" is said
        only when a person will see the conversation (or the desk's timeout gives the hotline).
        """
        if not self.agent_desk_url:
            return None
        try:
            answer = self._desk("POST", "handoff", {"sender_id": sender_id, "channel": channel or "rest"})
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        return answer if isinstance(answer, dict) and answer.get("accepted") is True else None

    def _desk(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.desk_secret:
            headers["Authorization"] = f"Bearer {self.desk_secret}"
        req = urllib.request.Request(self.agent_desk_url.rstrip("/") + "/" + path, method=method, headers=headers,
                                     data=json.dumps(body).encode("utf-8") if body is not None else None)
        with urllib.request.urlopen(req, timeout=1.5) as resp:
            return json.loads(resp.read())


SETTINGS = Settings()
