"""REST channel whose every bot message carries the structured ``custom`` payload.

Rasa's built-in REST channel emits text and custom JSON as separate messages
and splits text on blank lines, so a client cannot tell which procedure a
sentence came from.  This channel keeps one message per bot utterance with
``text``, optional ``buttons`` and ``custom``, the payload defined once in
``bot_payload`` (procedure_code, procedure_name, aspect, confidence, candidates,
source_url, kind, facts, hotline…; nulls where a field does not apply).  It also answers bad requests clearly instead of
passing them to the dialogue engine: invalid JSON and a missing sender get a
400, an empty message gets a polite reply, and very long messages are cut.
Messages sent outside a turn (an operator at the live-agent desk) wait in
``OUT_OF_TURN`` and come back with the citizen's next request (docs/desk.md); with
``CHANNEL_REDIS_URL`` set they wait in Redis, so the request may reach any Rasa
process (``channels/out_of_turn.py``).
"""

from __future__ import annotations

import hashlib
import re
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, List

import structlog
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import bot_payload
from channels.out_of_turn import queue_from_env
from vntext.pii import mask_pii

logger = structlog.get_logger()

MAX_MESSAGE_CHARS = 1000
MAX_SENDER_CHARS = 128
EMPTY_PAYLOAD: Dict[str, Any] = bot_payload.empty()
_SENDER_OK = re.compile(r"^[\w.@:+\-]{1,128}$")


def structured_payload(custom: Dict[str, Any] | None) -> Dict[str, Any]:
    """The custom payload with every documented key present (the model in bot_payload).

    A payload that does not match the model is logged and sent without its facts rather
    than dropped: the citizen still gets the text, and the log names the bad field.
    """
    try:
        return bot_payload.validate(custom)
    except bot_payload.PayloadError as exc:
        logger.error("rest.payload.invalid", error=str(exc))
        known = {k: v for k, v in (custom or {}).items() if k in EMPTY_PAYLOAD and k != "facts"}
        try:
            return bot_payload.validate(known)
        except bot_payload.PayloadError:
            return bot_payload.empty()


def sanitize_sender(sender: Any) -> str | None:
    """A usable tracker key, or None when the request has no sender at all.

    Odd ids (spaces, slashes, emoji, 10 kB strings) are hashed rather than
    refused: a citizen's widget should not break on its own session id.
    """
    if sender is None or (isinstance(sender, str) and not sender.strip()):
        return None
    sender = str(sender).strip()
    if _SENDER_OK.match(sender):
        return sender
    return "u-" + hashlib.sha256(sender.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class StructuredCollectingOutputChannel(CollectingOutputChannel):
    """Collects one message per bot utterance: text + buttons + custom together."""

    @classmethod
    def name(cls) -> str:
        return "collector"

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        out: Dict[str, Any] = {"recipient_id": recipient_id}
        if message.get("text"):
            out["text"] = message["text"]
        if message.get("buttons"):
            out["buttons"] = message["buttons"]
        if message.get("quick_replies"):
            out["buttons"] = message["quick_replies"]
        if message.get("image"):
            out["image"] = message["image"]
        out["custom"] = structured_payload(message.get("custom"))
        await self._persist_message(out)


# Operator replies waiting for REST citizens: in this process's memory (make run), or in Redis shared
# by every Rasa process when CHANNEL_REDIS_URL is set (make prod, the containers); channels/out_of_turn.py.
OUT_OF_TURN = queue_from_env()


class QueuedRestOutput(StructuredCollectingOutputChannel):
    """Rasa's ``output_channel=rest``: the structured message goes to :data:`OUT_OF_TURN`."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _persist_message(self, message: Dict[str, Any]) -> None:
        await OUT_OF_TURN.put(str(message.get("recipient_id")), message)


class StructuredRestInput(RestInput):
    """``/webhooks/rest/webhook`` with structured messages and input validation."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def get_output_channel(self) -> QueuedRestOutput:
        return QueuedRestOutput()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint("structured_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage on bad JSON
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "Nội dung yêu cầu phải là JSON {\"sender\": ..., \"message\": ...}"}, status=400)
            sender = sanitize_sender(body.get("sender"))
            if sender is None:
                return response.json({"error": "Thiếu trường 'sender' (mã phiên trò chuyện)"}, status=400)
            text = body.get("message")
            if text is not None and not isinstance(text, str):
                return response.json({"error": "Trường 'message' phải là chuỗi văn bản"}, status=400)
            text = (text or "").strip()
            queued = await OUT_OF_TURN.take(sender)
            if not text and queued:
                return response.json(queued)
            if not text:
                return response.json(
                    [{
                        "recipient_id": sender,
                        "text": "Anh/chị chưa nhập câu hỏi. Anh/chị cần hỏi về thủ tục hành chính nào ạ?",
                        "custom": structured_payload(None),
                    }]
                )
            text = text[:MAX_MESSAGE_CHARS]
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
            collector = StructuredCollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
                )
            except CancelledError:
                logger.error("rest.message.received.timeout", sender=mask_pii(sender))
            except Exception:
                logger.exception("rest.message.received.failure", sender=mask_pii(sender))
            return response.json(queued + collector.messages)

        return webhook


__all__: List[str] = ["StructuredRestInput", "StructuredCollectingOutputChannel", "QueuedRestOutput", "OUT_OF_TURN"]
