"""A Twilio stand-in that places a call and speaks Media Streams byte for byte.

Why: the gateway's contract is Twilio's wire protocol, so the tests drive it
the way Twilio does --

1. ``POST /twilio/voice`` with the form fields of an incoming call, signed
   with ``X-Twilio-Signature`` computed here from Twilio's documented
   algorithm (HMAC-SHA1 over the URL followed by the sorted ``key+value``
   pairs, base64), independently of the twilio library the gateway uses;
2. reading the TwiML answer and opening the ``<Stream>`` WebSocket with its
   ``<Parameter>`` values;
3. sending ``connected`` and ``start``, then an uninterrupted 20 ms cadence
   of ``media`` frames (base64 μ-law, string ``sequenceNumber``, ``chunk`` and
   ``timestamp`` fields, as Twilio sends them) -- silence unless the caller
   "says" something -- plus ``dtmf`` and ``stop``;
4. playing the gateway's outbound ``media`` in real time, echoing each
   ``mark`` when playback reaches it, and on ``clear`` dropping the buffer and
   echoing pending marks at once (Twilio's documented behaviour).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from voice.audio import FRAME_SAMPLES, ULAW_SILENCE, rms, ulaw_encode

FRAME_S = 0.02
SILENT_FRAME = bytes([ULAW_SILENCE]) * FRAME_SAMPLES


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature for a form POST, per Twilio's security docs."""
    data = url + "".join(k + params[k] for k in sorted(params))
    mac = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class Utterance:
    """What the simulated caller said and when (monotonic clock)."""

    frames: int
    started: float = 0.0  # first frame sent
    first_voiced: float = 0.0
    last_voiced: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Received:
    """One message from the gateway with its arrival time."""

    at: float
    message: dict[str, Any]


