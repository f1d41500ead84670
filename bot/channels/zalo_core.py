"""Zalo Official Account channel logic, kept free of Rasa imports.

``channels/zalo.py`` is the thin Rasa adapter; everything that can be tested
without a Rasa install lives here so that the test suite (which runs in the
ML environment, without Rasa) can exercise it directly:

* ``ZaloConfig``   — credentials with documented defaults (an empty value means "default"
  or, for secrets, "channel off");
* ``verify_signature`` — ``X-ZEvent-Signature: mac=<hex sha256(app_id + body + timestamp + OA secret key)>``;
* ``split_message`` / ``render_options`` — Zalo's 2,000-character text limit and Rasa buttons as numbered lines;
* ``TokenManager`` — access token + single-use refresh token, refreshed through OAuth v4 and stored atomically;
* ``ZaloClient``   — OA API v3 ``/v3.0/oa/message/cs`` with retry/backoff and refresh-on-expired-token;
* ``ZaloWebhook``  — request validation, deduplication and per-user ordered dispatch.

Formats follow developers.zalo.me (Official Account API v3, OAuth v4, webhook).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Tuple

import aiohttp

from vntext import nfc

logger = logging.getLogger("channels.zalo")

REPO = Path(__file__).resolve().parents[2]
DEFAULT_API_BASE = "https://openapi.zalo.me"
DEFAULT_OAUTH_BASE = "https://oauth.zaloapp.com"
DEFAULT_WINDOW_S = 300.0
DEFAULT_TOKEN_FILE = REPO / ".run" / "zalo_token.json"
ZALO_TEXT_LIMIT = 2000  # characters per consultation (cs) text message
MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 1000  # same cut as the REST channel
SIGNATURE_HEADER = "x-zevent-signature"
# OA API error codes meaning "this access token is no good": -216 invalid, -124 expired.
TOKEN_ERRORS = frozenset({-216, -124})
REFRESH_MARGIN_S = 300.0  # refresh this long before the access token expires
RETRY_DELAYS_S: Tuple[float, ...] = (0.5, 1.0, 2.0)

TEXT_EVENTS = frozenset({"user_send_text", "anonymous_send_text"})
FOLLOW_EVENTS = frozenset({"follow"})
UNSUPPORTED_EVENTS = frozenset(
    {
        f"{who}_send_{what}"
        for who in ("user", "anonymous")
        for what in ("image", "gif", "sticker", "audio", "video", "file", "link", "location", "business_card")
    }
)

TEXT_ONLY_REPLY = (
    "Hiện tôi chỉ đọc được tin nhắn chữ. Anh/Chị vui lòng gõ câu hỏi về thủ tục hành chính, "
    "ví dụ: \"Làm căn cước cần giấy tờ gì?\""
)
EMPTY_TEXT_REPLY = "Anh/Chị chưa nhập câu hỏi. Anh/Chị cần hỏi về thủ tục hành chính nào ạ?"
OFF_MESSAGE = {
    "error": "Kênh Zalo chưa được cấu hình (thiếu ZALO_APP_ID, ZALO_OA_SECRET_KEY hoặc token). "
    "Zalo channel is not configured: set ZALO_APP_ID, ZALO_OA_SECRET_KEY and ZALO_ACCESS_TOKEN/ZALO_REFRESH_TOKEN.",
}
# The dialogue's own greeting answers a new follower (see docs/channels.md).
FOLLOW_PAYLOAD = "/greet"

_ID_OK = re.compile(r"[\w.\-]{1,128}")
_EVENT_NAME_OK = re.compile(r"[a-z0-9_]{1,64}")  # log only names that look like Zalo's


def missing_settings(config: ZaloConfig, tokens: TokenManager) -> List[str]:
    """What keeps the channel off: app id, OA secret key and some token (credentials or token file)."""
    missing = [name for name, value in (("app_id", config.app_id), ("oa_secret_key", config.oa_secret_key)) if not value]
    if not tokens.usable:
        missing.append("access_token/refresh_token")
    return missing


def _clean(value: Any) -> str:
    """Credential value as a string; None and whitespace-only mean "not set"."""
    return "" if value is None else str(value).strip()


@dataclass
class ZaloConfig:
    """The channel's settings; empty values take the defaults documented in docs/channels.md."""

    app_id: str = ""
    app_secret: str = ""
    oa_secret_key: str = ""
    access_token: str = ""
    refresh_token: str = ""
    token_file: Path = DEFAULT_TOKEN_FILE
    api_base: str = DEFAULT_API_BASE
    oauth_base: str = DEFAULT_OAUTH_BASE
    timestamp_window_s: float = DEFAULT_WINDOW_S
    max_message_chars: int = ZALO_TEXT_LIMIT

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> ZaloConfig:
        c = dict(credentials or {})
        try:
            window = float(_clean(c.get("timestamp_window_s")) or DEFAULT_WINDOW_S)
        except ValueError:
            logger.warning("zalo: timestamp_window_s is not a number; using %s s", DEFAULT_WINDOW_S)
            window = DEFAULT_WINDOW_S
        if window <= 0:
            window = DEFAULT_WINDOW_S
        try:
            limit = int(_clean(c.get("max_message_chars")) or ZALO_TEXT_LIMIT)
        except ValueError:
            limit = ZALO_TEXT_LIMIT
        token_file = _clean(c.get("token_file"))
        return cls(
            app_id=_clean(c.get("app_id")),
            app_secret=_clean(c.get("app_secret")),
            oa_secret_key=_clean(c.get("oa_secret_key")),
            access_token=_clean(c.get("access_token")),
            refresh_token=_clean(c.get("refresh_token")),
            token_file=Path(token_file) if token_file else DEFAULT_TOKEN_FILE,
            api_base=(_clean(c.get("api_base")) or DEFAULT_API_BASE).rstrip("/"),
            oauth_base=(_clean(c.get("oauth_base")) or DEFAULT_OAUTH_BASE).rstrip("/"),
            timestamp_window_s=window,
            # Zalo refuses longer texts; a smaller value is only useful to exercise splitting.
            max_message_chars=max(100, min(limit, ZALO_TEXT_LIMIT)),
        )


