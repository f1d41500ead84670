"""The gateway's HTTP and WebSocket endpoints (aiohttp).

* ``POST /twilio/voice`` -- Twilio's incoming-call webhook.  The request must
  carry a valid ``X-Twilio-Signature`` (checked with the twilio library's
  ``RequestValidator`` against the public URL Twilio called), otherwise 403.
  The answer is TwiML: a short Vietnamese greeting, then
  ``<Connect><Stream url="wss://…/twilio/stream">`` with the caller's number and
  a per-call token as stream parameters.
* ``WS /twilio/stream`` -- Twilio Media Streams (bidirectional).  Handles the
  ``connected``, ``start``, ``media``, ``mark``, ``dtmf`` and ``stop`` events.
  The ``start`` event must carry the token issued by the webhook (an HMAC of
  the CallSid under the auth token), so nobody can open a stream without a
  signed webhook first.  Malformed frames and media before ``start`` are
  logged and ignored; a flood of them closes the socket with a reason.  On
  ``stop`` or socket close every per-call resource is released.
* ``GET /healthz`` -- live calls, recognisers and queue depth (JSON).
* ``GET /metrics`` -- per-turn stage latencies of recent calls (JSON).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
from collections import deque
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

from vntext.pii import mask_pii
from voice.asr import AsrEngine
from voice.call import WELCOME, CallSession, Services, prepare_ack
from voice.config import Settings
from voice.dialogue import RasaClient
from voice.tts import PromptCache, TtsError, engine_from_settings
from voice.twilio_rest import SmsGuard, TwilioGateway

log = logging.getLogger(__name__)

GREETING = "Xin chào, đây là tổng đài hỗ trợ thủ tục hành chính."
MAX_BAD_FRAMES = 50  # malformed frames tolerated per socket before closing
MAX_EARLY_MEDIA = 250  # media frames before "start" (5 s) before closing

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
SESSIONS: web.AppKey[dict[str, CallSession]] = web.AppKey("sessions", dict)
STATS: web.AppKey[dict[str, int]] = web.AppKey("stats", dict)
OWNED: web.AppKey[list[Any]] = web.AppKey("owned", list)
FINISHED: web.AppKey[deque[Any]] = web.AppKey("finished_metrics", deque)
LOOP_LAG: web.AppKey[LoopLag] = web.AppKey("loop_lag")


class LoopLag:
    """How late the event loop runs a timer: the real-time path's health.

    Every inbound frame, VAD decision, timer and outbound frame of every call runs on this
    one loop; when it is starved (CPU-bound work in the process, other processes on the
    cores) every call's audio is late together.  A 20 ms timer is measured for how late it
    fires; the last ``keep`` samples are kept for ``/metrics``.
    """

    PERIOD_S = 0.02

    def __init__(self, keep: int = 30000) -> None:
        self.samples: deque[tuple[float, float]] = deque(maxlen=keep)  # (loop time, lateness s)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.PERIOD_S
            await asyncio.sleep(self.PERIOD_S)
            now = loop.time()
            self.samples.append((now, max(0.0, now - due)))

    def since(self, t: float) -> list[float]:
        """Lateness samples (ms) taken after loop time ``t``."""
        return [round(lag * 1000, 1) for at, lag in self.samples if at >= t]


def stream_token(auth_token: str, call_sid: str) -> str:
    """Per-call secret placed in the TwiML and checked on ``start``."""
    return hmac.new(auth_token.encode(), call_sid.encode(), hashlib.sha256).hexdigest()


def _forwarded_trusted(request: web.Request, settings: Settings) -> bool:
    """``X-Forwarded-*`` is believed only from a configured proxy (anyone can send the header)."""
    return bool(settings.trusted_proxies) and (request.remote or "") in settings.trusted_proxies


def public_url(request: web.Request, settings: Settings) -> str:
    """The URL Twilio requested, as Twilio saw it (what it signed).

    The raw path and query (``raw_path``, still percent-encoded) are used: Twilio signs the
    URL byte for byte, and a decoded path would make valid signatures fail (or let two
    different URLs share one).
    """
    raw = request.raw_path
    if settings.public_base_url:
        return settings.public_base_url + raw
    if _forwarded_trusted(request, settings):
        proto = request.headers.get("X-Forwarded-Proto", request.scheme)
        host = request.headers.get("X-Forwarded-Host", request.host)
    else:
        proto, host = request.scheme, request.host
    return f"{proto}://{host}{raw}"


def stream_url(request: web.Request, settings: Settings) -> str:
    """wss:// URL of our Media Streams endpoint."""
    if settings.public_base_url:
        base = settings.public_base_url
        base = "wss://" + base[len("https://") :] if base.startswith("https://") else base
        base = "ws://" + base[len("http://") :] if base.startswith("http://") else base
        return base + "/twilio/stream"
    trusted = _forwarded_trusted(request, settings)
    host = request.headers.get("X-Forwarded-Host", request.host) if trusted else request.host
    return f"wss://{host}/twilio/stream"


