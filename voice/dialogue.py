"""Talking to Rasa, and reading its replies as data.

Why data: every bot message carries its facts in the ``custom`` payload defined once in
``bot_payload``.  The gateway validates each message against that model and composes what
the caller hears from it (``voice.speech``); it never reads aloud the chat text written for
a screen.  A message whose payload does not validate is logged and apologised for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot_payload import Payload, PayloadError
from vntext import nfc
from vntext.pii import mask_pii
from voice import speech

log = logging.getLogger(__name__)

SORRY_BUSY = "Xin lỗi, hệ thống đang bận. Anh chị vui lòng thử lại sau ít phút."

# --------------------------------------------------------------------------
# Rasa REST channel
# --------------------------------------------------------------------------


@dataclass
class Message:
    """One bot message: its chat text, its buttons and its validated payload."""

    text: str
    buttons: list[dict[str, str]]
    custom: Payload


@dataclass
class BotReply:
    """What Rasa answered for one caller turn."""

    messages: list[Message] = field(default_factory=list)
    error: bool = False

    @property
    def handoff(self) -> bool:
        return any(m.custom.kind == "handoff" for m in self.messages)

    @property
    def main(self) -> Payload:
        """The payload with facts (or the last one): what an SMS would carry."""
        with_facts = [m.custom for m in self.messages if m.custom.facts is not None]
        if with_facts:
            return with_facts[-1]
        return self.messages[-1].custom if self.messages else Payload()

    @property
    def is_empty(self) -> bool:
        return not self.messages


def parse_replies(messages: Any) -> BotReply:
    """The REST channel's list of messages, each validated against ``bot_payload.Payload``."""
    reply = BotReply()
    if not isinstance(messages, list):
        log.warning("unexpected Rasa reply (not a list): %.200r", messages)
        return BotReply(error=True)
    for msg in messages:
        if not isinstance(msg, Mapping):
            continue
        try:
            custom = Payload.from_dict(dict(msg.get("custom") or {}))
        except PayloadError as exc:
            log.error("bot message with an invalid payload: %s", exc)
            reply.error = True
            continue
        text = msg.get("text") if isinstance(msg.get("text"), str) else ""
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b["payload"])}
            for b in msg.get("buttons") or [] if isinstance(b, Mapping) and b.get("payload")
        ]
        reply.messages.append(Message(text.strip(), buttons, custom))
    return reply


def spoken(reply: BotReply, hotline: str = "") -> speech.Spoken:
    """All messages of a reply as one :class:`voice.speech.Spoken`."""
    out = speech.Spoken()
    for msg in reply.messages:
        part = speech.compose(msg.text, msg.buttons, msg.custom, hotline=hotline)
        out.sentences += [s for s in part.sentences if s not in out.sentences]
        out.items += part.items
        out.choices = part.choices or out.choices
        out.facts = part.facts or out.facts
        out.aspect = part.aspect or out.aspect
        out.handoff = out.handoff or part.handoff
        out.offer = out.offer or part.offer
    if reply.error and not out.sentences:
        out.sentences = [SORRY_BUSY]
    return out


class RasaClient:
    """POSTs caller turns to Rasa's REST webhook; sender id is the CallSid."""

    def __init__(self, url: str, session: aiohttp.ClientSession, timeout_s: float = 8.0) -> None:
        self.url = url
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, sender: str, text: str) -> BotReply:
        """One turn; on any failure returns an apology instead of raising."""
        # recognisers may emit decomposed Unicode; the NLU expects NFC (vntext is the one place for this)
        payload = {"sender": sender, "message": nfc(text), "metadata": {"channel": "phone"}}
        try:
            async with self.session.post(self.url, json=payload, timeout=self.timeout) as resp:
                if resp.status != 200:
                    body = (await resp.text())[:200]
                    raise RuntimeError(f"HTTP {resp.status}: {body}")
                data = await resp.json(content_type=None)
        except Exception as exc:  # noqa: BLE001 - the caller must hear something
            log.error("Rasa request failed for %s: %s %s", mask_pii(sender), type(exc).__name__, exc)
            return BotReply(error=True)
        return parse_replies(data)


_ADDRESS_RE = re.compile(r"\b(anh|ông|cô|chú|bạn)\s*/\s*(chị|bà|bác|em)\b", re.IGNORECASE)


def for_tts(text: str) -> str:
    """Last touches before synthesis: "Anh/chị" is said "anh chị", not "anh gạch chị"."""
    return _ADDRESS_RE.sub(r"\1 \2", text)


def sms_body(reply: BotReply, limit: int = 600) -> str:
    """The written details for the caller's phone (links included), from the facts."""
    main = reply.main
    if main.facts is not None:
        return speech.sms_text(main.facts, main.aspect, limit)
    return "\n".join(m.text for m in reply.messages if m.text)[:limit]


def join_sentences(sentences: Iterable[str]) -> str:
    """One string to synthesise (kept short by the caller)."""
    return " ".join(s for s in sentences if s)