# --------------------------------------------------------------------------- signature


def expected_signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """``mac=`` + hex SHA-256 of app id + raw body + event timestamp + OA secret key (Zalo webhook docs)."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return "mac=" + digest


def verify_signature(header: str | None, app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> bool:
    """Constant-time check of the ``X-ZEvent-Signature`` header."""
    if not header:
        return False
    want = expected_signature(app_id, body, timestamp, oa_secret_key).encode()
    got = header.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(want, got)


def event_timestamp(body: Mapping[str, Any]) -> str | None:
    """The event's ``timestamp`` (milliseconds, sent as a string) exactly as it enters the signature."""
    ts = body.get("timestamp")
    if isinstance(ts, bool):
        return None
    if isinstance(ts, int):
        ts = str(ts)
    if isinstance(ts, str) and ts.isascii() and ts.isdigit() and len(ts) <= 16:
        return ts
    return None


# --------------------------------------------------------------------------- text


_SENTENCE_END = re.compile(r"[.!?…;:](?=\s)")


def _cut_point(window: str, limit: int) -> int:
    """Where to cut ``window`` (len > limit): a paragraph, line or sentence end, else a space."""
    head = window[:limit]
    para = head.rfind("\n\n")
    if para >= limit // 2:
        return para
    line = head.rfind("\n")
    sentence = max((m.end() for m in _SENTENCE_END.finditer(window[: limit + 1]) if m.end() <= limit), default=-1)
    best = max(line, sentence)
    if best >= limit // 4:
        return best
    space = max(head.rfind(" "), head.rfind("\t"), line)
    if window[limit].isspace():
        space = limit
    if space > 0:
        return space
    return limit  # a single "word" longer than the limit (a URL): nothing better exists


