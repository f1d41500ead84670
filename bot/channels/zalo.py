"""Zalo Official Account channel for Rasa: ``POST /webhooks/zalo/webhook``.

Zalo calls the webhook for every OA event and gives up on an endpoint that
does not answer 200 within 2 seconds, so the webhook only validates the request
(signature, timestamp window, size, JSON), acknowledges it, and runs the
dialogue turn in the background — one chain per user so that a citizen's
messages are answered in order while different citizens are served
concurrently.  Replies go out through OA API v3 consultation messages with the
OA access token, which is refreshed through OAuth v4 and stored atomically
(refresh tokens are single-use).  The logic lives in ``zalo_core`` (no Rasa
import, unit-tested directly); this module only adapts it to Rasa's
``InputChannel``/``OutputChannel`` extension points.  See docs/channels.md.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.zalo_core import (
    EMPTY_TEXT_REPLY,
    FOLLOW_PAYLOAD,
    TEXT_ONLY_REPLY,
    Inbound,
    TokenManager,
    ZaloClient,
    ZaloConfig,
    ZaloWebhook,
    logger,
    missing_settings,
)


class ZaloOutput(OutputChannel):
    """Sends each bot utterance (text + buttons as numbered lines) to one Zalo recipient."""

    def __init__(self, client: ZaloClient, recipient: Dict[str, str] | None = None) -> None:
        self.client = client
        self.recipient = recipient

    @classmethod
    def name(cls) -> str:
        return "zalo"

    def _recipient(self, recipient_id: str) -> Dict[str, str] | None:
        """The bound recipient, or a follower's id taken from the tracker key ``zalo:<user_id>``."""
        if self.recipient is not None:
            return self.recipient
        rid = str(recipient_id)
        if rid.startswith("zalo:") and not rid.startswith("zalo:anon:"):
            return {"user_id": rid[len("zalo:"):]}
        logger.error("zalo: no Zalo recipient for this conversation; message dropped")
        return None

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        # `custom` (procedure code, source url, …) is not rendered: the text already cites the source.
        text = message.get("text") or ""
        buttons = message.get("buttons") or message.get("quick_replies")
        if not text and not buttons:
            return
        recipient = self._recipient(recipient_id)
        if recipient is not None:
            self.client.enqueue_reply(recipient, text, buttons)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        recipient = self._recipient(recipient_id)
        if recipient is not None:
            self.client.enqueue_reply(recipient, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]],
                                     **kwargs: Any) -> None:
        recipient = self._recipient(recipient_id)
        if recipient is not None:
            self.client.enqueue_reply(recipient, text, buttons)


class ZaloInput(InputChannel):
    """Zalo OA webhook; off (503 on the webhook) while app id, OA secret key or tokens are missing."""

    @classmethod
    def name(cls) -> str:
        return "zalo"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> InputChannel:
        return cls(ZaloConfig.from_credentials(credentials))

    def __init__(self, config: ZaloConfig) -> None:
        self.config = config
        self.client = ZaloClient(config, TokenManager(config))
        missing = missing_settings(config, self.client.tokens)
        self.enabled = not missing
        if self.enabled:
            if not config.app_secret:
                logger.warning("zalo: no app_secret; the access token cannot be refreshed when it expires")
            logger.info("zalo: channel on (API %s)", config.api_base)
        else:
            logger.info("zalo: channel off; missing %s", ", ".join(missing))

    def get_output_channel(self) -> OutputChannel | None:
        return ZaloOutput(self.client)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def dispatch(event: Inbound) -> None:
            if event.kind == "unsupported":
                self.client.enqueue_reply(event.recipient, TEXT_ONLY_REPLY)
                return
            if event.kind == "text" and not event.text:
                self.client.enqueue_reply(event.recipient, EMPTY_TEXT_REPLY)
                return
            text = FOLLOW_PAYLOAD if event.kind == "follow" else event.text
            await on_new_message(
                UserMessage(
                    text,
                    ZaloOutput(self.client, event.recipient),
                    event.tracker_key,
                    input_channel=self.name(),
                    message_id=event.msg_id or None,
                    metadata={"zalo_event": event.event_name},
                )
            )

        self.webhook = ZaloWebhook(self.config, dispatch, enabled=self.enabled)
        bp = Blueprint("zalo_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "enabled": self.enabled})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                status, body = self.webhook.handle(request.body or b"", request.headers)
            except Exception:  # never a 5xx for what a client sent
                logger.exception("zalo: webhook request could not be handled")
                status, body = 400, {"error": "Yêu cầu không hợp lệ. Bad request."}
            return response.json(body, status=status)

        @bp.listener("after_server_stop")
        async def close_session(*_: Any) -> None:
            await self.client.close()

        return bp


__all__ = ["ZaloInput", "ZaloOutput"]
