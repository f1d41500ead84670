"""Conversations over a real socket: barge-in, keypad menu, yes/no, transfer, SMS."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest

from tests.voice.support.simulator import TwilioCallSimulator
from tests.voice.support.tiny_model import tone_burst
from voice import call as C
from voice.config import DEFAULT_DTMF_MENU
from voice.speech import ASK_MORE, SMS_OFFER
from voice.tts import EspeakTts, PromptCache

from .conftest import HOTLINE, OPERATOR, Gateway
from .test_gateway_protocol import wait_released

pytestmark = pytest.mark.asyncio


def session_of(gw: Gateway, sim: TwilioCallSimulator) -> C.CallSession:
    return gw.sessions[sim.stream_sid]


async def wait_said(session: C.CallSession, sim: TwilioCallSimulator, text: str, timeout: float = 10) -> None:
    """Wait until the bot has queued ``text`` (a sentence or a substring of one)."""
    await sim.wait_until(lambda: any(text in s for s in session.metrics.said), timeout=timeout)


async def bot_done(session: C.CallSession, sim: TwilioCallSimulator, timeout: float = 30) -> None:
    """The bot has nothing left to process or say, and Twilio has played it all."""
    await sim.wait_until(
        lambda: not (session._busy or session.player.active or session._inputs.qsize()), timeout=timeout
    )
    await sim.wait_bot_quiet()


async def speak(session: C.CallSession, sim: TwilioCallSimulator, word: str) -> None:
    """Caller says a tone word once the bot is done talking, and finishes saying it."""
    await bot_done(session, sim)
    utt = sim.say(tone_burst(word, lead_s=0.1, tail_s=0.1))
    await asyncio.wait_for(utt.done.wait(), timeout=60)  # a stalled microphone fails, never hangs


async def finish(gw: Gateway, sim: TwilioCallSimulator) -> None:
    await sim.hang_up()
    await sim.close()
    await wait_released(gw)


@pytest.mark.parametrize("voice", ["tone", "real-speech"])
async def test_barge_in_clears_bot_audio_within_300_ms(gateway: Gateway, recordings: list[Any], voice: str) -> None:
    sim = await gateway.connected_call()
    try:
        await asyncio.sleep(0.6)
        assert sim.bot_speaking(), "the welcome prompt should still be playing"
        pcm = tone_burst("hai", lead_s=0.0) if voice == "tone" else recordings[0].pcm
        utt = sim.say(pcm)
        await sim.wait_until(lambda: sim.clears, timeout=3)
        latency = sim.clears[0] - utt.first_voiced
        assert 0 < latency <= 0.300, f"clear {latency * 1000:.0f} ms after speech onset"
        session = session_of(gateway, sim)
        assert session.metrics.barge_ins and session.metrics.barge_ins[0] <= 0.300
        # Twilio's buffer was flushed and the bot stopped sending the welcome.
        await asyncio.sleep(0.2)
        assert not sim.bot_speaking()
        if voice == "tone":
            await sim.wait_until(lambda: gateway.rasa.turns, timeout=5)
            assert gateway.rasa.turns[0]["message"] == "hai"
            await sim.wait_until(lambda: sim.first_media_after(sim.clears[0] + 0.1) is not None, timeout=5)
    finally:
        await finish(gateway, sim)


async def test_barge_in_can_be_disabled(make_gateway: Any) -> None:
    gw = await make_gateway(barge_in=False)
    sim = await gw.connected_call()
    try:
        await asyncio.sleep(0.5)
        utt = sim.say(tone_burst("hai", lead_s=0.0))
        await asyncio.wait_for(utt.done.wait(), timeout=60)  # a stalled microphone fails, never hangs
        await asyncio.sleep(0.5)
        assert sim.clears == []
    finally:
        await finish(gw, sim)


async def test_keypad_menu_on_request_and_choice(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        session = session_of(gateway, sim)
        await sim.wait_bot_quiet()
        await sim.press("*")
        await wait_said(session, sim, "Bấm phím một")
        assert session.mode == "menu"
        await asyncio.sleep(0.5)
        await sim.press("2")  # pressing during the menu prompt interrupts it
        await sim.wait_until(lambda: sim.clears, timeout=2)
        await sim.wait_until(lambda: gateway.rasa.turns, timeout=5)
        assert gateway.rasa.turns[0]["message"] == DEFAULT_DTMF_MENU["2"]
        await wait_said(session, sim, "hai trăm nghìn đồng")
        await sim.press("7")
        await wait_said(session, sim, C.BAD_KEY)
    finally:
        await finish(gateway, sim)


async def test_menu_after_two_failed_recognitions_then_spoken_digit(gateway: Gateway, recordings: list[Any]) -> None:
    sim = await gateway.connected_call()
    try:
        session = session_of(gateway, sim)
        for n in range(2):  # real speech the tiny model cannot understand -> [unk]
            await bot_done(session, sim)
            utt = sim.say(recordings[5 + n].pcm)
            await asyncio.wait_for(utt.done.wait(), timeout=60)  # a stalled microphone fails, never hangs
            await sim.wait_until(lambda n=n: session.metrics.failed_recognitions == n + 1, timeout=5)
        assert session.metrics.said.count(C.NOT_HEARD) == 1
        await wait_said(session, sim, "Bấm phím một")
        assert session.mode == "menu" and session.metrics.menu_offers == 1
        await speak(session, sim, "ba")  # "ba" through the digits grammar = key 3
        await sim.wait_until(lambda: gateway.rasa.turns, timeout=5)
        assert gateway.rasa.turns[0]["message"] == DEFAULT_DTMF_MENU["3"]
        assert not any(t["message"] == "ba" for t in gateway.rasa.turns)
    finally:
        await finish(gateway, sim)


async def test_request_human_from_rasa_transfers_to_the_operator(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    gateway.twilio.on_call_update = lambda sid, twiml: asyncio.ensure_future(sim.hang_up())
    try:
        session = session_of(gateway, sim)
        await speak(session, sim, "bốn")
        await wait_said(session, sim, C.TRANSFERRING)
        await sim.wait_until(lambda: gateway.twilio.call_updates, timeout=20)
        update = gateway.twilio.call_updates[0]
        assert update["CallSid"] == sim.call_sid
        assert update["Twiml"] == f"<Response><Dial>{OPERATOR}</Dial></Response>"
        # The announcement was played out before the call was redirected.
        assert C.TRANSFERRING in session.metrics.said and session.metrics.marks_received >= 2
    finally:
        await sim.close()
        await wait_released(gateway)


async def test_key_zero_transfers_without_asking_rasa(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        await sim.wait_bot_quiet()
        await sim.press("0")
        await sim.wait_until(lambda: gateway.twilio.call_updates, timeout=20)
        assert OPERATOR in gateway.twilio.call_updates[0]["Twiml"]
        assert gateway.rasa.turns == []
    finally:
        await finish(gateway, sim)


async def test_no_operator_configured_keeps_the_call(make_gateway: Any) -> None:
    gw = await make_gateway(operator_number="")
    sim = await gw.connected_call()
    try:
        await sim.wait_bot_quiet()
        await sim.press("0")
        await wait_said(session_of(gw, sim), sim, C.NO_OPERATOR)
        assert gw.twilio.call_updates == []
    finally:
        await finish(gw, sim)


async def test_documents_three_at_a_time_with_yes_no_grammar(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        session = session_of(gateway, sim)
        await speak(session, sim, "một")
        await wait_said(session, sim, ASK_MORE)
        said = " ".join(session.metrics.said)
        assert "Thứ ba, căn cước công dân" in said and "Thứ tư" not in said
        assert session.mode == "more_docs" and session.asr.grammar == ["có", "không"]
        await speak(session, sim, "có")
        await wait_said(session, sim, "Thứ sáu")
        await speak(session, sim, "có")
        await wait_said(session, sim, "Thứ bảy, biên lai nộp lệ phí")
        await wait_said(session, sim, SMS_OFFER)
        await speak(session, sim, "không")
        await wait_said(session, sim, C.NEXT_QUESTION)
        assert session.metrics.said.count(ASK_MORE) == 2
        assert gateway.twilio.messages == [] and session.mode == "free"
        assert [t["message"] for t in gateway.rasa.turns] == ["một"]
        assert session.metrics.barge_ins == [], "the caller only spoke when the bot was quiet"
    finally:
        await finish(gateway, sim)


async def test_out_of_grammar_answer_is_a_new_question_not_a_forced_yes(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        session = session_of(gateway, sim)
        await speak(session, sim, "một")
        await wait_said(session, sim, ASK_MORE)
        await speak(session, sim, "hai")  # neither "có" nor "không"
        await sim.wait_until(lambda: len(gateway.rasa.turns) == 2, timeout=5)
        assert gateway.rasa.turns[1]["message"] == "hai"
        assert "Thứ tư" not in " ".join(session.metrics.said)
    finally:
        await finish(gateway, sim)


async def test_sms_with_full_details_when_the_caller_says_yes(gateway: Gateway) -> None:
    sim = await gateway.connected_call(caller="+84911222333")
    try:
        session = session_of(gateway, sim)
        await speak(session, sim, "hai")
        await wait_said(session, sim, SMS_OFFER)
        await speak(session, sim, "có")
        await sim.wait_until(lambda: gateway.twilio.messages, timeout=10)
        msg = gateway.twilio.messages[0]
        assert msg["To"] == "+84911222333" and msg["From"] == HOTLINE
        assert "1.001234" in msg["Body"] and "https://dichvucong.gov.vn" in msg["Body"]
        await wait_said(session, sim, C.SMS_SENT)
        assert session.metrics.barge_ins == []
    finally:
        await finish(gateway, sim)


async def test_sms_offer_is_off_by_configuration(make_gateway: Any) -> None:
    gw = await make_gateway(sms_enabled=False)
    sim = await gw.connected_call()
    try:
        session = session_of(gw, sim)
        await speak(session, sim, "hai")
        await wait_said(session, sim, "hai trăm nghìn đồng")
        assert SMS_OFFER not in session.metrics.said and session.mode == "free"
    finally:
        await finish(gw, sim)


async def test_empty_rasa_reply_and_rasa_outage_are_spoken_apologies(make_gateway: Any) -> None:
    gw = await make_gateway()
    sim = await gw.connected_call()
    try:
        session = session_of(gw, sim)
        await speak(session, sim, "sáu")  # fake Rasa answers []
        await wait_said(session, sim, C.NOT_HEARD)
        await gw.rasa.stop()  # Rasa goes down
        await speak(session, sim, "hai")
        await wait_said(session, sim, "hệ thống đang bận")
    finally:
        await finish(gw, sim)


async def test_no_input_timeout_reprompts(make_gateway: Any) -> None:
    gw = await make_gateway(no_input_timeout_ms=800)
    sim = await gw.connected_call()
    try:
        session = session_of(gw, sim)
        await sim.wait_bot_quiet()
        t = time.monotonic()
        await wait_said(session, sim, C.NOT_HEARD, timeout=5)
        assert time.monotonic() - t >= 0.5
    finally:
        await finish(gw, sim)


async def test_three_silences_end_the_call_politely(make_gateway: Any) -> None:
    gw = await make_gateway(no_input_timeout_ms=300)
    sim = await gw.connected_call()
    try:
        session = session_of(gw, sim)
        await wait_said(session, sim, C.GOODBYE, timeout=60)
        await sim.wait_until(lambda: gw.twilio.call_updates, timeout=30)
        assert gw.twilio.call_updates[0]["Twiml"] == "<Response><Hangup/></Response>"
        assert session.metrics.menu_offers == 1  # second silence offered the keypad
    finally:
        await finish(gw, sim)


async def test_numbered_options_are_picked_with_keys_or_spoken_numbers(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        session = session_of(gateway, sim)
        await speak(session, sim, "bảy")  # the bot asks which of two procedures
        await wait_said(session, sim, "Số hai, đổi giấy phép lái xe")
        assert session.mode == "choose" and session.asr.grammar == ["một", "hai"]
        await bot_done(session, sim)
        await sim.press("2")
        await sim.wait_until(lambda: len(gateway.rasa.turns) == 2, timeout=5)
        assert gateway.rasa.turns[1]["message"] == "số 2"
        await speak(session, sim, "bảy")
        await sim.wait_until(lambda: len(gateway.rasa.turns) == 3, timeout=5)
        await speak(session, sim, "một")  # said instead of pressed
        await sim.wait_until(lambda: len(gateway.rasa.turns) == 4, timeout=5)
        assert gateway.rasa.turns[3]["message"] == "số 1"
    finally:
        await finish(gateway, sim)


async def test_bot_style_numbered_documents_are_read_three_at_a_time(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        session = session_of(gateway, sim)
        await speak(session, sim, "tám")
        await wait_said(session, sim, ASK_MORE)
        said = " ".join(session.metrics.said)
        assert "Thứ ba, giấy tờ tùy thân" in said and "Thứ tư" not in said and "https" not in said
        await speak(session, sim, "có")
        await wait_said(session, sim, "Thứ năm, văn bản ủy quyền")
        await wait_said(session, sim, SMS_OFFER)
    finally:
        await finish(gateway, sim)


async def test_a_slow_assistant_gets_a_backchannel_then_the_answer(make_gateway: Any) -> None:
    gw = await make_gateway(ack_after_ms=200)
    gw.rasa.delay_s = 0.8  # the assistant is busy
    sim = await gw.connected_call()
    try:
        session = session_of(gw, sim)
        await bot_done(session, sim)
        await sim.press("2")
        await wait_said(session, sim, "hai trăm nghìn đồng", timeout=15)
        said = session.metrics.said
        assert C.ACK in said and said.index(C.ACK) < next(i for i, s in enumerate(said) if "hai trăm nghìn đồng" in s)
        await bot_done(session, sim)
        turn = session.metrics.turns[-1]
        assert turn.acknowledged and turn.rasa_done and turn.first_frame < turn.answer_frame
        gw.rasa.delay_s = 0.0  # a quick answer gets no backchannel
        await sim.press("2")
        await sim.wait_until(lambda: len(gw.rasa.turns) == 2, timeout=5)
        await bot_done(session, sim)
        assert said.count(C.ACK) == 1
    finally:
        await finish(gw, sim)


class _SlowAnswerTts:
    """espeak-ng, but the answer about the fee takes 1.5 s to synthesise (a busy TTS)."""

    def __init__(self) -> None:
        self.inner = EspeakTts(rate_wpm=190)

    @property
    def cache_key(self) -> str:
        return "slow-answer|" + self.inner.cache_key

    async def synthesize_wav(self, text: str) -> bytes:
        if "nghìn" in text:
            await asyncio.sleep(1.5)
        return await self.inner.synthesize_wav(text)


async def test_the_backchannel_also_covers_a_slow_synthesis_and_comes_pre_encoded(make_gateway: Any) -> None:
    """The deadline is the caller's: the assistant answers at once, but the answer's audio is late.

    "Dạ." is queued from the loop at the deadline as the frames synthesised at start-up (no TTS
    job): the caller hears exactly those frames, then a mark, then the answer.
    """
    gw = await make_gateway(ack_after_ms=200, tts=PromptCache(_SlowAnswerTts(), None))
    ack_frames = gw.services.ack_frames
    assert ack_frames, "the acknowledgement is synthesised at start-up"
    sim = await gw.connected_call()
    try:
        session = session_of(gw, sim)
        await bot_done(session, sim)
        pressed = time.monotonic()
        await sim.press("2")
        await wait_said(session, sim, "hai trăm nghìn đồng", timeout=15)
        await bot_done(session, sim)
        turn = session.metrics.turns[-1]
        assert turn.rasa_done - turn.final < 1.0, "the assistant itself was quick"
        assert turn.acknowledged and turn.first_frame < turn.answer_frame
        after = [r.message for r in sim.received if r.at > pressed and r.message.get("event") in ("media", "mark")]
        n = len(ack_frames)
        assert [m["event"] for m in after[: n + 1]] == ["media"] * n + ["mark"]
        played = [base64.b64decode(m["media"]["payload"]) for m in after[:n]]
        assert played == ack_frames
        assert after[n + 1]["event"] == "media", "the answer follows the acknowledgement"
    finally:
        await finish(gw, sim)


async def test_the_backchannel_deadline_counts_from_the_end_of_speech_not_the_transcript(make_gateway: Any) -> None:
    """A recogniser busy with other calls delays the transcript; "Dạ." still comes on time.

    The deadline is armed when the energy detector ends the utterance (on the loop), so the
    acknowledgement goes out before the transcript exists; the turn is still filed as one turn.
    """
    gw = await make_gateway(ack_after_ms=550, asr_workers=1)
    sim = await gw.connected_call()
    try:
        session = session_of(gw, sim)
        await bot_done(session, sim)
        utt = sim.say(tone_burst("hai", lead_s=0.1, tail_s=0.0))
        await asyncio.wait_for(utt.done.wait(), timeout=30)
        # the one recognition worker is taken for 1.5 s: the transcript waits for it
        blocker = gw.services.asr.executor.submit(time.sleep, 1.5)
        await sim.wait_until(lambda: gw.rasa.turns, timeout=15)
        await bot_done(session, sim)
        assert blocker.done()
        turn = session.metrics.turns[-1]
        assert turn.text == "hai" and turn.acknowledged
        assert turn.first_frame < turn.final < turn.answer_frame, "Dạ. before the transcript, the answer after"
        assert session.metrics.said.count(C.ACK) == 1
        first = [r.message for r in sim.received if r.at > utt.last_voiced and r.message.get("event") == "media"]
        played = [base64.b64decode(m["media"]["payload"]) for m in first[: len(gw.services.ack_frames or [])]]
        assert played == gw.services.ack_frames
    finally:
        await finish(gw, sim)
