"""Twenty simultaneous calls through one gateway: no cross-talk, no lost audio.

Underruns (a frame sent after Twilio should already be playing it) are a
real-time figure: one pause of the shared test process (a full garbage
collection over everything the earlier tests loaded, the CI machine's other
tenants) delays every call's next frame at once.  They are printed here and
their target, none with 20 calls, is checked by ``benchmarks/voice_latency.py``
in a process of its own; this test checks what does not depend on the clock.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import Any

import pytest

from tests.voice.support.simulator import TwilioCallSimulator
from tests.voice.support.tiny_model import tone_burst

from .conftest import Gateway
from .test_gateway_protocol import wait_released

pytestmark = pytest.mark.asyncio

WORDS = ["hai", "ba", "chín", "có", "không"]  # the fake Rasa answers these with short text


async def one_call(gw: Gateway, sim: TwilioCallSimulator, word: str) -> float:
    """Greeting, one question, the start of the answer; returns latency in seconds."""
    await sim.place_call()
    await sim.connect()
    await sim.wait_until(lambda: sim.media_frames > 0, timeout=20)
    session = gw.sessions[sim.stream_sid]
    await sim.wait_until(lambda: not (session.player.active or session._busy), timeout=30)
    await sim.wait_bot_quiet(timeout=30)
    utt = sim.say(tone_burst(word, lead_s=0.1, tail_s=0.1))
    await asyncio.wait_for(utt.done.wait(), timeout=60)  # a stalled microphone fails, never hangs
    await sim.wait_until(lambda: sim.first_media_after(utt.last_voiced) is not None, timeout=20)
    latency = sim.first_media_after(utt.last_voiced) - utt.last_voiced  # type: ignore[operator]
    await sim.wait_until(lambda: not (session.player.active or session._busy), timeout=30)
    await sim.wait_bot_quiet(timeout=30)
    return latency


class GcPauses:
    """Longest garbage-collection pause while the calls run, to explain underruns."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._start)


async def test_twenty_concurrent_calls(gateway: Gateway) -> None:
    sims = [gateway.call(caller=f"+8490000{i:04d}") for i in range(20)]
    words = [WORDS[i % len(WORDS)] for i in range(20)]
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    try:
        latencies = await asyncio.gather(*(one_call(gateway, s, w) for s, w in zip(sims, words, strict=True)))
        assert len(gateway.sessions) == 20
        # Every call's question reached Rasa once, under its own CallSid.
        by_sender = {t["sender"]: t["message"] for t in gateway.rasa.turns}
        assert len(gateway.rasa.turns) == 20
        assert by_sender == {s.call_sid: w for s, w in zip(sims, words, strict=True)}
        # Every frame the gateway sent reached its own caller, and every clip was played out.
        for sim in sims:
            m = gateway.sessions[sim.stream_sid].metrics
            assert m.frames_sent > 0 and sim.media_frames == m.frames_sent, (sim.media_frames, m.frames_sent)
            assert m.marks_sent >= 2 and len(sim.marks_echoed) == m.marks_sent == m.marks_received
            assert m.barge_ins == []
        metrics = [s.metrics for s in gateway.sessions.values()]
        p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
        print(f"\n20 calls: end of speech -> first answer frame p50={statistics.median(latencies) * 1000:.0f} ms "
              f"p95={p95 * 1000:.0f} ms; ASR real-time factor {gateway.services.asr.stats.real_time_factor:.4f}; "
              f"underruns gateway {sum(m.underruns for m in metrics)} / caller {sum(s.underruns for s in sims)}; "
              f"longest GC pause {pauses.longest * 1000:.0f} ms")
    finally:
        gc.callbacks.remove(pauses)
        await asyncio.gather(*(s.hang_up() for s in sims), return_exceptions=True)
        await asyncio.gather(*(s.close() for s in sims), return_exceptions=True)
    await wait_released(gateway, timeout=10)
    assert gateway.services.asr.stats.jobs > 0
