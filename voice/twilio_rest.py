"""Twilio REST calls the gateway makes: redirect a live call, send an SMS.

Why through the official ``twilio`` client: it builds the documented
requests (``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` with
``Twiml=...``, ``POST .../Messages.json`` with ``To``/``From``/``Body``) and
signs them with the account credentials.  Its base URL is configurable
(``TWILIO_API_BASE_URL``) so the tests can point it at a fake Twilio on
loopback that speaks the same API.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)


class TwilioRestError(RuntimeError):
    """A Twilio REST request failed or is not configured."""


def dial_twiml(number: str, caller_id: str = "") -> str:
    """TwiML that bridges the caller to ``number`` (the operator)."""
    attr = f' callerId="{escape(caller_id)}"' if caller_id else ""
    return f"<Response><Dial{attr}>{escape(number)}</Dial></Response>"


HANGUP_TWIML = "<Response><Hangup/></Response>"


class TwilioGateway:
    """Thin async wrapper around ``twilio.rest.Client``."""

    def __init__(
        self, account_sid: str, auth_token: str, base_url: str, timeout_s: float = 10.0
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._client: Any = None
        self._http: Any = None

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token)

    def _get_client(self) -> Any:
        if not self.configured:
            raise TwilioRestError("TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set")
        if self._client is None:
            from twilio.http.async_http_client import AsyncTwilioHttpClient
            from twilio.rest import Client

            self._http = AsyncTwilioHttpClient()
            client = Client(self.account_sid, self.auth_token, http_client=self._http)
            client.api.base_url = self.base_url
            self._client = client
        return self._client

    async def update_call(self, call_sid: str, twiml: str) -> str:
        """Replace the live call's instructions; returns the call status."""
        client = self._get_client()
        try:
            call = await asyncio.wait_for(
                client.calls(call_sid).update_async(twiml=twiml), self.timeout_s
            )
        except Exception as exc:
            raise TwilioRestError(f"call update failed for {call_sid}: {exc}") from exc
        log.info("call %s updated (status %s)", call_sid, call.status)
        return str(call.status)

    async def send_sms(self, to: str, from_: str, body: str) -> str:
        """Send an SMS; returns the message SID."""
        client = self._get_client()
        if not from_:
            raise TwilioRestError("HOTLINE (the SMS sender number) is not set")
        try:
            msg = await asyncio.wait_for(
                client.messages.create_async(to=to, from_=from_, body=body), self.timeout_s
            )
        except Exception as exc:
            raise TwilioRestError(f"SMS to {to} failed: {exc}") from exc
        log.info("SMS %s sent to %s", msg.sid, to)
        return str(msg.sid)

    async def close(self) -> None:
        """Close the HTTP session of the async client."""
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None
