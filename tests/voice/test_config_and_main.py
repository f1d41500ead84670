"""Settings from the environment and the ``python -m voice`` entry point."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from voice.asr import ModelMissingError, check_model_dir
from voice.config import Settings

REPO = Path(__file__).resolve().parents[2]


def test_defaults_and_env_overrides() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port) == ("127.0.0.1", 8088)
    assert s.rasa_url == "http://127.0.0.1:5005/webhooks/rest/webhook"
    assert s.validate_signature and not s.sms_enabled
    s = Settings.from_env(
        {"VOICE_PORT": "9000", "SMS_ENABLED": "yes", "SILENCE_MS": "650", "PUBLIC_BASE_URL": "https://v.example/",
         "TWILIO_API_BASE_URL": "http://127.0.0.1:1", "VOSK_MODEL_PATH": "/m", "BARGE_IN": "0"}
    )
    assert s.port == 9000 and s.sms_enabled and s.silence_ms == 650 and not s.barge_in
    assert s.public_base_url == "https://v.example" and str(s.vosk_model_path) == "/m"
    assert s.twilio_api_base_url == "http://127.0.0.1:1"


def test_bad_number_in_env_names_the_variable() -> None:
    with pytest.raises(ValueError, match="SILENCE_MS"):
        Settings.from_env({"SILENCE_MS": "half a second"})


def test_missing_model_message_names_make_models(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="make models"):
        check_model_dir(tmp_path / "nope")
    (tmp_path / "half" / "am").mkdir(parents=True)
    with pytest.raises(ModelMissingError, match="incomplete"):
        check_model_dir(tmp_path / "half")


def run_main(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "voice", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_main_refuses_to_start_without_a_model(tmp_path: Path) -> None:
    proc = run_main({"VOSK_MODEL_PATH": str(tmp_path / "missing")})
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "make models" in err and "VOSK_MODEL_PATH" in err


def test_main_serves_with_the_tiny_model(tiny_model_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = run_main({"VOSK_MODEL_PATH": str(tiny_model_dir), "TWILIO_AUTH_TOKEN": "x"}, "--port", str(port))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gateway did not start: {proc.communicate()[1][-2000:]}") from None
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