async def voice_webhook(request: web.Request) -> web.Response:
    """Incoming call: check the signature, answer with TwiML."""
    settings = request.app[SETTINGS]
    form = await request.post()
    params = {k: str(v) for k, v in form.items()}
    if settings.validate_signature:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not settings.twilio_auth_token:
            log.error("TWILIO_AUTH_TOKEN is not set: refusing unsigned webhook")
            raise web.HTTPForbidden(text="signature validation is not configured")
        validator = RequestValidator(settings.twilio_auth_token)
        if not signature or not validator.validate(public_url(request, settings), params, signature):
            log.warning("rejected webhook with a bad signature from %s", request.remote)
            raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
    call_sid = params.get("CallSid", "")
    if not call_sid:
        raise web.HTTPBadRequest(text="CallSid missing")
    response = VoiceResponse()
    response.say(GREETING, language="vi-VN", voice=settings.say_voice)
    connect = Connect()
    stream = connect.stream(url=stream_url(request, settings))
    stream.parameter(name="caller", value=params.get("From", ""))
    stream.parameter(name="token", value=stream_token(settings.twilio_auth_token, call_sid))
    response.append(connect)
    return web.Response(text=str(response), content_type="text/xml", charset="utf-8")


class StreamHandler:
    """One Media Streams WebSocket: parses events, owns the CallSession."""

    def __init__(self, app: web.Application, ws: web.WebSocketResponse) -> None:
        self.app = app
        self.ws = ws
        self.settings = app[SETTINGS]
        self.session: CallSession | None = None
        self.bad_frames = 0
        self.early_media = 0
        self._send_lock = asyncio.Lock()
        self._start_task: asyncio.Task[None] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        """Serialised JSON send (several tasks talk on one socket)."""
        if self.ws.closed:
            raise ConnectionResetError("websocket closed")
        async with self._send_lock:
            await self.ws.send_str(json.dumps(message, separators=(",", ":")))

    async def close_with(self, code: int, reason: str) -> None:
        """Close the socket, telling the peer why."""
        log.warning("closing stream: %s", reason)
        await self.ws.close(code=code, message=reason.encode()[:120])

    def _bad(self, why: str, raw: str | bytes) -> bool:
        self.bad_frames += 1
        self.app[STATS]["bad_frames"] += 1
        log.warning("ignored malformed stream frame (%s): %.80r", why, raw)
        return self.bad_frames > MAX_BAD_FRAMES

    async def on_text(self, raw: str) -> None:
        """Dispatch one text frame."""
        try:
            data = json.loads(raw)
        except ValueError:
            if self._bad("not JSON", raw):
                await self.close_with(1007, "too many malformed frames")
            return
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            if self._bad("no event", raw):
                await self.close_with(1007, "too many malformed frames")
            return
        event = data["event"]
        try:
            if event == "connected":
                log.debug("stream connected: protocol=%s", data.get("protocol"))
            elif event == "start":
                await self._on_start(data)
            elif event == "media":
                await self._on_media(data)
            elif event == "mark":
                if self.session is not None:
                    self.session.on_mark(str(data["mark"]["name"]))
            elif event == "dtmf":
                if self.session is not None:
                    self.session.on_dtmf(str(data["dtmf"]["digit"]))
            elif event == "stop":
                log.info("stream stopped by Twilio")
                await self.release()
                await self.ws.close(code=1000, message=b"stop")
            else:
                log.debug("ignored stream event %r", event)
        except (KeyError, TypeError, AttributeError) as exc:
            if self._bad(f"bad {event} event: {exc!r}", raw):
                await self.close_with(1007, "too many malformed frames")

    async def _on_start(self, data: dict[str, Any]) -> None:
        if self.session is not None:
            log.warning("duplicate start event ignored")
            return
        start = data["start"]
        stream_sid = str(data.get("streamSid") or start["streamSid"])
        encoding = (start.get("mediaFormat") or {}).get("encoding", "audio/x-mulaw")
        if encoding != "audio/x-mulaw":
            await self.close_with(1003, f"unsupported media format {encoding}")
            return
        call_sid = str(start["callSid"])
        params = start.get("customParameters") or {}
        if self.settings.validate_signature:
            expected = stream_token(self.settings.twilio_auth_token, call_sid)
            if not hmac.compare_digest(str(params.get("token", "")), expected):
                self.app[STATS]["bad_tokens"] += 1
                await self.close_with(1008, "invalid stream token")
                return
        session = CallSession(
            self.app[SERVICES],
            call_sid=call_sid,
            stream_sid=stream_sid,
            account_sid=str(start.get("accountSid", "")),
            caller=str(params.get("caller", "")),
            send=self.send,
        )
        self.session = session
        self.app[SESSIONS][stream_sid] = session
        self.app[STATS]["calls"] += 1
        log.info("call %s from %s started (stream %s)", call_sid, mask_pii(params.get("caller", "")), stream_sid)
        self._start_task = asyncio.create_task(session.start())

    async def _on_media(self, data: dict[str, Any]) -> None:
        if self.session is None:
            self.early_media += 1
            self.app[STATS]["early_media"] += 1
            if self.early_media == 1:
                log.warning("media before start: ignored")
            if self.early_media > MAX_EARLY_MEDIA:
                await self.close_with(1008, "media before start")
            return
        media = data["media"]
        if media.get("track", "inbound") != "inbound":
            return
        try:
            payload = base64.b64decode(media["payload"], validate=True)
        except (binascii.Error, ValueError):
            if self._bad("bad base64 payload", str(media.get("payload"))[:40]):
                await self.close_with(1007, "too many malformed frames")
            return
        self.session.on_media(payload)

    async def release(self) -> None:
        """Free the call (idempotent): session, recognisers, player, timers."""
        session, self.session = self.session, None
        if self._start_task is not None:
            self._start_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._start_task
            self._start_task = None
        if session is not None:
            self.app[SESSIONS].pop(session.stream_sid, None)
            self.app[STATS]["ended"] += 1
            await session.close()
            self.app[FINISHED].append(session.metrics)
            log.info("call %s released", session.call_sid)


