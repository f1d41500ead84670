"""Twilio-facing protocol: webhook signature and TwiML, Media Streams robustness, cleanup."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from typing import Any

import aiohttp
import numpy as np
import pytest

from tests.voice.support.simulator import twilio_signature
from tests.voice.support.tiny_model import tone_burst
from voice.app import FINISHED, STATS

from .conftest import AUTH_TOKEN, Gateway

pytestmark = pytest.mark.asyncio


async def wait_released(gw: Gateway, timeout: float = 5.0) -> None:
    """All per-call resources gone: sessions, executor jobs, recognisers."""
    asr = gw.services.asr
    deadline = asyncio.get_running_loop().time() + timeout
    while gw.sessions or asr.pending_jobs() or asr.live_recognizers:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"not released: sessions={len(gw.sessions)} jobs={asr.pending_jobs()} "
                f"recognizers={asr.live_recognizers}"
            )
        await asyncio.sleep(0.02)


async def test_signature_algorithm_matches_the_twilio_library() -> None:
    from twilio.request_validator import RequestValidator

    params = {"CallSid": "CA1", "From": "+84912345678", "To": "+842800000000"}
    url = "https://voice.example.vn/twilio/voice?x=1"
    assert twilio_signature("tok", url, params) == RequestValidator("tok").compute_signature(url, params)


async def test_bad_or_missing_signature_is_refused_with_403(gateway: Gateway) -> None:
    sim = gateway.call()
    try:
        resp = await sim.place_call(bad_signature=True)
        assert resp.status == 403
        resp = await sim.place_call(sign=False)
        assert resp.status == 403
        # Signed for another URL (e.g. a replay against a different host) fails too.
        params = {"CallSid": "CA9", "From": "+84900000000"}
        sig = twilio_signature(AUTH_TOKEN, "https://evil.example/twilio/voice", params)
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"{gateway.url}/twilio/voice", data=params, headers={"X-Twilio-Signature": sig})
            assert r.status == 403
    finally:
        await sim.close()


async def test_good_signature_returns_greeting_and_stream_twiml(gateway: Gateway) -> None:
    sim = gateway.call(caller="+84987654321")
    try:
        resp = await sim.place_call()
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/xml")
        root = ET.fromstring(sim.twiml)
        assert root.tag == "Response"
        say = root.find("Say")
        assert say is not None and say.attrib["language"] == "vi-VN" and "Xin chào" in (say.text or "")
        stream = root.find("./Connect/Stream")
        assert stream is not None
        assert stream.attrib["url"] == gateway.url.replace("http://", "ws://") + "/twilio/stream"
        assert sim.parameters["caller"] == "+84987654321"
        assert len(sim.parameters["token"]) == 64
    finally:
        await sim.close()


async def test_public_https_url_gives_wss_stream_and_validates_forwarded_url(make_gateway: Any) -> None:
    gw = await make_gateway(public_base_url="", trusted_proxies=("127.0.0.1",))
    params = {"CallSid": "CA" + "2" * 32, "From": "+84911111111"}
    # Behind a TLS proxy: Twilio signed https://voice.example.vn/..., the proxy forwards plain HTTP.
    url = "https://voice.example.vn/twilio/voice"
    headers = {
        "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "voice.example.vn",
    }
    async with aiohttp.ClientSession() as http:
        r = await http.post(f"{gw.url}/twilio/voice", data=params, headers=headers)
        body = await r.text()
    assert r.status == 200, body
    assert 'url="wss://voice.example.vn/twilio/stream"' in body


async def test_forwarded_headers_from_an_unlisted_address_are_ignored(make_gateway: Any) -> None:
    """Anyone can send X-Forwarded-Host: only a configured proxy is believed (before: always believed)."""
    gw = await make_gateway(public_base_url="", trusted_proxies=("10.0.0.7",))
    params = {"CallSid": "CA" + "3" * 32, "From": "+84911111111"}
    url = "https://attacker.example/twilio/voice"  # a URL the attacker holds a signature for
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params),
               "X-Forwarded-Proto": "https", "X-Forwarded-Host": "attacker.example"}
    async with aiohttp.ClientSession() as http:
        r = await http.post(f"{gw.url}/twilio/voice", data=params, headers=headers)
        assert r.status == 403, await r.text()
        # the same call signed for the URL the gateway really serves is accepted, with its own host
        own = f"{gw.url}/twilio/voice"
        headers["X-Twilio-Signature"] = twilio_signature(AUTH_TOKEN, own, params)
        r = await http.post(own, data=params, headers=headers)
        body = await r.text()
    assert r.status == 200, body
    assert "attacker.example" not in body


async def test_signature_is_checked_on_the_raw_undecoded_path_and_query(gateway: Gateway) -> None:
    """Twilio signs the URL as configured, percent-encoding included (before: the decoded path was checked)."""
    params = {"CallSid": "CA" + "4" * 32, "From": "+84911111111"}
    raw = "/twilio/voice?tenant=s%e1%bb%9f%20t%c6%b0&note=%7Ekhach%21"  # lower-case hex, escaped ~ and !
    signed = gateway.settings.public_base_url + raw
    async with aiohttp.ClientSession() as http:
        r = await http.post(yarl_url(gateway.url + raw), data=params,
                            headers={"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, signed, params)})
        assert r.status == 200, await r.text()


def yarl_url(text: str) -> Any:
    """A URL sent exactly as written (no re-quoting by the client)."""
    import yarl

    return yarl.URL(text, encoded=True)


async def test_stream_with_a_forged_token_is_closed(gateway: Gateway) -> None:
    sim = gateway.call()
    try:
        await sim.place_call()
        await sim.connect(parameters={"caller": "+84900000000", "token": "0" * 64})
        await sim.wait_until(lambda: sim.closed_code is not None, timeout=5)
        assert sim.closed_code == 1008
        assert gateway.app[STATS]["bad_tokens"] == 1
        assert not gateway.sessions
    finally:
        await sim.close()


async def test_malformed_frames_are_ignored_and_the_call_goes_on(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        for raw in [
            "not json",
            '{"event": ',
            "[1, 2, 3]",
            '{"no_event": true}',
            '{"event": 42}',
            '{"event": "mark"}',
            '{"event": "dtmf", "dtmf": {}}',
            '{"event": "media", "media": {"payload": "@@not-base64@@"}}',
            '{"event": "media"}',
            '{"event": "somethingNew", "x": 1}',
        ]:
            await sim.send_raw(raw)
        assert sim.ws is not None
        await sim.ws.send_bytes(b"\x00\x01binary")
        await sim.wait_bot_quiet()
        utt = sim.say(tone_burst("ba", lead_s=0.1))
        await asyncio.wait_for(utt.done.wait(), timeout=60)  # a stalled microphone fails, never hangs
        await sim.wait_until(lambda: len(gateway.rasa.turns) == 1, timeout=5)
        assert gateway.rasa.turns[0]["message"] == "ba"
        assert gateway.rasa.turns[0]["sender"] == sim.call_sid
        assert gateway.app[STATS]["bad_frames"] >= 8
    finally:
        await sim.hang_up()
        await sim.close()
    await wait_released(gateway)


async def test_a_flood_of_malformed_frames_closes_with_a_reason(gateway: Gateway) -> None:
    sim = await gateway.connected_call()
    try:
        for _ in range(60):
            await sim.send_raw("{broken")
        await sim.wait_until(lambda: sim.closed_code is not None, timeout=5)
        assert sim.closed_code == 1007
        assert "malformed" in sim.closed_reason
    finally:
        await sim.close()
    await wait_released(gateway)


async def test_media_before_start_is_ignored(gateway: Gateway) -> None:
    sim = gateway.call()
    try:
        await sim.place_call()
        await sim.connect(send_start=False)
        for _ in range(10):
            await sim.send_json(sim.media_message(b"\xff" * 160))
        await asyncio.sleep(0.1)
        assert gateway.app[STATS]["early_media"] == 10
        assert not gateway.sessions
        await sim.send_start()
        await sim.wait_until(lambda: sim.media_frames > 0, timeout=10)
        assert len(gateway.sessions) == 1
    finally:
        await sim.hang_up()
        await sim.close()
    await wait_released(gateway)


async def test_endless_media_before_start_closes_the_socket(gateway: Gateway) -> None:
    sim = gateway.call()
    try:
        await sim.place_call()
        await sim.connect(send_start=False)
        for _ in range(260):
            await sim.send_json(sim.media_message(b"\xff" * 160))
        await sim.wait_until(lambda: sim.closed_code is not None, timeout=5)
        assert sim.closed_code == 1008 and "before start" in sim.closed_reason
    finally:
        await sim.close()


@pytest.mark.parametrize("how", ["stop", "socket-drop"])
async def test_hang_up_mid_utterance_frees_everything(gateway: Gateway, recordings: list[Any], how: str) -> None:
    sim = await gateway.connected_call()
    try:
        speech = np.concatenate([r.pcm for r in recordings[:4]])  # several seconds of real speech
        sim.say(speech)
        session = next(iter(gateway.sessions.values()))
        await sim.wait_until(lambda: session.asr.in_speech, timeout=5)
        await asyncio.sleep(0.3)
        assert gateway.services.asr.live_recognizers >= 1
        if how == "stop":
            await sim.hang_up()
        else:
            await sim.drop()
    finally:
        await sim.close()
    await wait_released(gateway)
    assert session.closed and session.player._task.done() and session._turn_task.done()
    assert not session._tasks
    assert gateway.app[FINISHED][-1] is session.metrics


async def test_healthz_reports_calls_and_recognisers(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        r = await http.get(f"{gateway.url}/healthz")
        body = json.loads(await r.text())
    assert r.status == 200
    assert body["calls"] == 0 and body["recognizers"] == 0


async def test_unsupported_media_format_is_refused(gateway: Gateway) -> None:
    sim = gateway.call()
    try:
        await sim.place_call()
        await sim.connect(send_start=False)
        await sim.send_json(
            {
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "streamSid": sim.stream_sid,
                    "callSid": sim.call_sid,
                    "mediaFormat": {"encoding": "audio/l16", "sampleRate": 16000, "channels": 1},
                    "customParameters": sim.parameters,
                },
                "streamSid": sim.stream_sid,
            }
        )
        await sim.wait_until(lambda: sim.closed_code is not None, timeout=5)
        assert sim.closed_code == 1003 and "media format" in sim.closed_reason
        assert not gateway.sessions
    finally:
        await sim.close()
