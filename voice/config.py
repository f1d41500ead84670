"""Settings of the phone gateway, read from environment variables.

Why env-driven: the same code runs in CI (everything on loopback, fake Twilio
and fake Rasa), on a developer laptop and behind a public HTTPS proxy in
production; only the environment changes.  Every value has a safe default
except the secrets, which are empty until configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL_DIR = Path("models/vosk/vosk-model-small-vn-0.4")

#: What each keypad digit does in the DTMF menu.  Digits 1-3 send a plain
#: Vietnamese question to Rasa (so the assistant's own NLU picks the intent and
#: keeps the procedure in context); 0 transfers to a person.
DEFAULT_DTMF_MENU: dict[str, str] = {
    "1": "Hồ sơ cần chuẩn bị gồm những gì?",
    "2": "Lệ phí là bao nhiêu?",
    "3": "Thời gian giải quyết là bao lâu?",
    "0": "__operator__",
}


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{key} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{key} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """All tunables of the gateway; build with :meth:`from_env`."""

    host: str = "127.0.0.1"
    port: int = 8088
    # Dialogue
    rasa_url: str = "http://127.0.0.1:5005/webhooks/rest/webhook"
    rasa_timeout_s: float = 8.0
    # Twilio
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    public_base_url: str = ""  # e.g. https://voice.example.vn (what Twilio calls)
    validate_signature: bool = True
    operator_number: str = ""
    hotline: str = ""  # our Twilio number; the sender of SMS
    sms_enabled: bool = False
    sms_max_per_day: int = 3  # messages per caller number per day (SMS-pumping guard)
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-* headers are believed
    say_voice: str = "Google.vi-VN-Standard-A"
    # Recognition
    vosk_model_path: Path = DEFAULT_MODEL_DIR
    asr_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    asr_batch_ms: int = 60  # audio gathered per recognition job (fewer thread hand-offs)
    vad_threshold: float = 200.0  # int16 RMS (about -44 dBFS) of a 20 ms frame counted as speech
    speech_start_ms: int = 60  # sustained speech that starts an utterance (and barges in)
    silence_ms: int = 500  # trailing silence that ends an utterance (main latency knob)
    max_utterance_ms: int = 12000
    barge_in: bool = True
    no_input_timeout_ms: int = 8000
    max_failed_recognitions: int = 2
    yes_no_min_confidence: float = 0.6
    # Speech output
    tts_engine: str = "espeak"  # "espeak" or "command"
    tts_command: str = ""  # for tts_engine=command: reads text on stdin, WAV on stdout
    tts_voice: str = "vi"
    tts_rate_wpm: int = 150
    tts_cache_dir: Path = Path(".cache/voice-tts")
    tts_cache_max_mb: int = 200  # the disk cache is trimmed (oldest first) above this
    playback_lead_frames: int = 5  # frames sent ahead of real time (jitter cushion)
    documents_per_turn: int = 3
    # nothing to play this long after the end of the caller's speech (or a key press): say the
    # pre-encoded "Dạ." first, the answer follows it (0 = never)
    ack_after_ms: int = 600
    dtmf_menu: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DTMF_MENU))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: ``os.environ``)."""
        e = os.environ if env is None else env
        base = cls()
        return cls(
            host=e.get("VOICE_HOST", base.host),
            port=_int(e, "VOICE_PORT", base.port),
            rasa_url=e.get("RASA_URL", base.rasa_url),
            rasa_timeout_s=_float(e, "RASA_TIMEOUT_S", base.rasa_timeout_s),
            twilio_account_sid=e.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=e.get("TWILIO_AUTH_TOKEN", ""),
            twilio_api_base_url=e.get("TWILIO_API_BASE_URL", base.twilio_api_base_url),
            public_base_url=e.get("PUBLIC_BASE_URL", "").rstrip("/"),
            validate_signature=_flag(e.get("TWILIO_VALIDATE_SIGNATURE"), True),
            operator_number=e.get("OPERATOR_NUMBER", ""),
            hotline=e.get("HOTLINE", ""),
            sms_enabled=_flag(e.get("SMS_ENABLED"), False),
            sms_max_per_day=_int(e, "SMS_MAX_PER_DAY", base.sms_max_per_day),
            trusted_proxies=tuple(p.strip() for p in e.get("TRUSTED_PROXIES", "").split(",") if p.strip()),
            say_voice=e.get("TWILIO_SAY_VOICE", base.say_voice),
            vosk_model_path=Path(e.get("VOSK_MODEL_PATH", str(base.vosk_model_path))),
            asr_workers=_int(e, "ASR_WORKERS", base.asr_workers),
            asr_batch_ms=_int(e, "ASR_BATCH_MS", base.asr_batch_ms),
            vad_threshold=_float(e, "VAD_THRESHOLD", base.vad_threshold),
            speech_start_ms=_int(e, "SPEECH_START_MS", base.speech_start_ms),
            silence_ms=_int(e, "SILENCE_MS", base.silence_ms),
            max_utterance_ms=_int(e, "MAX_UTTERANCE_MS", base.max_utterance_ms),
            barge_in=_flag(e.get("BARGE_IN"), True),
            no_input_timeout_ms=_int(e, "NO_INPUT_TIMEOUT_MS", base.no_input_timeout_ms),
            max_failed_recognitions=_int(
                e, "MAX_FAILED_RECOGNITIONS", base.max_failed_recognitions
            ),
            yes_no_min_confidence=_float(
                e, "YES_NO_MIN_CONFIDENCE", base.yes_no_min_confidence
            ),
            tts_engine=e.get("TTS_ENGINE", base.tts_engine),
            tts_command=e.get("TTS_COMMAND", ""),
            tts_voice=e.get("TTS_VOICE", base.tts_voice),
            tts_rate_wpm=_int(e, "TTS_RATE_WPM", base.tts_rate_wpm),
            tts_cache_dir=Path(e.get("TTS_CACHE_DIR", str(base.tts_cache_dir))),
            tts_cache_max_mb=_int(e, "TTS_CACHE_MAX_MB", base.tts_cache_max_mb),
            playback_lead_frames=_int(e, "PLAYBACK_LEAD_FRAMES", base.playback_lead_frames),
            documents_per_turn=_int(e, "DOCUMENTS_PER_TURN", base.documents_per_turn),
            ack_after_ms=_int(e, "ACK_AFTER_MS", base.ack_after_ms),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (handy in tests and benchmarks)."""
        return replace(self, **changes)  # type: ignore[arg-type]