async def stream_ws(request: web.Request) -> web.WebSocketResponse:
    """Media Streams WebSocket endpoint."""
    ws = web.WebSocketResponse(max_msg_size=1 << 16, autoping=True)
    await ws.prepare(request)
    handler = StreamHandler(request.app, ws)
    try:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await handler.on_text(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                if handler._bad("binary frame", msg.data[:40]):
                    await handler.close_with(1003, "binary frames are not Media Streams")
            elif msg.type == aiohttp.WSMsgType.ERROR:
                log.warning("stream socket error: %s", ws.exception())
                break
    finally:
        await handler.release()
    return ws


async def healthz(request: web.Request) -> web.Response:
    """Liveness plus the counters the tests and operators look at."""
    services = request.app.get(SERVICES)
    body: dict[str, Any] = {"calls": len(request.app[SESSIONS]), **request.app[STATS]}
    if services is not None:
        body.update(
            recognizers=services.asr.live_recognizers,
            asr_jobs=services.asr.pending_jobs(),
            asr_rtf=round(services.asr.stats.real_time_factor, 4),
            tts_cache_hits=services.tts.hits,
            tts_cache_misses=services.tts.misses,
        )
    return web.json_response(body)


def _call_summary(m: Any) -> dict[str, Any]:
    turns = [
        {
            "endpoint_ms": round((t.final - t.speech_end) * 1000, 1) if t.speech_end else None,
            "rasa_ms": round((t.rasa_done - t.final) * 1000, 1) if t.rasa_done else None,
            "tts_ms": round((t.first_frame - (t.rasa_done or t.final)) * 1000, 1),
            "total_ms": round((t.first_frame - t.speech_end) * 1000, 1) if t.speech_end else None,
            "answer_ms": round((t.answer_frame - t.speech_end) * 1000, 1) if t.speech_end and t.answer_frame else None,
            "acknowledged": t.acknowledged,
        }
        for t in m.turns
    ]
    return {
        "turns": turns,
        "barge_in_ms": [round(x * 1000, 1) for x in m.barge_ins],
        "frames_sent": m.frames_sent,
        "underruns": m.underruns,
        "failed_recognitions": m.failed_recognitions,
        "transfers": m.transfers,
        "sms_sent": m.sms_sent,
    }


async def metrics(request: web.Request) -> web.Response:
    """Per-turn stage latencies of recent and live calls (for benchmarks/ops)."""
    finished = [_call_summary(m) for m in request.app[FINISHED]]
    live = [_call_summary(s.metrics) for s in request.app[SESSIONS].values()]
    services = request.app.get(SERVICES)
    asr = services.asr.stats if services is not None else None
    body: dict[str, Any] = {
        "finished": finished,
        "live": live,
        "asr": {"audio_s": asr.audio_s, "cpu_s": asr.cpu_s, "jobs": asr.jobs} if asr else None,
        "loop_time": asyncio.get_running_loop().time(),
    }
    since = request.query.get("loop_lag_since")
    if since is not None:
        with contextlib.suppress(ValueError):
            body["loop_lag_ms"] = request.app[LOOP_LAG].since(float(since))
    return web.json_response(body)


async def build_services(
    settings: Settings, asr: AsrEngine | None = None
) -> tuple[Services, list[Any]]:
    """Load the model (unless given) and open the clients; returns what to close."""
    if asr is None:
        asr = await asyncio.to_thread(AsrEngine.from_settings, settings)
    http = aiohttp.ClientSession()
    rasa = RasaClient(settings.rasa_url, http, settings.rasa_timeout_s)
    tts = PromptCache(engine_from_settings(settings), settings.tts_cache_dir,
                      max_disk_bytes=settings.tts_cache_max_mb * 1024 * 1024)
    twilio = TwilioGateway(
        settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_base_url
    )
    return Services(settings, asr, tts, rasa, twilio, SmsGuard(settings.sms_max_per_day)), [http, twilio, asr]


def create_app(
    settings: Settings,
    services: Services | None = None,
    preloaded_asr: AsrEngine | None = None,
) -> web.Application:
    """The aiohttp application; ``services`` lets tests inject their own."""
    app = web.Application()
    app[SETTINGS] = settings
    app[SESSIONS] = {}
    app[STATS] = {"calls": 0, "ended": 0, "bad_frames": 0, "early_media": 0, "bad_tokens": 0}
    app[OWNED] = []
    app[FINISHED] = deque(maxlen=500)
    app[LOOP_LAG] = LoopLag()
    if services is not None:
        app[SERVICES] = services

    async def on_startup(app: web.Application) -> None:
        if SERVICES not in app:
            app[SERVICES], app[OWNED] = await build_services(settings, preloaded_asr)
            # the fixed prompts said under load are synthesised before the first call
            with contextlib.suppress(TtsError):
                await app[SERVICES].tts.ulaw(WELCOME)
        await prepare_ack(app[SERVICES])  # "Dạ.", pre-encoded: said from the loop, never synthesised per turn
        app[LOOP_LAG].start()

    async def on_shutdown(app: web.Application) -> None:
        await app[LOOP_LAG].stop()
        for session in list(app[SESSIONS].values()):
            with contextlib.suppress(Exception):
                await session.close()
        app[SESSIONS].clear()

    async def on_cleanup(app: web.Application) -> None:
        for owned in app[OWNED]:
            if isinstance(owned, AsrEngine):
                await asyncio.to_thread(owned.shutdown)
            else:
                await owned.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    app.router.add_post("/twilio/voice", voice_webhook)
    app.router.add_get("/twilio/stream", stream_ws)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
