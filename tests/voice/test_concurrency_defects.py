"""Concurrency defects of the gateway, each pinned by a test that failed before its fix.

* the greeting raced the first turn (a key pressed during the greeting was answered, then the
  greeting played after the answer);
* two calls sharing one TTS job: the first caller hanging up failed the job for the other;
* a failed recognition job returned without re-arming: the utterance was lost and the stream
  stayed "awaiting final";
* the TTS disk cache read and wrote on the event loop and grew without limit;
* "không" spoken in the keypad menu was taken as key 0 and transferred the caller at once.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.voice.support.tiny_model import tone_burst
from voice import call as C
from voice.asr import AsrEngine, AsrEvent, RecognizerStream
from voice.audio import FRAME_SAMPLES, ulaw_encode
from voice.config import Settings
from voice.tts import EspeakTts, PromptCache

from .conftest import OPERATOR, Gateway
from .test_call_flows import bot_done, finish, session_of, speak, wait_said

pytestmark = pytest.mark.asyncio


class SlowTts:
    """espeak-ng, with chosen texts held back (a slow first synthesis) and every text recorded."""

    def __init__(self, slow: dict[str, float]) -> None:
        self.inner = EspeakTts(rate_wpm=190)
        self.slow = slow
        self.texts: list[str] = []

    @property
    def cache_key(self) -> str:
        return "slow-" + self.inner.cache_key

    async def synthesize_wav(self, text: str) -> bytes:
        self.texts.append(text)
        await asyncio.sleep(self.slow.get(text, 0.0))
        return await self.inner.synthesize_wav(text)


async def test_a_key_pressed_during_the_greeting_is_answered_after_it_never_before(make_gateway: Any) -> None:
    engine = SlowTts({C.WELCOME: 1.0})
    cache = PromptCache(engine, None)
    gw: Gateway = await make_gateway(tts=cache)
    queued: list[bytes] = []
    sim = gw.call()
    try:
        await sim.place_call()
        await sim.connect()
        await sim.wait_until(lambda: sim.stream_sid in gw.sessions, timeout=5)
        session = session_of(gw, sim)
        enqueue = session.player.enqueue
        session.player.enqueue = lambda audio, *a: (queued.append(audio), enqueue(audio, *a))[1]  # type: ignore[method-assign]
        await sim.press("2")  # while the greeting is still being synthesised
        await wait_said(session, sim, "hai trăm nghìn đồng", timeout=15)
        await bot_done(session, sim)
        texts = {cache._memory[cache.key(t)]: t for t in engine.texts if cache.key(t) in cache._memory}
        order = [texts.get(a, "?") for a in queued]
        answer_at = next(i for i, t in enumerate(order) if "hai trăm nghìn đồng" in t)
        assert C.WELCOME not in order[answer_at:], order
        assert gw.rasa.turns and gw.rasa.turns[0]["message"] == gw.settings.dtmf_menu["2"]
    finally:
        await finish(gw, sim)


async def test_a_caller_hanging_up_does_not_fail_the_tts_job_another_call_waits_for() -> None:
    engine = SlowTts({"Lệ phí là hai trăm nghìn đồng.": 0.4})
    cache = PromptCache(engine, None)
    first = asyncio.create_task(cache.ulaw("Lệ phí là hai trăm nghìn đồng."))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(cache.ulaw("Lệ phí là hai trăm nghìn đồng."))
    await asyncio.sleep(0.05)
    first.cancel()  # the first caller hangs up
    audio = await asyncio.wait_for(second, 10)
    assert len(audio) > 1000 and engine.texts == ["Lệ phí là hai trăm nghìn đồng."]
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_failed_recognition_job_rearms_and_the_utterance_gets_a_final(vosk_model: Any, tiny_model_dir: Path) -> None:
    engine = AsrEngine(vosk_model, tiny_model_dir, workers=2)
    events: list[AsrEvent] = []
    stream = RecognizerStream(engine, Settings().with_overrides(silence_ms=500), events.append)
    work = stream._work
    failed: list[bool] = []

    def flaky(job: Any) -> Any:
        if job.finalize and not failed:
            failed.append(True)
            raise RuntimeError("decoder crashed")
        return work(job)

    stream._work = flaky  # type: ignore[method-assign]

    async def play(word: str) -> None:
        pcm = np.concatenate([tone_burst(word), np.zeros(6400, np.int16)])
        ulaw = ulaw_encode(pcm)
        for i in range(0, len(ulaw) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            stream.feed(ulaw[i : i + FRAME_SAMPLES])
            await asyncio.sleep(0)

    async def finals(n: int) -> list[AsrEvent]:
        for _ in range(500):
            if sum(e.kind == "final" for e in events) >= n:
                break
            await asyncio.sleep(0.01)
        return [e for e in events if e.kind == "final"]

    try:
        await play("hai")
        got = await finals(1)
        assert failed and len(got) == 1, "the utterance whose job failed must still end with a final"
        assert not stream._awaiting_final
        await play("tám")
        got = await finals(2)
        assert len(got) == 2 and got[1].text == "tám", "recognition must go on after a failed job"
    finally:
        await stream.close()
        engine.shutdown()


async def test_tts_disk_cache_io_is_off_the_event_loop_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop_thread = threading.current_thread()
    io_threads: list[threading.Thread] = []
    for name in ("read_bytes", "write_bytes"):
        original = getattr(Path, name)

        def spy(self: Path, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if self.suffix in (".ulaw", ".tmp") or ".tmp" in self.name:
                io_threads.append(threading.current_thread())
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Path, name, spy)
    cache = PromptCache(EspeakTts(rate_wpm=190), tmp_path, max_disk_bytes=40_000)
    for i in range(6):
        await cache.ulaw(f"Câu thử số {i}, đủ dài để có vài nghìn byte âm thanh.")
    again = PromptCache(EspeakTts(rate_wpm=190), tmp_path, max_disk_bytes=40_000)
    await again.ulaw("Câu thử số 5, đủ dài để có vài nghìn byte âm thanh.")  # read back from disk
    assert io_threads and loop_thread not in io_threads
    assert again.hits == 1
    assert sum(p.stat().st_size for p in tmp_path.glob("*.ulaw")) <= 40_000
    assert len(list(tmp_path.glob("*.ulaw"))) < 6


async def test_spoken_khong_in_the_menu_asks_before_transferring(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        session = session_of(gateway, sim)
        await bot_done(session, sim)
        await sim.press("*")
        await wait_said(session, sim, "Bấm phím một")
        await speak(session, sim, "không")  # "no" — or the digit zero?
        await wait_said(session, sim, C.CONFIRM_TRANSFER)
        assert gateway.twilio.call_updates == [] and session.mode == "confirm_transfer"
        await speak(session, sim, "có")
        await sim.wait_until(lambda: gateway.twilio.call_updates, timeout=20)
        assert OPERATOR in gateway.twilio.call_updates[0]["Twiml"]
    finally:
        await finish(gateway, sim)
