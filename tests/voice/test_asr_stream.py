"""RecognizerStream on the real vosk library: endpointing, grammars, cleanup."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.voice.support.tiny_model import tone_burst
from voice.asr import AsrEngine, AsrEvent, RecognizerStream
from voice.audio import FRAME_SAMPLES, ulaw_encode
from voice.config import Settings

pytestmark = pytest.mark.asyncio


class Harness:
    """Feeds 20 ms μ-law frames as fast as the stream consumes them."""

    def __init__(self, engine: AsrEngine, **over: Any) -> None:
        self.settings = Settings().with_overrides(silence_ms=500, **over)
        self.events: list[AsrEvent] = []
        self.stream = RecognizerStream(engine, self.settings, self.events.append)

    async def play(self, pcm8: np.ndarray, tail_s: float = 0.8) -> None:
        pcm = np.concatenate([pcm8, np.zeros(int(tail_s * 8000), np.int16)])
        ulaw = ulaw_encode(pcm)
        for i in range(0, len(ulaw) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            self.stream.feed(ulaw[i : i + FRAME_SAMPLES])
            if i % (FRAME_SAMPLES * 10) == 0:
                await asyncio.sleep(0)  # let finished jobs report back

    async def finals(self, n: int, timeout: float = 10) -> list[AsrEvent]:
        async def wait() -> None:
            while sum(e.kind == "final" for e in self.events) < n:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(wait(), timeout)
        return [e for e in self.events if e.kind == "final"]


@pytest.fixture
def engine(vosk_model: Any, tiny_model_dir: Path) -> Any:
    eng = AsrEngine(vosk_model, tiny_model_dir, workers=2)
    yield eng
    eng.shutdown()


async def test_tone_word_gives_one_onset_and_one_final(engine: AsrEngine) -> None:
    h = Harness(engine)
    await h.play(tone_burst("tám"))
    (final,) = await h.finals(1)
    assert final.text == "tám" and final.reason == "silence"
    starts = [e for e in h.events if e.kind == "speech_start"]
    assert len(starts) == 1 and starts[0].at <= final.speech_end_at <= final.ended_at
    await h.stream.close()


async def test_every_shared_recording_is_detected_and_endpointed(engine: AsrEngine, recordings: list[Any]) -> None:
    h = Harness(engine)
    for rec in recordings:
        await h.play(rec.pcm)
    finals = await h.finals(len(recordings), timeout=60)
    assert len(finals) == len(recordings)
    # The tiny model cannot understand speech: [unk] is filtered, never a tone word.
    assert {f.text for f in finals} == {""}
    assert sum(e.kind == "speech_start" and e.source == "vad" for e in h.events) == len(recordings)
    await h.stream.close()


async def test_long_speech_is_cut_at_the_maximum_length(engine: AsrEngine) -> None:
    h = Harness(engine, max_utterance_ms=1000)
    await h.play(tone_burst("hai", tone_s=1.6), tail_s=1.0)
    finals = await h.finals(2)
    assert finals[0].reason == "max_length"
    assert finals[1].reason == "silence"
    await h.stream.close()


async def test_grammar_accepts_yes_and_rejects_out_of_grammar(engine: AsrEngine) -> None:
    h = Harness(engine)
    h.stream.set_grammar(["có", "không", "vâng"])  # "vâng" is not in the tiny vocabulary
    assert h.stream.grammar == ["có", "không"]
    await h.play(tone_burst("có"))
    await h.play(tone_burst("một"))
    first, second = await h.finals(2)
    assert (first.text, first.grammar_text) == ("có", "có") and first.grammar_confidence > 0.9
    assert (second.text, second.grammar_text) == ("một", "")
    await h.stream.close()


async def test_grammar_falls_back_to_filtering_with_a_precompiled_graph(tiny_model_hclg_dir: Path) -> None:
    import vosk

    eng = AsrEngine(vosk.Model(str(tiny_model_hclg_dir)), tiny_model_hclg_dir, workers=1)
    try:
        assert not eng.supports_grammar
        h = Harness(eng)
        h.stream.set_grammar(["có", "không"])
        await h.play(tone_burst("không"))
        await h.play(tone_burst("ba"))
        first, second = await h.finals(2)
        assert first.grammar_text == "không" and second.grammar_text == ""
        await h.stream.close()
    finally:
        eng.shutdown()


async def test_close_waits_for_the_job_and_frees_recognisers(engine: AsrEngine) -> None:
    h = Harness(engine)
    h.stream.set_grammar(["có", "không"])
    await h.play(tone_burst("có"), tail_s=0.1)  # mid-utterance: no final yet
    for _ in range(200):
        if engine.live_recognizers == 2:
            break
        await asyncio.sleep(0.01)
    assert engine.live_recognizers == 2
    await h.stream.close()
    assert engine.pending_jobs() == 0 and engine.live_recognizers == 0
    h.stream.feed(b"\xff" * 160)  # ignored after close
    assert engine.pending_jobs() == 0
