"""One phone call: the conversation state machine and the audio player.

Pipeline, in the spirit of Pipecat's processors, one direction each:

    inbound media -> RecognizerStream (VAD, Vosk) -> AsrEvent
        -> CallSession (turn logic) -> Rasa -> voice formatting -> TTS
        -> Player (paced 20 ms μ-law frames, marks) -> outbound media

Why a state machine: a phone conversation has modes a chat does not -- the
bot may be talking while the caller starts to speak (barge-in: we send
``clear`` so Twilio drops the queued audio), the bot may be waiting for a
yes/no answer (grammar recogniser on), or the caller may be using the keypad
menu.  Every turn is processed by one task per call, in order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from vntext.numbers import DIGITS
from vntext.pii import mask_pii
from voice.asr import AsrEngine, AsrEvent, RecognizerStream
from voice.audio import FRAME_MS, rms, ulaw_decode, ulaw_frames
from voice.config import Settings
from voice.dialogue import BotReply, RasaClient, for_tts, sms_body, spoken
from voice.speech import ASK_MORE, SMS_OFFER, first_turn, offer
from voice.tts import PromptCache, TtsError
from voice.twilio_rest import HANGUP_TWIML, SmsGuard, TwilioGateway, TwilioRestError, dial_twiml

log = logging.getLogger(__name__)

FRAME_S = FRAME_MS / 1000.0

# What the bot says (kept short; read by TTS, so no abbreviations).
WELCOME = "Xin mời anh chị nói câu hỏi về thủ tục hành chính."
NOT_HEARD = "Xin lỗi, tôi chưa nghe rõ. Anh chị vui lòng nói lại."
MENU = (
    "Anh chị có thể dùng bàn phím. Bấm phím một để nghe hồ sơ cần chuẩn bị. "
    "Phím hai để nghe lệ phí. Phím ba để nghe thời gian giải quyết. "
    "Phím không để gặp tổng đài viên."
)
BAD_KEY = "Phím này không có trong danh sách."
ASK_YES_NO = "Anh chị vui lòng nói có hoặc không."
OFFER_SMS = "Anh chị có muốn nhận thông tin chi tiết qua tin nhắn không?"
SMS_SENT = "Tôi đã gửi tin nhắn. Anh chị cần hỏi thêm gì không?"
SMS_FAILED = "Xin lỗi, hiện chưa gửi được tin nhắn."
NEXT_QUESTION = "Anh chị cần hỏi thêm gì không?"
TRANSFERRING = "Xin anh chị chờ trong giây lát, tôi đang chuyển máy tới tổng đài viên."
CONFIRM_TRANSFER = "Anh chị muốn gặp tổng đài viên phải không? Anh chị nói có, hoặc bấm phím không."
SMS_LIMIT = "Xin lỗi, số điện thoại này không nhận được thêm tin nhắn hôm nay."
NO_OPERATOR = "Xin lỗi, hiện chưa có tổng đài viên trực. Anh chị có thể hỏi tôi tiếp."
GOODBYE = "Cảm ơn anh chị đã gọi. Xin chào."
ACK = "Dạ."  # the backchannel a Vietnamese clerk gives before answering; short, so the answer is not held back

YES_WORDS = ("có", "vâng", "đúng", "được", "ừ", "dạ", "tiếp", "đồng ý")
NO_WORDS = ("không", "thôi", "không cần")
DIGIT_WORDS = {word: str(i) for i, word in enumerate(DIGITS)}  # "không" → "0" … "chín" → "9"
WORD_OF_DIGIT = {d: w for w, d in DIGIT_WORDS.items()}
MENU_KEYWORDS = ("bàn phím", "bấm phím", "menu", "phím số")
OPERATOR = "__operator__"


@dataclass
class TurnTiming:
    """Loop timestamps of one caller turn (for the latency benchmark)."""

    speech_end: float = 0.0  # last voiced frame received
    final: float = 0.0  # transcript ready
    rasa_done: float = 0.0
    first_frame: float = 0.0  # first outbound frame after the caller's speech (the acknowledgement, if one was said)
    answer_frame: float = 0.0  # first outbound frame of the answer itself
    acknowledged: bool = False  # "Dạ." was said while the assistant was slow
    text: str = ""


@dataclass
class CallMetrics:
    """What one call measured; aggregated by the benchmark and the tests."""

    turns: list[TurnTiming] = field(default_factory=list)
    barge_ins: list[float] = field(default_factory=list)  # seconds, onset -> clear
    frames_sent: int = 0
    underruns: int = 0
    marks_sent: int = 0
    marks_received: int = 0
    transcripts: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)  # sentences queued for playback
    failed_recognitions: int = 0
    menu_offers: int = 0
    transfers: int = 0
    sms_sent: int = 0


SendJson = Callable[[dict[str, Any]], Awaitable[None]]


class Player:
    """Sends μ-law audio to Twilio in paced 20 ms frames and tracks marks.

    Frames are sent on a real-time schedule with ``lead_frames`` sent ahead as
    a jitter cushion: Twilio plays what it receives, so sending a whole prompt
    at once would make ``clear`` the only way to stop it and would hide
    underruns.  A frame sent after the moment Twilio should already be playing
    it counts as an underrun.  After each clip a ``mark`` is sent; Twilio echoes
    it when playback reaches it, which is how we know the bot has finished.
    """

    def __init__(
        self, send: SendJson, stream_sid: str, lead_frames: int, metrics: CallMetrics
    ) -> None:
        self.send = send
        self.stream_sid = stream_sid
        self.lead_frames = max(0, lead_frames)
        self.metrics = metrics
        self._queue: asyncio.Queue[tuple[list[bytes], str, asyncio.Future[None], Callable[[float], None] | None] | None]
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"player-{stream_sid}")
        self._sending = False
        self._pending_marks: dict[str, asyncio.Future[None]] = {}
        self._counter = 0
        self._generation = 0
        self.on_first_frame: Callable[[float], None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active(self) -> bool:
        """True while audio is queued, being sent, or not yet played out."""
        return self._sending or not self._queue.empty() or bool(self._pending_marks)

    def enqueue(self, ulaw: bytes, on_start: Callable[[float], None] | None = None) -> asyncio.Future[None]:
        """Queue a clip; the future resolves when Twilio has played it (mark).

        ``on_start`` is called with the send time of the clip's first frame.
        """
        return self.enqueue_frames(ulaw_frames(ulaw), on_start)

    def enqueue_frames(
        self, frames: list[bytes], on_start: Callable[[float], None] | None = None
    ) -> asyncio.Future[None]:
        """Queue a clip already cut into 20 ms frames (the pre-encoded acknowledgement)."""
        self._counter += 1
        name = f"clip-{self._counter}"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle.clear()
        self._queue.put_nowait((frames, name, done, on_start))
        return done

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until everything queued has been played (or was cleared)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    def stop(self) -> None:
        """Drop queued and unplayed audio (the caller sends ``clear`` itself)."""
        self._generation += 1
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                _frames, _name, done, _start = item
                if not done.done():
                    done.set_result(None)
        for fut in self._pending_marks.values():
            if not fut.done():
                fut.set_result(None)
        self._pending_marks.clear()
        self._update_idle()

    def on_mark(self, name: str) -> None:
        """Twilio played up to mark ``name`` (or dropped it after ``clear``)."""
        fut = self._pending_marks.pop(name, None)
        self.metrics.marks_received += 1
        if fut is not None and not fut.done():
            fut.set_result(None)
        self._update_idle()

    def _update_idle(self) -> None:
        if not self.active:
            self._idle.set()

    async def close(self) -> None:
        """Stop the sender task and resolve every waiter."""
        self.stop()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._idle.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        clock_start = 0.0  # send time of frame 0 of the current continuous stream
        clock_index = 0  # frames sent on this clock
        while True:
            item = await self._queue.get()
            if item is None:
                return
            frames, name, done, on_start = item
            generation = self._generation
            self._sending = True
            now = loop.time()
            # Continue the running clock if the previous clip has not yet
            # drained from Twilio's buffer; otherwise start a new one.
            if now > clock_start + (clock_index + self.lead_frames) * FRAME_S:
                clock_start, clock_index = now, 0
            first = True
            try:
                for frame in frames:
                    if generation != self._generation:
                        break
                    due = clock_start + (clock_index - self.lead_frames) * FRAME_S
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if generation != self._generation:
                        break
                    sent_at = loop.time()
                    if sent_at > clock_start + (clock_index + self.lead_frames) * FRAME_S + 0.001:
                        self.metrics.underruns += 1
                    await self.send(
                        {
                            "event": "media",
                            "streamSid": self.stream_sid,
                            "media": {"payload": base64.b64encode(frame).decode("ascii")},
                        }
                    )
                    self.metrics.frames_sent += 1
                    clock_index += 1
                    if first:
                        first = False
                        if self.on_first_frame is not None:
                            self.on_first_frame(sent_at)
                        if on_start is not None:
                            on_start(sent_at)
                if generation == self._generation:
                    self._pending_marks[name] = done
                    await self.send(
                        {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}
                    )
                    self.metrics.marks_sent += 1
                elif not done.done():
                    done.set_result(None)
            except Exception as exc:  # noqa: BLE001 - socket gone: nothing to play to
                log.info("player for %s stopped: %s", self.stream_sid, exc)
                if not done.done():
                    done.set_result(None)
                self._sending = False
                self.stop()
                return
            finally:
                self._sending = False
                self._update_idle()


@dataclass
class Services:
    """Everything shared by all calls of one gateway process."""

    settings: Settings
    asr: AsrEngine
    tts: PromptCache
    rasa: RasaClient
    twilio: TwilioGateway
    sms_guard: SmsGuard = field(default_factory=SmsGuard)
    #: "Dạ." as 20 ms μ-law frames, synthesised once at start-up (:func:`prepare_ack`): saying it
    #: costs no TTS job, no thread hand-off and no await, so it is never queued behind other work.
    ack_frames: list[bytes] | None = None


async def prepare_ack(services: Services) -> None:
    """Synthesise the acknowledgement once (start-up); without it no acknowledgement is said.

    Its trailing silence is cut (espeak-ng ends every clip with ~0.4 s of it), so the answer
    queued behind "Dạ." is not held back by silence.
    """
    if services.ack_frames is None:
        try:
            services.ack_frames = trim_silence(ulaw_frames(await services.tts.ulaw(ACK)))
        except TtsError as exc:
            log.error("the acknowledgement %r could not be synthesised, it will not be said: %s", ACK, exc)


def trim_silence(frames: list[bytes], level: float = 50.0) -> list[bytes]:
    """Drop the silent 20 ms frames before the first and after the last audible one (one kept after)."""
    loud = [i for i, f in enumerate(frames) if rms(ulaw_decode(f)) >= level]
    if not loud:
        return frames
    return frames[loud[0] : loud[-1] + 2]


class CallSession:
    """State of one call, from the Media Streams ``start`` event to ``stop``."""

    def __init__(
        self,
        services: Services,
        *,
        call_sid: str,
        stream_sid: str,
        account_sid: str = "",
        caller: str = "",
        send: SendJson,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self.account_sid = account_sid
        self.caller = caller
        self.send = send
        self.metrics = CallMetrics()
        self.loop = asyncio.get_running_loop()
        self.player = Player(send, stream_sid, self.settings.playback_lead_frames, self.metrics)
        self.player.on_first_frame = self._on_first_frame
        self.asr = RecognizerStream(services.asr, self.settings, self._on_asr_event, self.loop)
        self.mode = "free"  # free | more_docs | sms | menu | choose | confirm_transfer
        self.failed = 0
        self.no_input = 0
        self.closed = False
        self.transferring = False
        self._inputs: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._turn_task = asyncio.create_task(self._turn_loop(), name=f"turns-{call_sid}")
        self._no_input_task: asyncio.Task[None] | None = None
        self._barged = False
        self._busy = False
        self._docs: list[str] = []  # spoken items (documents, steps) still to read, three at a time
        self._doc_pos = 0
        self._choices: list[str] = []  # Rasa button payloads for keys 1..N
        self._last_reply: BotReply | None = None
        self._offer_aspect: str | None = None
        self._can_offer = False
        self._timing: TurnTiming | None = None
        self._ack_timer: asyncio.TimerHandle | None = None
        self._ack_said = False  # "Dạ." queued for the caller's latest utterance
        self._ack_anchor = 0.0  # what its deadline counts from (end of speech, or the key press)
        self._ack_frame_at = 0.0  # send time of its first frame
        self._tasks: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Greet the caller (the TwiML <Say> already said hello).

        The greeting goes through the call's input queue, like every turn: a key pressed
        while it is being synthesised is answered after it (and interrupts it), never
        before it with the greeting played afterwards.
        """
        self._inputs.put_nowait(("greet", None))

    async def close(self) -> None:
        """Free everything this call holds (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self._no_input_task is not None:
            self._no_input_task.cancel()
        self._cancel_ack()
        self._turn_task.cancel()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._turn_task
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.player.close()
        await self.asr.close()

    # ------------------------------------------------------ Twilio events

    def on_media(self, ulaw: bytes) -> None:
        """Inbound caller audio (one Media Streams ``media`` payload)."""
        if not self.closed:
            self.asr.feed(ulaw)

    def on_mark(self, name: str) -> None:
        """Twilio reached one of our marks."""
        self.player.on_mark(name)
        if not self.player.active:
            self._arm_no_input()

    def on_dtmf(self, digit: str) -> None:
        """A key press; it interrupts the bot like speech does."""
        if self.closed:
            return
        self._cancel_no_input()
        self._cancel_ack()  # the key's own turn has its own deadline
        if self.player.active or self._busy:
            self._barge_in(self.loop.time(), source="dtmf")
        self._inputs.put_nowait(("dtmf", digit))

    # --------------------------------------------------------- recognition

    def _on_asr_event(self, ev: AsrEvent) -> None:
        if self.closed:
            return
        if ev.kind in ("speech_start", "partial"):
            self._cancel_no_input()
            if ev.kind == "speech_start":
                self._cancel_ack()  # the caller speaks again: no "Dạ." over them
            if self.player.active and self.settings.barge_in and not self.transferring:
                self._barge_in(ev.at if ev.kind == "speech_start" else self.loop.time(), ev.source)
        elif ev.kind == "end":
            # The caller stopped talking: the acknowledgement's deadline counts from here, so
            # neither a recogniser busy with other calls nor the assistant delays it.
            if self._timing is not None and not self._busy:
                self._timing = None  # a finished turn that never played audio: not this utterance's
            self._ack_said, self._ack_frame_at = False, 0.0
            self._arm_ack(ev.speech_end_at)
        elif ev.kind == "final":
            self._inputs.put_nowait(("final", ev))

    def _barge_in(self, onset: float, source: str) -> None:
        """Caller interrupts: drop our queued audio here and at Twilio."""
        self.player.stop()
        self._spawn(self.send({"event": "clear", "streamSid": self.stream_sid}))
        latency = self.loop.time() - onset
        self.metrics.barge_ins.append(latency)
        self._barged = True
        log.info("barge-in on %s (%s) after %.0f ms", self.call_sid, source, latency * 1000)

    # ----------------------------------------------------------- turn loop

    async def _turn_loop(self) -> None:
        while True:
            kind, value = await self._inputs.get()
            self._busy = True
            self._barged = False
            try:
                if kind == "greet":
                    await self._say([WELCOME])
                elif kind == "final":
                    await self._on_final(value)
                elif kind == "dtmf":
                    await self._on_digit(value)
                elif kind == "no_input":
                    await self._on_no_input()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad turn must not end the call
                log.exception("turn failed on %s", self.call_sid)
            finally:
                self._busy = False
            self._arm_no_input()

    async def _on_final(self, ev: AsrEvent) -> None:
        text = ev.text.strip()
        self.metrics.transcripts.append(text)
        log.info("call %s heard %r (%s) grammar=%r", self.call_sid, mask_pii(text), ev.reason, ev.grammar_text)
        self._timing = TurnTiming(speech_end=ev.speech_end_at, final=ev.at, text=text)
        if self._ack_said:  # "Dạ." already went out, before the transcript was ready
            self._timing.acknowledged = True
            if self._ack_frame_at:
                self._on_first_frame(self._ack_frame_at)
        self._ack_said, self._ack_frame_at = False, 0.0
        if self.mode == "confirm_transfer":
            yes = self._yes_no(ev)
            self._set_mode("free")
            if yes:
                await self._transfer()
                return
            if yes is False or not text:
                await self._offer_menu()
                return
        if self.mode in ("more_docs", "sms"):
            answer = self._yes_no(ev)
            if answer is not None:
                await self._on_yes_no(answer)
                return
            if not text:
                await self._failure(reprompt=ASK_YES_NO)
                return
            self._set_mode("free")  # a new question instead of an answer
        if self.mode in ("menu", "choose"):
            digit = self._spoken_digit(ev)
            if digit is not None:
                if self.settings.dtmf_menu.get(digit) == OPERATOR and self.mode == "menu":
                    # "không" is also "no": never transfer on a spoken word alone
                    self._set_mode("confirm_transfer")
                    await self._say([CONFIRM_TRANSFER])
                    return
                await self._on_digit(digit)
                return
        if not text:
            await self._failure()
            return
        if any(k in text for k in MENU_KEYWORDS):
            await self._offer_menu()
            return
        await self._ask_rasa(text)

    def _yes_no(self, ev: AsrEvent) -> bool | None:
        words = (ev.grammar_text or "").split()
        if not words or ev.grammar_confidence < self.settings.yes_no_min_confidence:
            return None
        joined = " ".join(words)
        yes = any(w in YES_WORDS for w in words) or joined in YES_WORDS
        no = any(w in NO_WORDS for w in words) or joined in NO_WORDS
        if yes == no:
            return None
        return yes

    def _spoken_digit(self, ev: AsrEvent) -> str | None:
        words = (ev.grammar_text or "").split()
        if len(words) == 1 and words[0] in DIGIT_WORDS:
            return DIGIT_WORDS[words[0]]
        return None

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode in ("more_docs", "sms", "confirm_transfer"):
            self.asr.set_grammar(list(YES_WORDS + NO_WORDS))
        elif mode == "menu":
            self.asr.set_grammar([WORD_OF_DIGIT[d] for d in self.settings.dtmf_menu if d in WORD_OF_DIGIT])
        elif mode == "choose":
            self.asr.set_grammar([WORD_OF_DIGIT[str(i)] for i in range(1, min(len(self._choices), 9) + 1)])
        else:
            self.asr.set_grammar(None)

    async def _failure(self, reprompt: str = NOT_HEARD) -> None:
        self.failed += 1
        self.metrics.failed_recognitions += 1
        if self.failed >= self.settings.max_failed_recognitions:
            self.failed = 0
            await self._offer_menu()
        else:
            await self._say([reprompt])

    async def _offer_menu(self) -> None:
        self.metrics.menu_offers += 1
        self._set_mode("menu")
        await self._say([MENU])

    async def _on_digit(self, digit: str) -> None:
        if self.mode == "confirm_transfer":
            self._set_mode("menu")
            if self.settings.dtmf_menu.get(digit) == OPERATOR:
                self._set_mode("free")
                await self._transfer()
                return
        if self.mode == "choose" and digit.isdigit() and 1 <= int(digit) <= len(self._choices):
            choice = self._choices[int(digit) - 1]
            self._set_mode("free")
            self._timing = TurnTiming(final=self.loop.time(), text=choice)
            await self._ask_rasa(choice)
            return
        action = self.settings.dtmf_menu.get(digit)
        if digit in ("*", "#"):
            await self._offer_menu()
            return
        if action is None:
            await self._say([BAD_KEY, MENU])
            self._set_mode("menu")
            return
        self.failed = 0
        self._set_mode("free")
        if action == OPERATOR:
            await self._transfer()
            return
        self._timing = TurnTiming(final=self.loop.time(), text=action)
        await self._ask_rasa(action)

    async def _on_no_input(self) -> None:
        self.no_input += 1
        if self.no_input >= 3:
            await self._say([GOODBYE])
            await self.player.wait_idle(timeout=10)
            with contextlib.suppress(TwilioRestError):
                await self.services.twilio.update_call(self.call_sid, HANGUP_TWIML)
            return
        await self._failure()

    # -------------------------------------------------------------- Rasa

    async def _ask_rasa(self, text: str) -> None:
        self.no_input = 0
        timing = self._timing  # kept here: the acknowledgement's first frame files it under metrics.turns
        if self._ack_timer is None and not (timing is not None and timing.acknowledged):
            # a key press (spoken turns armed the deadline when the caller stopped talking)
            self._ack_said, self._ack_frame_at = False, 0.0
            self._arm_ack((timing.speech_end or timing.final) if timing is not None else 0.0)
        await self._answer(text, timing)

    def _arm_ack(self, anchor: float) -> None:
        """Schedule "Dạ." ``ACK_AFTER_MS`` after ``anchor`` (the end of the caller's speech, or a key press).

        The deadline is on the caller's clock, not the assistant's: whatever is slow -- the
        recogniser's final result, the assistant, or the synthesis of the answer's first
        sentence -- the caller hears the acknowledgement by then, unless the answer's own audio
        has been queued first, or the caller speaks again (either cancels it).  It is a loop
        timer that queues pre-encoded frames: nothing to synthesise, nothing to await.
        """
        self._cancel_ack()
        if self.settings.ack_after_ms <= 0 or not self.services.ack_frames or self.closed:
            return
        self._ack_anchor = anchor = anchor or self.loop.time()
        self._ack_timer = self.loop.call_at(anchor + self.settings.ack_after_ms / 1000.0, self._acknowledge)

    def _cancel_ack(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None

    def _acknowledge(self) -> None:
        """Nothing to play yet: "Dạ." now, from the loop; the answer follows it in the same queue."""
        self._ack_timer = None
        frames = self.services.ack_frames
        if self.closed or self.transferring or self.player.active or self.asr.in_speech or not frames:
            return  # the caller is hearing the bot already, or talking
        self._ack_said = True
        timing = self._timing
        if timing is not None and not timing.first_frame and (timing.speech_end or timing.final) == self._ack_anchor:
            timing.acknowledged = True  # the transcript is in: this turn's acknowledgement
        self.metrics.said.append(ACK)
        self._cancel_no_input()
        self.player.enqueue_frames(frames, self._ack_started)

    def _ack_started(self, at: float) -> None:
        self._ack_frame_at = at

    async def _answer(self, text: str, timing: TurnTiming | None) -> None:
        reply = await self.services.rasa.send(self.call_sid, text)
        if timing is not None:
            timing.rasa_done = self.loop.time()
        said = spoken(reply, hotline=self.settings.hotline)
        if said.handoff:
            await self._transfer(said.sentences)
            return
        if reply.is_empty and not reply.error:
            await self._failure()
            return
        self.failed = 0
        self._last_reply = reply
        self._docs = said.items
        self._choices = said.choices
        self._offer_aspect = said.aspect
        self._can_offer = said.offer
        sentences, self._doc_pos, mode = first_turn(
            said, self.settings.documents_per_turn, self._offer_sms_possible(reply)
        )
        self._set_mode(mode)
        await self._say(sentences)

    def _closing(self) -> list[str]:
        """After an answer: the "nghe tiếp" offer, and the SMS offer when SMS can go to this caller."""
        if not self._can_offer:
            self._set_mode("free")
            return []
        out = [offer(self._offer_aspect)]
        if self._offer_sms_possible(self._last_reply):
            out.append(SMS_OFFER)
            self._set_mode("sms")
        else:
            self._set_mode("free")
        return out

    def _next_documents(self) -> list[str]:
        n = self.settings.documents_per_turn
        out = self._docs[self._doc_pos : self._doc_pos + n]
        self._doc_pos = min(len(self._docs), self._doc_pos + n)
        return out

    def _offer_sms_possible(self, reply: BotReply | None) -> bool:
        if reply is None or not self.settings.sms_enabled or not self.caller:
            return False
        return reply.main.facts is not None and self.services.sms_guard.eligible(self.caller)

    async def _on_yes_no(self, yes: bool) -> None:
        self.failed = 0
        if self.mode == "more_docs":
            if yes:
                sentences = self._next_documents()
                if self._doc_pos < len(self._docs):
                    sentences.append(ASK_MORE)
                else:
                    sentences += self._closing() or [NEXT_QUESTION]
                await self._say(sentences)
            else:
                await self._say(self._closing() or [NEXT_QUESTION])
            return
        if self.mode == "sms":
            self._set_mode("free")
            if yes and self._last_reply is not None:
                if not self.services.sms_guard.take(self.caller):
                    await self._say([SMS_LIMIT, NEXT_QUESTION])
                    return
                try:
                    await self.services.twilio.send_sms(
                        self.caller, self.settings.hotline, sms_body(self._last_reply)
                    )
                    self.metrics.sms_sent += 1
                    await self._say([SMS_SENT])
                except TwilioRestError as exc:
                    log.error("%s", mask_pii(exc))
                    await self._say([SMS_FAILED, NEXT_QUESTION])
            else:
                await self._say([NEXT_QUESTION])

    # ----------------------------------------------------------- transfer

    async def _transfer(self, before: list[str] | None = None) -> None:
        operator = self.settings.operator_number
        if not operator or not self.services.twilio.configured:
            await self._say([NO_OPERATOR])
            return
        self.transferring = True
        self.metrics.transfers += 1
        await self._say(list(before or []) + [TRANSFERRING])
        await self.player.wait_idle(timeout=15)
        try:
            await self.services.twilio.update_call(
                self.call_sid, dial_twiml(operator)
            )
        except TwilioRestError as exc:
            log.error("%s", exc)
            self.transferring = False
            await self._say([NO_OPERATOR])

    # ------------------------------------------------------------ speaking

    async def _say(self, sentences: list[str], answer: bool = True) -> None:
        """Synthesise and queue speech, first sentence first (lowest latency).

        ``answer=False`` (the acknowledgement) does not count as the turn's answer in the metrics.
        """
        sentences = [s for s in sentences if s.strip()]
        if not sentences or self.closed:
            return
        self.metrics.said.extend(sentences)
        self._cancel_no_input()
        # Short first chunk so audio starts quickly; the rest in one clip,
        # synthesised while the first one plays.
        chunks = [for_tts(sentences[0])]
        if len(sentences) > 1:
            chunks.append(for_tts(" ".join(sentences[1:])))
        for index, chunk in enumerate(chunks):
            try:
                audio = await self.services.tts.ulaw(chunk, urgent=index == 0)
            except TtsError as exc:
                log.error("TTS failed: %s", exc)
                continue
            if self._barged or self.closed:
                break
            self._cancel_ack()  # the answer's own audio is ready: no acknowledgement any more
            self.player.enqueue(audio, self._answer_started if answer and index == 0 else None)

    def _answer_started(self, at: float) -> None:
        timing = self._timing or (self.metrics.turns[-1] if self.metrics.turns else None)
        if timing is not None and not timing.answer_frame:
            timing.answer_frame = at

    def _on_first_frame(self, at: float) -> None:
        timing = self._timing
        if timing is not None and not timing.first_frame:
            timing.first_frame = at
            self.metrics.turns.append(timing)
            self._timing = None

    # ------------------------------------------------------------ no input

    def _arm_no_input(self) -> None:
        if self.closed or self._busy or self.player.active or self.asr.in_speech:
            return
        if not self._inputs.empty():
            return
        self._cancel_no_input()
        self._no_input_task = asyncio.create_task(self._no_input_timer())

    def _cancel_no_input(self) -> None:
        if self._no_input_task is not None:
            self._no_input_task.cancel()
            self._no_input_task = None

    async def _no_input_timer(self) -> None:
        await asyncio.sleep(self.settings.no_input_timeout_ms / 1000.0)
        if not (self.closed or self._busy or self.player.active or self.asr.in_speech):
            self._inputs.put_nowait(("no_input", None))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_task_error)


def _log_task_error(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("background send failed: %s", task.exception())