def split_message(text: str, limit: int = ZALO_TEXT_LIMIT) -> List[str]:
    """Split ``text`` into parts of at most ``limit`` characters at line/sentence boundaries.

    Zalo refuses cs text messages over 2,000 characters.  A sentence longer than
    the limit is split at a word boundary, never inside a word.
    """
    text = text.strip()
    parts: List[str] = []
    while len(text) > limit:
        cut = _cut_point(text, limit)
        part = text[:cut].rstrip()
        if part:
            parts.append(part)
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def render_options(text: str, buttons: List[Mapping[str, Any]] | None) -> str:
    """Rasa buttons as numbered text lines the citizen answers by typing (e.g. "số 2").

    The dialogue's disambiguation question already lists "1. …", "2. …": then the
    text is kept as it is.  Otherwise each button is appended as "i. title".
    """
    if not buttons:
        return text
    titles = [str(b.get("title") or b.get("payload") or "").strip() for b in buttons if isinstance(b, Mapping)]
    titles = [t for t in titles if t]
    lines = text.splitlines()
    if titles and all(any(line.strip() == t or line.strip().endswith(t) for line in lines) for t in titles):
        return text
    extra = []
    for i, title in enumerate(titles, 1):
        extra.append(title if re.match(rf"^{i}[.)]\s", title) else f"{i}. {title}")
    extra.append("Anh/Chị trả lời số thứ tự, ví dụ: số 1.")
    return "\n".join([text, *extra]) if text else "\n".join(extra)


# --------------------------------------------------------------------------- tokens


