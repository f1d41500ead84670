"""The desk's side of Rasa's HTTP API: pause, resume, speak to the citizen, read the conversation.

Why Rasa's own mechanism: ``POST /conversations/{id}/tracker/events`` with
``output_channel=<channel>&execute_side_effects=true`` appends the events to
the tracker (so the conversation record holds what the operator said) and
sends every ``BotUttered`` among them through the channel's
``get_output_channel()``: the widget's socket.io room, Zalo's OA API, or the
REST channel's queue.  ``ConversationPaused``/``ConversationResumed`` are the
events Rasa's processor itself checks before predicting a bot action.

With several Rasa processes (``make prod``, the containers) ``RASA_URL`` names one instance's
internal address, and that instance reaches a citizen held by another one through Redis
(``CHANNEL_REDIS_URL``, ``bot/channels/out_of_turn.py``; docs/desk.md).

The API needs ``RASA_AUTH_TOKEN`` (``.run/secrets.env``); it never leaves
this process: pages get only the masked transcript.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from vntext.pii import mask_pii

OPERATOR_TAG = "desk_operator"  # BotUttered metadata key marking what an operator (not the bot) said
OPERATOR_PREFIX = "Tổng đài viên: "  # what the citizen sees before an operator's reply (a person, not the bot)


class RasaError(Exception):
    """Rasa's HTTP API could not be reached or refused the call; the message is safe to show."""


def rasa_url() -> str:
    return os.environ.get("RASA_URL", f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}").rstrip("/")


def _path(sender_id: str) -> str:
    """The conversation's URL path: Rasa (sanic) does not unquote ``%3A``, so ``:`` and ``@`` stay literal."""
    return "/conversations/" + quote(sender_id, safe=":@+")


def _call(method: str, path: str, params: dict[str, str], body: Any = None, timeout: float = 10) -> Any:
    token = os.environ.get("RASA_AUTH_TOKEN", "")
    query = urlencode({**params, **({"token": token} if token else {})})
    data = json.dumps(body).encode("utf-8") if body is not None else None
    req = urllib.request.Request(f"{rasa_url()}{path}?{query}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise RasaError(f"Máy chủ Rasa từ chối yêu cầu (HTTP {exc.code}).") from exc
    except (OSError, ValueError) as exc:
        raise RasaError("Không kết nối được máy chủ Rasa.") from exc


def bot_event(text: str, custom: dict[str, Any] | None = None, operator: str | None = None) -> dict[str, Any]:
    """A ``BotUttered`` event as JSON; ``operator`` marks it as an operator's reply in the tracker."""
    event: dict[str, Any] = {"event": "bot", "text": text, "timestamp": time.time(), "data": {"custom": custom or {}}}
    if operator:
        event["metadata"] = {OPERATOR_TAG: True}
    return event


def pause_event() -> dict[str, Any]:
    return {"event": "pause", "timestamp": time.time()}


def resume_event() -> dict[str, Any]:
    return {"event": "resume", "timestamp": time.time()}


def append(sender_id: str, channel: str, events: list[dict[str, Any]]) -> None:
    """Append events to the conversation and deliver its bot messages on ``channel`` (blocking)."""
    _call("POST", _path(sender_id) + "/tracker/events",
          {"output_channel": channel, "execute_side_effects": "true"}, events)


async def append_async(sender_id: str, channel: str, events: list[dict[str, Any]]) -> None:
    await asyncio.to_thread(append, sender_id, channel, events)


@dataclass(frozen=True)
class Line:
    """One line of the transcript as an operator sees it: who said it and the masked text."""

    who: str  # citizen | bot | operator
    text: str
    at: float

    def as_dict(self) -> dict[str, Any]:
        return {"who": self.who, "text": self.text, "at": self.at}


def transcript(sender_id: str) -> list[Line]:
    """The conversation so far (user and bot messages, PII masked), read from the tracker (blocking)."""
    tracker = _call("GET", _path(sender_id) + "/tracker", {"include_events": "ALL"})
    lines: list[Line] = []
    for ev in (tracker or {}).get("events") or []:
        kind, text = ev.get("event"), ev.get("text")
        if kind not in ("user", "bot") or not text:
            continue
        who = "citizen" if kind == "user" else "operator" if (ev.get("metadata") or {}).get(OPERATOR_TAG) else "bot"
        if who == "operator":
            text = text.removeprefix(OPERATOR_PREFIX)  # the page labels the line already
        lines.append(Line(who, mask_pii(text), float(ev.get("timestamp") or 0)))
    return lines


async def transcript_async(sender_id: str) -> list[Line]:
    return await asyncio.to_thread(transcript, sender_id)
