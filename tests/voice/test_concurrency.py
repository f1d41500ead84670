"""Twenty simultaneous calls through one gateway: no cross-talk, no underruns."""

from __future__ import annotations

import asyncio
import statistics

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


async def test_twenty_concurrent_calls(gateway: Gateway) -> None:
    sims = [gateway.call(caller=f"+8490000{i:04d}") for i in range(20)]
    words = [WORDS[i % len(WORDS)] for i in range(20)]
    try:
        latencies = await asyncio.gather(*(one_call(gateway, s, w) for s, w in zip(sims, words, strict=True)))
        assert len(gateway.sessions) == 20
        # Every call's question reached Rasa once, under its own CallSid.
        by_sender = {t["sender"]: t["message"] for t in gateway.rasa.turns}
        assert len(gateway.rasa.turns) == 20
        assert by_sender == {s.call_sid: w for s, w in zip(sims, words, strict=True)}
        metrics = [s.metrics for s in gateway.sessions.values()]
        assert sum(m.underruns for m in metrics) == 0, [m.underruns for m in metrics]
        assert sum(s.underruns for s in sims) == 0, [s.underruns for s in sims]
        assert all(m.barge_ins == [] for m in metrics)
        p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
        print(f"\n20 calls: end of speech -> first answer frame p50={statistics.median(latencies) * 1000:.0f} ms "
              f"p95={p95 * 1000:.0f} ms; ASR real-time factor {gateway.services.asr.stats.real_time_factor:.4f}")
        assert p95 < 2.0  # generous in CI; the benchmark checks the 800 ms target
    finally:
        await asyncio.gather(*(s.hang_up() for s in sims), return_exceptions=True)
        await asyncio.gather(*(s.close() for s in sims), return_exceptions=True)
    await wait_released(gateway, timeout=10)
    assert gateway.services.asr.stats.jobs > 0
