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
import datetime as dt
import logging
import re
from typing import Any
from xml.sax.saxutils import escape

from vntext.pii import mask_pii

log = logging.getLogger(__name__)

#: Vietnamese mobile numbers in E.164: +84 then a mobile prefix (3, 5, 7, 8, 9) and 8 digits.
VN_MOBILE_E164 = re.compile(r"^\+84[35789]\d{8}$")


class SmsGuard:
    """Who may get an SMS, and how many a day: closes SMS-pumping fraud through spoofed caller ID.

    Why: a caller ID is whatever the caller's network says.  Texting any number the caller
    claims lets a fraudster make us pay for messages to premium or foreign numbers.  Only
    Vietnamese mobile numbers in E.164 form qualify, and each gets at most ``per_day``
    messages per calendar day (UTC).  Counts live in memory: a restart forgets them, which
    errs on the side of a citizen who called again.
    """

    def __init__(self, per_day: int = 3, today: Any = None) -> None:
        self.per_day = per_day
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self._day: dt.date | None = None
        self._sent: dict[str, int] = {}

    @staticmethod
    def valid_number(number: str) -> bool:
        return bool(VN_MOBILE_E164.match(number or ""))

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self._sent = today, {}

    def eligible(self, number: str) -> bool:
        """True when ``number`` may still get a message today (nothing is counted)."""
        self._roll()
        return self.per_day > 0 and self.valid_number(number) and self._sent.get(number, 0) < self.per_day

    def take(self, number: str) -> bool:
        """Count one message to ``number``; False (and nothing counted) when it is not allowed."""
        if not self.eligible(number):
            log.warning("SMS to %s refused (not a Vietnamese mobile, or daily limit reached)", mask_pii(number))
            return False
        self._sent[number] = self._sent.get(number, 0) + 1
        return True



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
            raise TwilioRestError(f"SMS to {mask_pii(to)} failed: {exc}") from exc
        log.info("SMS %s sent to %s", msg.sid, mask_pii(to))
        return str(msg.sid)

    async def close(self) -> None:
        """Close the HTTP session of the async client."""
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None
