"""Fixtures for the phone gateway: tiny Kaldi model, fakes, a live gateway.

Everything listens on 127.0.0.1; the recogniser is the real vosk library
running the tiny model that :mod:`tests.voice.support.tiny_model` writes.
The fake Rasa here tests the gateway itself; tests/voice/test_real_bot.py talks to
the real Rasa and action servers.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from aiohttp import web

from tests.voice.support.fakes import FakeRasa, FakeTwilioRest
from tests.voice.support.simulator import TwilioCallSimulator
from tests.voice.support.tiny_model import build_tiny_model
from voice.app import SESSIONS, create_app
from voice.asr import AsrEngine
from voice.audio import read_wav
from voice.call import Services
from voice.config import Settings
from voice.dialogue import RasaClient
from voice.tts import EspeakTts, PromptCache
from voice.twilio_rest import TwilioGateway

REPO = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
OPERATOR = "+842473000000"
HOTLINE = "+842873000000"


def speech_dir() -> Path | None:
    """Directory of the shared 8 kHz recordings, or a loud failure.

    Read from $SPEECH_DIR, default ../shared/data/speech/vi_commands_8k next to
    the checkout.  Missing data fails the test unless ALLOW_MISSING_SHARED=1,
    in which case the test is skipped with the reason.
    """
    path = Path(os.environ.get("SPEECH_DIR", REPO.parent / "shared" / "data" / "speech" / "vi_commands_8k"))
    if not (path / "text").exists():
        msg = (
            f"shared recordings missing at {path} (set SPEECH_DIR, or put ../shared next to "
            "the checkout; ALLOW_MISSING_SHARED=1 turns this failure into a skip)"
        )
        if os.environ.get("ALLOW_MISSING_SHARED") == "1":
            pytest.skip(msg)
        pytest.fail(msg)
    return path


@dataclass
class Recording:
    """One shared recording: file, transcript, 8 kHz samples."""

    name: str
    text: str
    pcm: np.ndarray


@pytest.fixture(scope="session")
def recordings() -> list[Recording]:
    """All shared recordings (fails/skips like :func:`speech_dir`)."""
    root = speech_dir()
    assert root is not None
    out = []
    for line in (root / "text").read_text(encoding="utf-8").splitlines():
        if "|" not in line:
            continue
        name, text = line.split("|", 1)
        wav = root / f"{name}.wav"
        pcm, rate = read_wav(str(wav))
        assert rate == 8000, f"{wav} is {rate} Hz, expected 8000"
        out.append(Recording(name, text.strip(), pcm))
    assert out, f"no recordings listed in {root / 'text'}"
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny model with runtime graphs (HCLr.fst + Gr.fst): grammars work."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-runtime"), runtime_graph=True)


@pytest.fixture(scope="session")
def tiny_model_hclg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny model with a precompiled graph/HCLG.fst."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-hclg"))


@pytest.fixture(scope="session")
def vosk_model(tiny_model_dir: Path) -> Any:
    import vosk

    vosk.SetLogLevel(-1)
    return vosk.Model(str(tiny_model_dir))


@pytest.fixture(scope="session")
def tts_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tts-cache")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Gateway:
    """A running gateway plus the fakes around it."""

    url: str
    app: web.Application
    services: Services
    settings: Settings
    rasa: FakeRasa
    twilio: FakeTwilioRest

    def call(self, **kwargs: Any) -> TwilioCallSimulator:
        return TwilioCallSimulator(self.url, AUTH_TOKEN, account_sid=ACCOUNT_SID, **kwargs)

    async def connected_call(self, **kwargs: Any) -> TwilioCallSimulator:
        """Place a signed call, open the stream, wait for the spoken welcome."""
        sim = self.call(**kwargs)
        resp = await sim.place_call()
        assert resp.status == 200, sim.twiml
        await sim.connect()
        await sim.wait_until(lambda: sim.media_frames > 0, timeout=10)
        return sim

    @property
    def sessions(self) -> dict[str, Any]:
        return self.app[SESSIONS]


def gateway_settings(port: int, rasa: FakeRasa, twilio: FakeTwilioRest, model: Path, cache: Path, **over: Any) -> Settings:
    base = Settings(
        host="127.0.0.1",
        port=port,
        rasa_url=rasa.url,
        rasa_timeout_s=5.0,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base_url=twilio.url,
        public_base_url=f"http://127.0.0.1:{port}",
        operator_number=OPERATOR,
        hotline=HOTLINE,
        sms_enabled=True,
        vosk_model_path=model,
        asr_workers=os.cpu_count() or 1,
        silence_ms=500,
        no_input_timeout_ms=60000,
        tts_cache_dir=cache,
        ack_after_ms=0,  # deterministic turns; test_call_flows tests the acknowledgement itself
    )
    return base.with_overrides(**over)


@pytest_asyncio.fixture
async def make_gateway(tiny_model_dir: Path, vosk_model: Any, tts_cache_dir: Path) -> AsyncIterator[Any]:
    """Factory: ``await make_gateway(**settings_overrides)`` -> :class:`Gateway`."""
    started: list[tuple[web.AppRunner, FakeRasa, FakeTwilioRest, AsrEngine, Any]] = []

    async def factory(model_dir: Path | None = None, model: Any = None, tts: PromptCache | None = None,
                      **over: Any) -> Gateway:
        rasa = await FakeRasa().start()
        twilio = await FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN).start()
        port = free_port()
        mdir = model_dir or tiny_model_dir
        settings = gateway_settings(port, rasa, twilio, mdir, tts_cache_dir, **over)
        engine = AsrEngine(model or vosk_model, mdir, settings.asr_workers)
        import aiohttp

        http = aiohttp.ClientSession()
        services = Services(
            settings=settings,
            asr=engine,
            tts=tts or PromptCache(EspeakTts(rate_wpm=190), tts_cache_dir),
            rasa=RasaClient(settings.rasa_url, http, settings.rasa_timeout_s),
            twilio=TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, twilio.url),
        )
        app = create_app(settings, services=services)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        started.append((runner, rasa, twilio, engine, (http, services.twilio)))
        return Gateway(f"http://127.0.0.1:{port}", app, services, settings, rasa, twilio)

    yield factory
    for runner, rasa, twilio, engine, (http, tw) in started:
        await runner.cleanup()
        await http.close()
        await tw.close()
        await rasa.stop()
        await twilio.stop()
        engine.shutdown()


@pytest_asyncio.fixture
async def gateway(make_gateway: Any) -> Gateway:
    return await make_gateway()


@pytest.fixture(scope="session")
def real_bot(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real action server and Rasa server (tests/servers.py), as `make run` starts them."""
    from tests.servers import Servers

    servers = Servers(tmp_path_factory.mktemp("voice-real-bot")).start()
    yield servers
    servers.stop()
