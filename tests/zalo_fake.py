"""A fake Zalo (OA API v3 + OAuth v4) on loopback, for tests and the benchmark.

It speaks the documented formats: ``POST /v3.0/oa/message/cs`` with the
``access_token`` header and ``{"recipient": {...}, "message": {"text": ...}}``
answered by ``{"error": 0, "message": "Success", "data": {...}}`` or a non-zero
``error`` (-216 for an invalid/expired token), and ``POST /v4/oa/access_token``
with the ``secret_key`` header and a form body (app_id, grant_type=refresh_token,
refresh_token) answered by ``{"access_token", "refresh_token", "expires_in"}``
with single-use refresh tokens.  It runs in a thread with its own event loop so
synchronous tests can drive it, and has switches to inject failures.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List

from aiohttp import web


@dataclass
class Received:
    """One accepted message."""

    recipient: Dict[str, Any]
    text: str
    at: float
    message_id: str


@dataclass
class FakeZalo:
    app_id: str = "1234567890123456789"
    app_secret: str = "fake-app-secret"
    access_token: str = field(default_factory=lambda: "at-" + secrets.token_hex(8))
    refresh_token: str = field(default_factory=lambda: "rt-" + secrets.token_hex(8))

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.valid_access = {self.access_token}
        self.valid_refresh = {self.refresh_token}
        self.used_refresh: set[str] = set()
        self.messages: List[Received] = []
        self.attempts: List[tuple[float, int]] = []  # (time, HTTP status) of every send attempt
        self.refresh_calls: List[Dict[str, Any]] = []
        self.fail_next = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def expire_access_tokens(self) -> None:
        """Every access token issued so far becomes invalid (error -216)."""
        with self._lock:
            self.valid_access.clear()

    def fail_sends(self, n: int) -> None:
        """The next ``n`` message sends get HTTP 500."""
        with self._lock:
            self.fail_next = n

    def for_recipient(self, key: str) -> List[Received]:
        with self._lock:
            return [m for m in self.messages if key in (m.recipient.get("user_id"), m.recipient.get("anonymous_id"))]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def wait_messages(self, key: str, n: int = 1, timeout: float = 30.0, settle: float = 0.0) -> List[Received]:
        """Messages for ``key`` once at least ``n`` arrived (and none more during ``settle`` s)."""
        self.wait_for(lambda: len(self._for(key)) >= n, timeout)
        if settle:
            last = -1
            while last != len(self.for_recipient(key)):
                last = len(self.for_recipient(key))
                time.sleep(settle)
        return self.for_recipient(key)

    def wait_idle(self, quiet: float = 1.0, timeout: float = 30.0) -> None:
        """Return once no send attempt arrived for ``quiet`` seconds (earlier replies finished)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = self.attempts[-1][0] if self.attempts else 0.0
            if time.monotonic() - last >= quiet:
                return
            time.sleep(0.1)

    def _for(self, key: str) -> List[Received]:  # caller holds the lock
        return [m for m in self.messages if key in (m.recipient.get("user_id"), m.recipient.get("anonymous_id"))]

    # ------------------------------------------------------------------ handlers

    async def _send(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.attempts.append((time.monotonic(), 500))
                self._cond.notify_all()
                return web.Response(status=500, text="Internal Server Error")
            self.attempts.append((time.monotonic(), 200))
            valid = token in self.valid_access
        if not valid:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": -201, "message": "Parameters are invalid"})
        recipient = body.get("recipient") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        text = message.get("text") if isinstance(message, dict) else None
        ok_recipient = isinstance(recipient, dict) and (
            isinstance(recipient.get("user_id"), str)
            or (isinstance(recipient.get("anonymous_id"), str) and isinstance(recipient.get("conversation_id"), str))
        )
        if not ok_recipient or not isinstance(text, str) or not text:
            return web.json_response({"error": -201, "message": "Parameters are invalid"})
        if len(text) > 2000:
            return web.json_response({"error": -201, "message": "Text message length must not exceed 2000 characters"})
        mid = secrets.token_hex(10)
        with self._cond:
            self.messages.append(Received(recipient, text, time.monotonic(), mid))
            self._cond.notify_all()
        user = recipient.get("user_id") or recipient.get("anonymous_id")
        return web.json_response({"data": {"message_id": mid, "user_id": user}, "error": 0, "message": "Success"})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        call = {"secret_key_ok": request.headers.get("secret_key") == self.app_secret,
                "content_type": request.content_type, **{k: form.get(k) for k in ("app_id", "grant_type")}}
        refresh = form.get("refresh_token")
        with self._cond:
            self.refresh_calls.append(call)
            self._cond.notify_all()
            if not call["secret_key_ok"] or form.get("app_id") != self.app_id:
                return web.json_response({"error_name": "Invalid parameter", "error_reason": "Invalid app_id or secret_key",
                                          "ref_doc": "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new",
                                          "error_description": "Invalid app id or secret key", "error": -14002})
            if form.get("grant_type") != "refresh_token" or refresh not in self.valid_refresh:
                return web.json_response({"error_name": "Invalid parameter", "error_reason": "Invalid refresh token",
                                          "ref_doc": "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new",
                                          "error_description": "Invalid refresh token", "error": -14014})
            self.valid_refresh.discard(refresh)  # single use
            self.used_refresh.add(refresh)
            self.access_token = "at-" + secrets.token_hex(8)
            self.refresh_token = "rt-" + secrets.token_hex(8)
            self.valid_access.add(self.access_token)
            self.valid_refresh.add(self.refresh_token)
            return web.json_response({"access_token": self.access_token, "refresh_token": self.refresh_token,
                                      "expires_in": "90000"})

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeZalo:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/v3.0/oa/message/cs", self._send)
            app.router.add_post("/v4/oa/access_token", self._token)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-zalo", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Zalo did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
