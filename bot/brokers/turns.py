"""Fold Rasa's event stream into one masked summary row per turn (stdlib only).

Why a summary and not the raw events: a raw event repeats the citizen's text unmasked in
several places (``text``, ``parse_data``, entities, slots); the analytics need, per turn,
who (sender id), where (channel), when, what was asked (masked), what the NLU thought and
what the bot did with it, taken from the structured ``custom`` payload every bot message
carries (bot_payload.py).  Stdlib only, so the broker (Rasa's venv) and the tests and
benchmarks (the ML venv) share this code.

A turn starts at a ``user`` event and ends at the next ``action_listen`` (the bot waits
again), at the sender's next ``user`` event (a paused conversation predicts no actions),
or when it has been idle for ``idle_s`` seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from vntext.normalize import fold_accents
from vntext.pii import mask_pii

ANSWER_KINDS = ("answer", "answer_all")
# The reply a turn is classified by, when it sends several messages (most telling first).
KIND_PRIORITY = ("answer", "answer_all", "choice", "handoff", "hotline", "fallback", "rephrase", "invalid_choice", "prompt")
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_KEY_STRIP = re.compile(r"[^\w\[\]* ]+")
_SPACES = re.compile(r"\s+")
MAX_TEXT = 2000


def low_confidence_threshold() -> float:
    """An answer below this search confidence counts as a low-confidence answer (RECORDS_LOW_CONFIDENCE)."""
    return float(os.environ.get("RECORDS_LOW_CONFIDENCE", "0.75"))


def timezone() -> dt.tzinfo:
    """The province's time zone, which decides a turn's calendar day (RECORDS_TIMEZONE)."""
    try:
        return ZoneInfo(os.environ.get("RECORDS_TIMEZONE", "Asia/Ho_Chi_Minh"))
    except Exception:  # noqa: BLE001 - no tz database in a slim image: Vietnam has no DST
        return dt.timezone(dt.timedelta(hours=7))


def text_key(masked: str) -> str:
    """The grouping key of a masked text: accent-folded, lower case, punctuation dropped, 255 chars."""
    return _SPACES.sub(" ", _KEY_STRIP.sub(" ", fold_accents(masked))).strip()[:255]


def sender_key(sender_id: str) -> str:
    """The sender id as stored: itself, or a hash when it is personal data (a caller's phone number)."""
    sender_id = str(sender_id)[:128]
    if mask_pii(sender_id) == sender_id:
        return sender_id
    return "anon-" + hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:24]


@dataclass
class PendingTurn:
    """A turn being assembled from its events."""

    sender_id: str
    at: float
    channel: str
    text: str
    intent: str | None
    intent_confidence: float | None
    new_conversation: bool
    customs: list[dict[str, Any]] = field(default_factory=list)
    bot_messages: int = 0
    touched: float = field(default_factory=time.monotonic)

    def row(self, low_confidence: float, tz: dt.tzinfo) -> dict[str, Any]:
        """The ``conversation_turn`` row of this turn (the text masked here, once)."""
        kinds = [c.get("kind") for c in self.customs if c.get("kind")]
        kind = next((k for k in KIND_PRIORITY if k in kinds), kinds[0] if kinds else None)
        main = next((c for c in self.customs if c.get("kind") == kind), {}) if kind else {}
        facts = main.get("facts") if isinstance(main.get("facts"), dict) else {}
        code = main.get("procedure_code") or facts.get("code")
        conf = main.get("confidence")
        conf = float(conf) if isinstance(conf, int | float) and not isinstance(conf, bool) else None
        answered = kind in ANSWER_KINDS
        fallback = "fallback" in kinds or (self.intent == "nlu_fallback" and kind not in (*ANSWER_KINDS, "rephrase"))
        low = answered and conf is not None and conf < low_confidence
        masked = mask_pii(self.text)[:MAX_TEXT]
        at = dt.datetime.fromtimestamp(self.at, dt.UTC)
        return {
            "at": at,
            "day": at.astimezone(tz).date(),
            "sender_id": sender_key(self.sender_id),
            "channel": self.channel,
            "text": masked,
            "text_key": text_key(masked),
            "intent": (self.intent or None) and str(self.intent)[:64],
            "intent_confidence": self.intent_confidence,
            "kind": kind[:16] if kind else None,
            "procedure_code": str(code)[:32] if code else None,
            "aspect": str(main.get("aspect"))[:16] if main.get("aspect") else None,
            "confidence": conf,
            "answered": answered,
            "fallback": fallback,
            "low_confidence": low,
            "unanswered": fallback or low,
            "new_conversation": self.new_conversation,
            "bot_messages": self.bot_messages,
        }


class TurnAssembler:
    """Turns Rasa events (as the broker receives them, with ``sender_id``) into finished turn rows."""

    def __init__(self, idle_s: float = 5.0, low_confidence: float | None = None, tz: dt.tzinfo | None = None) -> None:
        self.idle_s = idle_s
        self.low_confidence = low_confidence_threshold() if low_confidence is None else low_confidence
        self.tz = tz or timezone()
        self.pending: dict[str, PendingTurn] = {}
        self.session_started: set[str] = set()

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Take one event; return the rows of the turns it finished (usually none or one)."""
        sender = event.get("sender_id")
        if not isinstance(sender, str):
            return []
        name = event.get("event")
        done: list[dict[str, Any]] = []
        if name == "session_started":
            if len(self.session_started) > 100_000:  # sessions started by the HTTP API that no message followed
                self.session_started.clear()
            self.session_started.add(sender)
        elif name == "user":
            done += self._finish(sender)
            parse = event.get("parse_data") if isinstance(event.get("parse_data"), dict) else {}
            intent = parse.get("intent") if isinstance(parse.get("intent"), dict) else {}
            meta = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
            channel = meta.get("channel") if isinstance(meta.get("channel"), str) else None
            if not channel or not _CHANNEL.match(channel):
                channel = str(event.get("input_channel") or "unknown")[:32]
            conf = intent.get("confidence")
            self.pending[sender] = PendingTurn(
                sender_id=sender,
                at=float(event.get("timestamp") or time.time()),
                channel=channel,
                text=str(event.get("text") or ""),
                intent=intent.get("name") if isinstance(intent.get("name"), str) else None,
                intent_confidence=float(conf) if isinstance(conf, int | float) else None,
                new_conversation=sender in self.session_started,
            )
            self.session_started.discard(sender)
        elif name == "bot":
            turn = self.pending.get(sender)
            if turn is not None:
                data = event.get("data") if isinstance(event.get("data"), dict) else {}
                custom = data.get("custom")
                if isinstance(custom, dict):
                    turn.customs.append(custom)
                turn.bot_messages += 1
                turn.touched = time.monotonic()
        elif name == "action" and event.get("name") == "action_listen":
            done += self._finish(sender)
        elif sender in self.pending:
            self.pending[sender].touched = time.monotonic()
        return done

    def expire(self, now: float | None = None) -> list[dict[str, Any]]:
        """Rows of the turns idle for longer than ``idle_s`` (a paused conversation, a lost action_listen)."""
        now = time.monotonic() if now is None else now
        stale = [s for s, t in self.pending.items() if now - t.touched > self.idle_s]
        return [row for s in stale for row in self._finish(s)]

    def flush_all(self) -> list[dict[str, Any]]:
        """Rows of every unfinished turn (on shutdown)."""
        return [row for s in list(self.pending) for row in self._finish(s)]

    def _finish(self, sender: str) -> list[dict[str, Any]]:
        turn = self.pending.pop(sender, None)
        return [turn.row(self.low_confidence, self.tz)] if turn is not None else []
