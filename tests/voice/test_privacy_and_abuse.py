"""Privacy and abuse: masked logs, SMS only to Vietnamese mobiles and N a day."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest

from voice.asr import AsrEvent
from voice.twilio_rest import SmsGuard

from .conftest import Gateway
from .test_call_flows import bot_done, finish, session_of

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("number", "ok"),
    [("+84912345678", True), ("+84351234567", True), ("+84812345678", True), ("0912345678", False),
     ("+8491234567", False), ("+842473000000", False), ("+14155550100", False), ("+84912345678 ", False), ("", False)],
)
async def test_only_vietnamese_mobiles_in_e164_may_get_an_sms(number: str, ok: bool) -> None:
    assert SmsGuard(per_day=3).eligible(number) is ok


async def test_at_most_n_sms_per_caller_per_day() -> None:
    day = [dt.date(2026, 12, 1)]
    guard = SmsGuard(per_day=2, today=lambda: day[0])
    assert [guard.take("+84912345678") for _ in range(3)] == [True, True, False]
    assert guard.take("+84987654321")  # another caller has its own count
    day[0] = dt.date(2026, 12, 2)
    assert guard.take("+84912345678")


async def test_a_spoofed_foreign_caller_id_is_never_offered_an_sms(gateway: Gateway) -> None:
    sim = await gateway.connected_call(caller="+4930123456")
    try:
        session = session_of(gateway, sim)
        await bot_done(session, sim)
        await sim.press("2")  # fee answer: SMS would be offered to a Vietnamese mobile
        await sim.wait_until(lambda: any("hai trăm nghìn đồng" in s for s in session.metrics.said), timeout=10)
        assert session.mode == "free" and not any("nhắn tin" in s for s in session.metrics.said)
    finally:
        await finish(gateway, sim)


async def test_daily_limit_is_said_and_no_sms_goes_out(make_gateway: Any) -> None:
    gw: Gateway = await make_gateway()
    gw.services.sms_guard.per_day = 1
    sim = await gw.connected_call(caller="+84911222333")
    try:
        session = session_of(gw, sim)
        assert gw.services.sms_guard.take("+84911222333")  # today's one message is already used
        await bot_done(session, sim)
        await sim.press("2")
        await sim.wait_until(lambda: any("hai trăm nghìn đồng" in s for s in session.metrics.said), timeout=10)
        assert not any("nhắn tin" in s for s in session.metrics.said), "no offer once the limit is reached"
        assert gw.twilio.messages == []
    finally:
        await finish(gw, sim)


async def test_caller_numbers_and_transcripts_are_masked_in_the_logs(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sim = await gateway.connected_call(caller="+84911222333")
    try:
        session = session_of(gateway, sim)
        await bot_done(session, sim)
        loop = asyncio.get_running_loop()
        said = "số tôi là 0912 345 678, căn cước 001099012345, mail an.nguyen@gmail.com"
        session._on_asr_event(AsrEvent("final", text=said, at=loop.time(), reason="injected",
                                       ended_at=loop.time(), speech_end_at=loop.time()))
        await sim.wait_until(lambda: gateway.rasa.turns, timeout=10)
        await bot_done(session, sim)
    finally:
        await finish(gateway, sim)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "heard" in text and "********78" in text and "***@gmail.com" in text
    for secret in ("0912 345 678", "001099012345", "an.nguyen", "84911222333"):
        assert secret not in text, secret