def atomic_write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` so that a crash leaves either the old or the new file, mode 0600.

    Zalo refresh tokens are single-use: losing the new one locks the bot out
    until an administrator re-authorises the app.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(str(path.parent), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _seed(refresh_token: str) -> str:
    """Fingerprint of the configured refresh token (never the token itself) kept in the token file."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16] if refresh_token else ""


class TokenManager:
    """Current access token, its expiry and the single-use refresh token.

    On start the token file wins when it descends from the configured refresh
    token (same seed) or when no token is configured; new tokens in the
    credentials (a re-authorisation) win over an older file.
    """

    def __init__(self, config: ZaloConfig) -> None:
        self.config = config
        self.access_token = config.access_token
        self.refresh_token = config.refresh_token
        self.expires_at: float | None = None  # unknown for a token pasted into the credentials
        self._lock = asyncio.Lock()
        self.refreshes = 0
        self._load()

    def _load(self) -> None:
        path = self.config.token_file
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            logger.warning("zalo: token file %s unreadable (%s); using the credentials", path, type(exc).__name__)
            return
        if not isinstance(data, dict) or not data.get("access_token") and not data.get("refresh_token"):
            return
        configured = bool(self.config.access_token or self.config.refresh_token)
        if configured and data.get("seed") != _seed(self.config.refresh_token):
            logger.info("zalo: credentials carry new tokens; the token file will be replaced on the next refresh")
            return
        self.access_token = str(data.get("access_token") or "")
        self.refresh_token = str(data.get("refresh_token") or "")
        exp = data.get("expires_at")
        self.expires_at = float(exp) if isinstance(exp, (int, float)) else None
        logger.info("zalo: tokens loaded from %s", path)

    @property
    def usable(self) -> bool:
        return bool(self.access_token or self.refresh_token)

    def _save(self) -> None:
        atomic_write_json(
            self.config.token_file,
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
                "updated_at": time.time(),
                "seed": _seed(self.config.refresh_token),
            },
        )

    async def current(self, session: aiohttp.ClientSession) -> str:
        """The access token, refreshed first when it expires within ``REFRESH_MARGIN_S``."""
        if not self.access_token or (self.expires_at is not None and time.time() > self.expires_at - REFRESH_MARGIN_S):
            await self.refresh(session, self.access_token)
        return self.access_token

    async def refresh(self, session: aiohttp.ClientSession, stale: str) -> bool:
        """Exchange the refresh token once, even when many sends notice the expiry at once.

        ``stale`` is the access token the caller saw rejected: when another task
        has already replaced it, there is nothing to do.
        """
        async with self._lock:
            if self.access_token and self.access_token != stale:
                return True
            if not (self.refresh_token and self.config.app_secret and self.config.app_id):
                logger.error("zalo: access token rejected/expired and no refresh token or app secret to renew it")
                return False
            url = f"{self.config.oauth_base}/v4/oa/access_token"
            form = {"app_id": self.config.app_id, "grant_type": "refresh_token", "refresh_token": self.refresh_token}
            try:
                async with session.post(url, data=form, headers={"secret_key": self.config.app_secret}) as resp:
                    status = resp.status
                    payload = await resp.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                logger.error("zalo: token refresh failed: %s", type(exc).__name__)
                return False
            if not isinstance(payload, dict) or not payload.get("access_token") or not payload.get("refresh_token"):
                err = payload.get("error") if isinstance(payload, dict) else None
                desc = payload.get("error_description") if isinstance(payload, dict) else None
                logger.error("zalo: token refresh refused (HTTP %s, error %s: %s)", status, err, desc)
                return False
            self.access_token = str(payload["access_token"])
            self.refresh_token = str(payload["refresh_token"])
            try:
                self.expires_at = time.time() + float(payload.get("expires_in") or 0) or None
            except (TypeError, ValueError):
                self.expires_at = None
            self.refreshes += 1
            try:
                self._save()
            except OSError as exc:  # keep serving; the operator must fix the path
                logger.error("zalo: could not store the new refresh token in %s: %s", self.config.token_file, exc)
            logger.info("zalo: access token refreshed (stored in %s)", self.config.token_file)
            return True


# --------------------------------------------------------------------------- sending


class ZaloClient:
    """Sends consultation messages through OA API v3 with one lazily created HTTP session."""

    def __init__(self, config: ZaloConfig, tokens: TokenManager | None = None,
                 retry_delays: Tuple[float, ...] = RETRY_DELAYS_S) -> None:
        self.config = config
        self.tokens = tokens or TokenManager(config)
        self.retry_delays = retry_delays
        self._session: aiohttp.ClientSession | None = None
        self._send_tails: Dict[str, asyncio.Task] = {}
        self._send_tasks: set = set()  # strong references: the loop keeps only weak ones

    def enqueue_reply(self, recipient: Mapping[str, str], text: str,
                      buttons: List[Mapping[str, Any]] | None = None) -> asyncio.Task:
        """Send in the background, after this recipient's earlier replies.

        The dialogue turn does not wait for Zalo: a send retrying a 5xx for a few
        seconds holds neither the turn nor a dialogue slot, yet one citizen's
        messages still arrive in the order the bot said them.
        """
        key = json.dumps(dict(recipient), sort_keys=True)
        previous = self._send_tails.get(key)

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            try:
                await self.send_reply(recipient, text, buttons)
            except Exception:
                logger.exception("zalo: sending a reply failed")

        task = asyncio.get_running_loop().create_task(run())
        self._send_tails[key] = task
        self._send_tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._send_tasks.discard(t)
            if self._send_tails.get(key) is t:
                del self._send_tails[key]

        task.add_done_callback(done)
        return task

    def session(self) -> aiohttp.ClientSession:
        """One session per channel, created inside the running loop (aiohttp requires it)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10, connect=5))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def send_reply(self, recipient: Mapping[str, str], text: str,
                         buttons: List[Mapping[str, Any]] | None = None) -> bool:
        """One bot utterance: options rendered as numbered lines, then split for Zalo's limit."""
        ok = True
        for part in split_message(render_options(text or "", buttons), self.config.max_message_chars):
            ok = await self.send_text(recipient, part) and ok
        return ok

    async def send_text(self, recipient: Mapping[str, str], text: str) -> bool:
        """POST one text; retry server/network errors with backoff, refresh once on a token error."""
        body = {"recipient": dict(recipient), "message": {"text": text}}
        url = f"{self.config.api_base}/v3.0/oa/message/cs"
        session = self.session()
        refreshed = False
        attempt = 0
        while True:
            token = await self.tokens.current(session)
            problem = ""
            try:
                async with session.post(url, json=body, headers={"access_token": token}) as resp:
                    status = resp.status
                    payload = await resp.json(content_type=None) if status < 500 else None
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                status, payload, problem = 0, None, type(exc).__name__
            if 200 <= status < 300 and isinstance(payload, dict):
                error = payload.get("error")
                if error == 0:
                    return True
                if error in TOKEN_ERRORS and not refreshed:
                    logger.warning("zalo: access token rejected (error %s); refreshing once", error)
                    refreshed = True
                    if await self.tokens.refresh(session, token):
                        continue
                logger.error("zalo: message refused (error %s: %s)", error, payload.get("message"))
                return False
            if status == 0 or status >= 500:
                problem = problem or f"HTTP {status}"
                if attempt < len(self.retry_delays):
                    delay = self.retry_delays[attempt]
                    attempt += 1
                    logger.warning("zalo: send failed (%s); retry %d in %.1f s", problem, attempt, delay)
                    await asyncio.sleep(delay)
                    continue
                logger.error("zalo: send failed (%s) after %d retries; message dropped", problem, attempt)
                return False
            logger.error("zalo: send refused (HTTP %s)", status)
            return False


# --------------------------------------------------------------------------- webhook


@dataclass
class Inbound:
    """One validated event that needs an answer."""

    kind: str  # "text" | "follow" | "unsupported"
    tracker_key: str
    recipient: Dict[str, str]
    event_name: str
    text: str = ""
    msg_id: str = ""


class SeenSet:
    """Bounded LRU/TTL set of event ids, so that Zalo's retries are answered once."""

    def __init__(self, maxlen: int = 20000, ttl_s: float = 3600.0) -> None:
        self.maxlen, self.ttl_s = maxlen, ttl_s
        self._items: OrderedDict[str, float] = OrderedDict()

    def add(self, key: str) -> bool:
        """Record ``key``; False when it was already seen (within the TTL)."""
        now = time.monotonic()
        while self._items:
            oldest, at = next(iter(self._items.items()))
            if now - at <= self.ttl_s and len(self._items) < self.maxlen:
                break
            self._items.popitem(last=False)
        if key in self._items:
            return False
        self._items[key] = now
        return True


def _id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _ID_OK.fullmatch(value):
        return value
    return None


Dispatch = Callable[[Inbound], Awaitable[None]]


@dataclass
class ZaloWebhook:
    """Validates webhook requests and runs each user's turns in order, in the background."""

    config: ZaloConfig
    dispatch: Dispatch
    enabled: bool = True
    # Rasa runs its models on the event loop: a few turns at a time keep webhook acknowledgements fast.
    max_turns: int = 2
    seen: SeenSet = field(default_factory=SeenSet)
    _tails: Dict[str, asyncio.Task] = field(default_factory=dict)
    _tasks: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(max(1, self.max_turns))

    def handle(self, raw: bytes, headers: Mapping[str, str], now_ms: float | None = None) -> Tuple[int, Dict[str, Any]]:
        """Answer one webhook request synchronously; the dialogue turn is scheduled, not awaited."""
        if not self.enabled:
            return 503, OFF_MESSAGE
        declared = headers.get("content-length")
        try:
            too_big = declared is not None and int(declared) > MAX_BODY_BYTES
        except ValueError:
            too_big = False
        if too_big or len(raw) > MAX_BODY_BYTES:
            return 413, {"error": "Nội dung quá lớn (tối đa 64 kB). Request body too large."}
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return 400, {"error": "Nội dung không phải JSON hợp lệ. Invalid JSON."}
        if not isinstance(body, dict):
            return 400, {"error": "Nội dung phải là một đối tượng JSON. JSON object expected."}
        signature = headers.get(SIGNATURE_HEADER) or headers.get("X-ZEvent-Signature")
        if not signature:
            return 401, {"error": "Thiếu chữ ký X-ZEvent-Signature. Missing signature."}
        ts = event_timestamp(body)
        if ts is None or not verify_signature(signature, self.config.app_id, raw, ts, self.config.oa_secret_key):
            return 401, {"error": "Chữ ký không hợp lệ. Invalid signature."}
        now_ms = time.time() * 1000 if now_ms is None else now_ms
        if abs(now_ms - int(ts)) > self.config.timestamp_window_s * 1000:
            return 401, {"error": "Sự kiện quá cũ hoặc sai giờ. Timestamp outside the allowed window."}
        event = body.get("event_name")
        if not isinstance(event, str) or not event:
            return 400, {"error": "Thiếu event_name. Missing event_name."}
        try:
            inbound = self._parse(event, body)
        except ValueError as exc:
            return 400, {"error": f"Sự kiện không hợp lệ: {exc}. Malformed event."}
        if inbound is None:
            logger.info("zalo: event %s ignored", event if _EVENT_NAME_OK.fullmatch(event) else "(unrecognised name)")
            return 200, {"status": "ignored"}
        key = inbound.msg_id or f"{event}:{inbound.tracker_key}:{ts}"
        if not self.seen.add(key):
            logger.info("zalo: duplicate event ignored")
            return 200, {"status": "duplicate"}
        self._enqueue(inbound)
        return 200, {"status": "accepted"}

    def _parse(self, event: str, body: Mapping[str, Any]) -> Inbound | None:
        if event not in TEXT_EVENTS and event not in FOLLOW_EVENTS and event not in UNSUPPORTED_EVENTS:
            return None
        anonymous = event.startswith("anonymous_")
        if event in FOLLOW_EVENTS:
            follower = body.get("follower")
            uid = _id(follower.get("id")) if isinstance(follower, dict) else None
            if uid is None:
                raise ValueError("follower.id")
            return Inbound("follow", f"zalo:{uid}", {"user_id": uid}, event)
        sender = body.get("sender")
        uid = _id(sender.get("id")) if isinstance(sender, dict) else None
        if uid is None:
            raise ValueError("sender.id")
        message = body.get("message")
        if not isinstance(message, dict):
            raise ValueError("message")
        msg_id = message.get("msg_id")
        if isinstance(msg_id, bool) or (msg_id is not None and not isinstance(msg_id, (str, int))):
            raise ValueError("message.msg_id")
        msg_id = str(msg_id)[:128] if msg_id is not None else ""
        if anonymous:
            # An anonymous user is answered in its conversation (anonymous_id + conversation_id).
            conv = _id(message.get("conversation_id"))
            if conv is None:
                raise ValueError("message.conversation_id")
            recipient = {"anonymous_id": uid, "conversation_id": conv}
            key = f"zalo:anon:{uid}"
        else:
            recipient, key = {"user_id": uid}, f"zalo:{uid}"
        if event in UNSUPPORTED_EVENTS:
            return Inbound("unsupported", key, recipient, event, msg_id=msg_id)
        text = message.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError("message.text")
        # Button clicks (oa.query.show / oa.query.hide) arrive as user_send_text carrying the payload.
        text = nfc(text or "")[:MAX_MESSAGE_CHARS]
        return Inbound("text", key, recipient, event, text=text, msg_id=msg_id)

    def _enqueue(self, inbound: Inbound) -> None:
        """Chain the turn after the same user's previous one; other users run concurrently."""
        previous = self._tails.get(inbound.tracker_key)
        task = asyncio.get_running_loop().create_task(self._run(previous, inbound))
        self._tails[inbound.tracker_key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t, k=inbound.tracker_key: self._done(k, t))

    def _done(self, key: str, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    async def _run(self, previous: asyncio.Task | None, inbound: Inbound) -> None:
        if previous is not None:
            # wait() neither raises the previous turn's failure (already logged) nor cancels it.
            await asyncio.wait([previous])
        try:
            async with self._slots:
                await self.dispatch(inbound)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("zalo: handling %s failed", inbound.event_name)

    async def drain(self) -> None:
        """Wait for scheduled turns (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