class TwilioCallSimulator:
    """One simulated phone call against a running gateway."""

    def __init__(
        self,
        base_url: str,
        auth_token: str,
        account_sid: str = "AC" + "0" * 32,
        caller: str = "+84912345678",
        called: str = "+842812345678",
        session: aiohttp.ClientSession | None = None,
        voiced_threshold: float = 200.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.caller = caller
        self.called = called
        self.call_sid = "CA" + uuid.uuid4().hex
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self._own_session = session is None
        self.session = session or aiohttp.ClientSession()
        self.voiced_threshold = voiced_threshold
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.stream_url = ""
        self.parameters: dict[str, str] = {}
        self.twiml = ""
        self.received: list[Received] = []
        self.clears: list[float] = []
        self.marks_echoed: list[str] = []
        self.media_frames = 0
        self.underruns = 0  # playback found the buffer empty mid-clip
        self.closed_code: int | None = None
        self.closed_reason = ""
        self._seq = 0
        self._chunk = 0
        self._t0 = 0.0
        self._mic: deque[tuple[bytes, Utterance, bool, bool, bool]] = deque()
        self._playback: deque[bytes | str] = deque()  # frames and mark names
        self._tasks: list[asyncio.Task[None]] = []
        self._new_message = asyncio.Event()

    # --------------------------------------------------------------- setup

    async def place_call(self, sign: bool = True, bad_signature: bool = False) -> aiohttp.ClientResponse:
        """POST the incoming-call webhook; returns the raw response."""
        url = f"{self.base_url}/twilio/voice"
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "CallStatus": "ringing",
            "Called": self.called,
            "Caller": self.caller,
            "Direction": "inbound",
            "From": self.caller,
            "To": self.called,
        }
        headers = {}
        if sign:
            token = self.auth_token + ("x" if bad_signature else "")
            headers["X-Twilio-Signature"] = twilio_signature(token, url, params)
        resp = await self.session.post(url, data=params, headers=headers)
        self.twiml = await resp.text()
        if resp.status == 200:
            self._parse_twiml(self.twiml)
        return resp

    def _parse_twiml(self, twiml: str) -> None:
        root = ET.fromstring(twiml)
        stream = root.find("./Connect/Stream")
        if stream is None:
            raise AssertionError(f"no <Connect><Stream> in TwiML: {twiml}")
        self.stream_url = stream.attrib["url"]
        self.parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}

    async def connect(self, send_start: bool = True, parameters: dict[str, str] | None = None) -> None:
        """Open the Media Streams socket and start the 20 ms media cadence."""
        url = self.stream_url
        if url.startswith("wss://127.0.0.1") or url.startswith("wss://localhost"):
            url = "ws://" + url[len("wss://") :]  # loopback tests have no TLS
        self.ws = await self.session.ws_connect(url, autoclose=False, max_msg_size=1 << 20)
        self._t0 = time.monotonic()
        self._tasks.append(asyncio.create_task(self._reader(), name="reader"))
        self._tasks.append(asyncio.create_task(self._player()))
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        if send_start:
            await self.send_start(parameters)

    async def send_start(self, parameters: dict[str, str] | None = None) -> None:
        """The ``start`` event, then the microphone task."""
        await self.send_json(
            {
                "event": "start",
                "sequenceNumber": self._next_seq(),
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": self.parameters if parameters is None else parameters,
                },
                "streamSid": self.stream_sid,
            }
        )
        self._tasks.append(asyncio.create_task(self._microphone()))

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def send_json(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(message, ensure_ascii=False))

    async def send_raw(self, text: str) -> None:
        """Send an arbitrary text frame (malformed-input tests)."""
        assert self.ws is not None
        await self.ws.send_str(text)

    def media_message(self, frame: bytes) -> dict[str, Any]:
        """A ``media`` event exactly as Twilio formats it."""
        self._chunk += 1
        return {
            "event": "media",
            "sequenceNumber": self._next_seq(),
            "media": {
                "track": "inbound",
                "chunk": str(self._chunk),
                "timestamp": str(int((time.monotonic() - self._t0) * 1000)),
                "payload": base64.b64encode(frame).decode("ascii"),
            },
            "streamSid": self.stream_sid,
        }

    # -------------------------------------------------------------- caller

    def say(self, pcm8: np.ndarray) -> Utterance:
        """Queue 8 kHz int16 speech on the microphone; returns its timing record."""
        ulaw = ulaw_encode(pcm8)
        n = (len(ulaw) + FRAME_SAMPLES - 1) // FRAME_SAMPLES
        utt = Utterance(frames=n)
        if n == 0:
            utt.done.set()
        for i in range(n):
            frame = ulaw[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            frame += bytes([ULAW_SILENCE]) * (FRAME_SAMPLES - len(frame))
            voiced = rms(pcm8[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]) >= self.voiced_threshold
            self._mic.append((frame, utt, i == 0, i == n - 1, voiced))
        return utt

    async def press(self, digit: str) -> None:
        """A keypad press as a ``dtmf`` event."""
        await self.send_json(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": self._next_seq(),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def hang_up(self) -> None:
        """``stop`` event, then close the socket (what Twilio does on hang-up)."""
        await self._stop_tasks(keep_reader=True)
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send_json(
                    {
                        "event": "stop",
                        "sequenceNumber": self._next_seq(),
                        "streamSid": self.stream_sid,
                        "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                    }
                )
            await self.ws.close()
        await self._stop_tasks()

    async def drop(self) -> None:
        """Close the socket abruptly, without ``stop`` (network failure)."""
        await self._stop_tasks(keep_reader=True)
        if self.ws is not None:
            await self.ws.close()
        await self._stop_tasks()

    async def close(self) -> None:
        """Release the simulator's own resources."""
        await self._stop_tasks()
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self._own_session:
            await self.session.close()

    async def _stop_tasks(self, keep_reader: bool = False) -> None:
        keep = []
        for task in self._tasks:
            if keep_reader and task.get_name().startswith("reader"):
                keep.append(task)
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = keep

    # ------------------------------------------------------------- tasks

    async def _microphone(self) -> None:
        """Inbound media every 20 ms on an absolute clock (no drift).

        When the microphone stops (the socket closed, the call ended), every utterance still
        queued is marked done, so a test waiting on one fails on its next check instead of
        waiting forever.
        """
        try:
            await self._microphone_loop()
        finally:
            while self._mic:
                self._mic.popleft()[1].done.set()

    async def _microphone_loop(self) -> None:
        start = time.monotonic()
        n = 0
        while True:
            due = start + n * FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            item = self._mic.popleft() if self._mic else None
            frame = item[0] if item is not None else SILENT_FRAME
            if self.ws is None or self.ws.closed:
                return
            now = time.monotonic()
            try:
                await self.send_json(self.media_message(frame))
            except (ConnectionError, RuntimeError):
                return
            if item is not None:
                _frame, utt, first, last, voiced = item
                if first:
                    utt.started = now
                if voiced:
                    utt.first_voiced = utt.first_voiced or now
                    utt.last_voiced = now
                if last:
                    utt.done.set()
            n += 1

    async def _reader(self) -> None:
        assert self.ws is not None
        while True:
            msg = await self.ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                self.closed_reason = str(msg.extra or "")
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            now = time.monotonic()
            self.received.append(Received(now, data))
            event = data.get("event")
            if event == "media":
                self.media_frames += 1
                self._playback.append(base64.b64decode(data["media"]["payload"]))
            elif event == "mark":
                self._playback.append(str(data["mark"]["name"]))
            elif event == "clear":
                self.clears.append(now)
                marks = [x for x in self._playback if isinstance(x, str)]
                self._playback.clear()
                for name in marks:
                    await self._echo_mark(name)
            self._new_message.set()
        if not self.ws.closed:
            await self.ws.close()
        self.closed_code = self.ws.close_code
        self._new_message.set()

    async def _player(self) -> None:
        """Consume outbound audio at 20 ms per frame, in real time; echo marks when reached.

        Every frame that is due is played on each wake-up: when this process's own loop runs
        late (twenty simulated calls on a busy machine), playback keeps Twilio's real-time pace
        instead of slowing down with it.
        """
        playing = False
        next_due = time.monotonic()
        while True:
            now = time.monotonic()
            while self._playback:
                head = self._playback[0]
                if isinstance(head, str):
                    self._playback.popleft()
                    await self._echo_mark(head)
                    playing = False
                    continue
                if not playing:
                    playing, next_due = True, now
                if now < next_due:
                    break
                self._playback.popleft()
                next_due += FRAME_S
            if not self._playback and playing and now > next_due + FRAME_S:
                # The clip has not ended (no mark yet) but there is no audio.
                self.underruns += 1
                next_due = now
            await asyncio.sleep(0.005)

    async def _echo_mark(self, name: str) -> None:
        self.marks_echoed.append(name)
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send_json(
                    {
                        "event": "mark",
                        "sequenceNumber": self._next_seq(),
                        "streamSid": self.stream_sid,
                        "mark": {"name": name},
                    }
                )

    # ------------------------------------------------------------ queries

    def bot_speaking(self) -> bool:
        """True while outbound audio is buffered (Twilio is playing it)."""
        return any(isinstance(x, bytes) for x in self._playback)

    def first_media_after(self, t: float) -> float | None:
        """Arrival time of the first outbound media frame after ``t``."""
        for r in self.received:
            if r.at > t and r.message.get("event") == "media":
                return r.at
        return None

    def events(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.message.get("event") == kind]

    async def wait_until(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (checked on every message)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("condition not met in time")
            self._new_message.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._new_message.wait(), min(remaining, 0.05))

    async def wait_bot_quiet(self, timeout: float = 20.0, quiet_s: float = 0.3) -> None:
        """Wait until the bot has stopped talking (buffer drained, no new audio)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = max((r.at for r in self.events("media")), default=0.0)
            if not self.bot_speaking() and time.monotonic() - last > quiet_s:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("bot kept talking")
