"""The callbot against the REAL assistant: Twilio simulator → gateway → real Rasa + action server.

Recognition is injected as text at the recogniser boundary (the ``AsrEvent`` a
``RecognizerStream`` emits), so any Vietnamese question can be asked; everything after it is
the production path: the Rasa REST channel, the action server, the payload model, the voice
style, TTS (espeak-ng), the paced player and Twilio's Media Streams.  Assertions are on the
text sent to TTS: no URL, no code, no stray symbol; the key fact present, in words.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.voice.support.simulator import TwilioCallSimulator
from voice import call as C
from voice import speech
from voice.asr import AsrEvent

from .conftest import OPERATOR, REPO, Gateway
from .test_call_flows import finish, session_of

pytestmark = pytest.mark.asyncio

URL = re.compile(r"https?://|www\.|\.(?:vn|gov|com)\b", re.IGNORECASE)
CODE = re.compile(r"\d|\b[A-ZĐ]{2,}\b|\b[A-ZĐ]+\d")
SYMBOL = re.compile(r"[/\\@#%&*_=+<>{}\[\]|~^$«»\"“”()–—]|-")

# (question, key fact that must be heard, in words), across every aspect.
QUESTIONS = [
    ("làm hộ chiếu hết bao nhiêu tiền", "hai trăm nghìn đồng"),
    ("cấp hộ chiếu mất bao lâu", "tám ngày làm việc"),
    ("làm căn cước cần giấy tờ gì", "theo mẫu dê xê không hai"),
    ("làm thẻ căn cước", "bảy ngày làm việc"),
    ("đăng ký kết hôn mất bao lâu", "một ngày làm việc"),
    ("đăng ký kết hôn có mất tiền không", "miễn phí"),
    ("căn cứ pháp lý của đăng ký kết hôn", "Luật Hộ tịch"),
    ("đăng ký khai sinh nộp ở đâu", "cấp xã"),
    ("các bước đăng ký khai sinh", "Bước một"),
    ("đăng ký khai tử nộp hồ sơ ở đâu", "cấp xã"),
    ("đăng ký thường trú có nộp online được không", "nộp trực tuyến được"),
    ("chuyển hộ khẩu cần giấy tờ gì", "theo mẫu xê tê không một"),
    ("đăng ký tạm trú cần những giấy tờ gì", "theo mẫu xê tê không một"),
    ("lý lịch tư pháp lệ phí bao nhiêu", "hai trăm nghìn đồng"),
    ("làm lý lịch tư pháp cần giấy tờ gì", "bốn loại giấy tờ"),
    ("đổi giấy phép lái xe hết bao nhiêu tiền", "một trăm ba mươi lăm nghìn đồng"),
    ("chứng thực bản sao mất bao lâu", "trong ngày"),
    ("cấp lại thẻ bảo hiểm y tế có mất phí không", "miễn phí"),
    ("xin giấy phép xây dựng nhà ở mất bao lâu", "mười lăm ngày"),
    ("đăng ký hộ kinh doanh cần giấy tờ gì", "bốn loại giấy tờ"),
    ("trợ cấp thất nghiệp nộp hồ sơ ở đâu", "Trung tâm Dịch vụ việc làm"),
    ("làm sổ đỏ lần đầu mất bao lâu", "mười bảy ngày làm việc"),
]


def problems(text: str) -> list[str]:
    return [name for name, rx in (("url", URL), ("code", CODE), ("symbol", SYMBOL)) if rx.search(text)]


class Caller:
    """One simulated call to the gateway, speaking through the recogniser boundary."""

    def __init__(self, gw: Gateway, sim: TwilioCallSimulator, tts_log: list[str]) -> None:
        self.gw, self.sim, self.tts_log = gw, sim, tts_log
        self.session = session_of(gw, sim)

    async def idle(self, timeout: float = 60) -> None:
        s = self.session
        await self.sim.wait_until(lambda: not (s._busy or s._inputs.qsize()), timeout=timeout)

    async def ask(self, text: str, timeout: float = 60) -> str:
        """Say ``text`` (interrupting the bot, as callers do); returns everything sent to TTS for it."""
        await self.idle(timeout)
        start = len(self.tts_log)
        s = self.session
        loop = asyncio.get_running_loop()
        s._on_asr_event(AsrEvent("speech_start", at=loop.time()))
        grammar = s.asr.grammar or []
        s._on_asr_event(AsrEvent("final", text=text, at=loop.time(), reason="injected",
                                 grammar_text=text if text in grammar else "", grammar_confidence=1.0,
                                 ended_at=loop.time(), speech_end_at=loop.time()))
        await self.sim.wait_until(lambda: s._busy or len(self.tts_log) > start, timeout=5)
        await self.idle(timeout)
        return " ".join(self.tts_log[start:])

    async def press(self, digit: str, timeout: float = 60) -> str:
        await self.idle(timeout)
        start = len(self.tts_log)
        await self.sim.press(digit)
        await self.sim.wait_until(lambda: self.session._busy or len(self.tts_log) > start, timeout=5)
        await self.idle(timeout)
        return " ".join(self.tts_log[start:])


@pytest_asyncio.fixture
async def real_gateway(make_gateway: Any, real_bot: Any) -> tuple[Gateway, list[str]]:
    gw: Gateway = await make_gateway(rasa_url=f"{real_bot.url}/webhooks/rest/webhook", rasa_timeout_s=30.0)
    tts_log: list[str] = []
    ulaw = gw.services.tts.ulaw

    async def recording(text: str, urgent: bool = True) -> bytes:
        tts_log.append(text)
        return await ulaw(text, urgent)

    gw.services.tts.ulaw = recording  # type: ignore[method-assign]
    return gw, tts_log


async def call(gw: Gateway, tts_log: list[str], **kwargs: Any) -> Caller:
    sim = await gw.connected_call(**kwargs)
    return Caller(gw, sim, tts_log)


async def test_twenty_two_questions_across_aspects_are_spoken_cleanly(real_gateway: tuple[Gateway, list[str]]) -> None:
    gw, tts_log = real_gateway
    failures = []
    for question, fact in QUESTIONS:
        caller = await call(gw, tts_log)
        try:
            heard = await caller.ask(question)
        finally:
            await finish(gw, caller.sim)
        if problems(heard) or fact not in heard:
            failures.append(f"{question!r}: missing {fact!r} or {problems(heard)} in {heard!r}")
    assert not failures, "\n".join(failures)


async def test_follow_up_questions_keep_the_procedure(real_gateway: tuple[Gateway, list[str]]) -> None:
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log)
    try:
        first = await caller.ask("làm thẻ căn cước")
        assert "căn cước" in first and "Anh chị muốn nghe tiếp" in first
        fee = await caller.ask("còn lệ phí thì sao")
        assert "Lệ phí cấp thẻ căn cước" in fee and "miễn phí" in fee and not problems(fee)
        duration = await caller.ask("mất bao lâu")
        assert "bảy ngày làm việc" in duration and not problems(duration)
    finally:
        await finish(gw, caller.sim)


async def test_documents_are_read_three_at_a_time_then_more_on_yes(real_gateway: tuple[Gateway, list[str]]) -> None:
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log)
    try:
        heard = await caller.ask("đăng ký thường trú cần giấy tờ gì")
        assert "Thứ ba" in heard and "Thứ tư" not in heard and "Anh chị có muốn nghe tiếp không?" in heard
        more = await caller.ask("có")
        assert "Thứ tư" in more and not problems(more)
    finally:
        await finish(gw, caller.sim)


@pytest.mark.parametrize("how", ["keypad", "voice"])
async def test_disambiguation_answered_by_keypad_or_by_voice(real_gateway: tuple[Gateway, list[str]], how: str) -> None:
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log)
    try:
        question = await caller.ask("giấy phép lái xe")
        assert "Số một" in question and "Số hai" in question and caller.session.mode == "choose"
        second = re.search(r"Số hai, ([^.]+)\.", question)
        assert second, question
        answer = await (caller.press("2") if how == "keypad" else caller.ask("hai"))
        assert second.group(1).lower() in answer.lower(), (second.group(1), answer)
        assert not problems(answer)
    finally:
        await finish(gw, caller.sim)


async def test_hand_off_transfers_to_the_operator(real_gateway: tuple[Gateway, list[str]]) -> None:
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log)
    try:
        heard = await caller.ask("cho tôi gặp tổng đài viên")
        assert C.TRANSFERRING in heard
        await caller.sim.wait_until(lambda: gw.twilio.call_updates, timeout=30)
        assert gw.twilio.call_updates[0]["Twiml"] == f"<Response><Dial>{OPERATOR}</Dial></Response>"
    finally:
        await finish(gw, caller.sim)


async def test_out_of_scope_question_gets_the_hotline_in_words(real_gateway: tuple[Gateway, list[str]]) -> None:
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log)
    try:
        heard = await caller.ask("giá vàng hôm nay bao nhiêu")
        assert "không dám trả lời đoán" in heard and "một không hai hai" in heard and not problems(heard)
    finally:
        await finish(gw, caller.sim)


async def test_asking_for_the_hotline_number_says_it_and_transfers_nobody(real_gateway: tuple[Gateway, list[str]]) -> None:
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log)
    try:
        heard = await caller.ask("số tổng đài là bao nhiêu")
        assert "một không hai hai" in heard and C.TRANSFERRING not in heard and not problems(heard), heard
        assert not gw.twilio.call_updates and not caller.session.transferring
    finally:
        await finish(gw, caller.sim)


async def test_a_detail_question_is_said_to_be_no_specific_answer(real_gateway: tuple[Gateway, list[str]]) -> None:
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log)
    try:
        await caller.ask("làm căn cước cho con tám tuổi")
        heard = await caller.ask("bé có phải đi cùng để chụp ảnh lấy vân tay không")
        # the caller hears that this is no specific answer before the nearest facts (the steps)
        assert speech.DETAIL_LEAD in heard and "bước" in heard.split(speech.DETAIL_LEAD, 1)[1], heard
        assert not problems(heard), heard
    finally:
        await finish(gw, caller.sim)


async def test_sms_carries_the_details_and_the_link_when_the_caller_says_yes(
    real_gateway: tuple[Gateway, list[str]],
) -> None:
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log, caller="+84911222333")
    try:
        heard = await caller.ask("làm hộ chiếu hết bao nhiêu tiền")
        assert "nhắn tin chi tiết và đường dẫn" in heard and caller.session.mode == "sms"
        await caller.ask("có")
        await caller.sim.wait_until(lambda: gw.twilio.messages, timeout=10)
        body = gw.twilio.messages[0]["Body"]
        assert "200.000 đ" in body and "https://dichvucong.gov.vn" in body and len(body) <= 600
    finally:
        await finish(gw, caller.sim)


async def test_voice_say_prints_what_a_caller_hears_and_writes_the_wav(real_bot: Any, tmp_path: Path) -> None:
    wav = tmp_path / "cau-tra-loi.wav"
    env = dict(os.environ, RASA_URL=f"{real_bot.url}/webhooks/rest/webhook", PYTHONPATH=f"{REPO}:{REPO / 'bot'}")
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "voice", "say", "làm hộ chiếu hết bao nhiêu tiền", "--wav", str(wav)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "Lệ phí cấp hộ chiếu phổ thông ở trong nước là hai trăm nghìn đồng.", lines
    assert lines[-1].startswith("Anh chị muốn nghe tiếp") and not any(problems(x) for x in lines)
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 8000 and w.getnframes() / 8000 > 2.0


async def test_a_full_call_as_the_caller_hears_it(real_gateway: tuple[Gateway, list[str]]) -> None:
    """One whole call, printed as a transcript (run with -s to read it); nothing in it is unspeakable."""
    gw, tts_log = real_gateway
    caller = await call(gw, tts_log, caller="+84911222333")
    transcript = [f"🔊 {C.WELCOME}" if not tts_log else f"🔊 {tts_log[0]}"]
    try:
        for kind, value in [("say", "làm căn cước cần giấy tờ gì"), ("say", "có"), ("say", "còn lệ phí thì sao"),
                            ("say", "giấy phép lái xe"), ("key", "1"), ("say", "giá vàng hôm nay bao nhiêu"),
                            ("say", "cho tôi gặp tổng đài viên")]:
            heard = await (caller.ask(value) if kind == "say" else caller.press(value))
            transcript.append(f"{'🗣' if kind == 'say' else '⌨'}  {value}")
            transcript.append(f"🔊 {heard}")
        await caller.sim.wait_until(lambda: gw.twilio.call_updates, timeout=30)
    finally:
        await finish(gw, caller.sim)
    print("\n" + "\n".join(transcript))
    assert not [line for line in transcript if line.startswith("🔊") and problems(line[2:])], transcript
    assert C.TRANSFERRING in transcript[-1]
