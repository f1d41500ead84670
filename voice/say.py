"""``python -m voice say "câu hỏi"``: one turn through the real assistant, as a caller hears it.

Why: an admin who edits the catalogue or the bot wants to hear the phone answer without
placing a call.  The question goes to the running Rasa server (``RASA_URL``) exactly as the
gateway sends it; the reply is composed by the gateway's own code (``voice.dialogue.spoken``
and ``voice.speech.first_turn``), and each sentence the caller would hear is printed on its
own line.  ``--wav FILE`` also writes the synthesised audio (8 kHz, as on the phone line).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
import wave
from pathlib import Path

import aiohttp

from voice.audio import ulaw_decode
from voice.config import Settings
from voice.dialogue import RasaClient, for_tts, spoken
from voice.speech import first_turn
from voice.tts import PromptCache, TtsError, engine_from_settings


async def preview(question: str, settings: Settings, sender: str, sms_ok: bool) -> tuple[list[str], bool]:
    """(the sentences a caller hears, whether the gateway would transfer the call)."""
    async with aiohttp.ClientSession() as http:
        reply = await RasaClient(settings.rasa_url, http, settings.rasa_timeout_s).send(sender, question)
    said = spoken(reply, hotline=settings.hotline)
    if said.handoff:
        return said.sentences + ["(chuyển máy tới tổng đài viên)"], True
    sentences, _read, _mode = first_turn(said, settings.documents_per_turn, sms_ok)
    return sentences, False


async def synthesise(sentences: list[str], settings: Settings) -> bytes:
    """μ-law audio exactly as the gateway queues it: the first sentence, then the rest in one clip."""
    cache = PromptCache(engine_from_settings(settings), None)
    chunks = [for_tts(sentences[0])] + ([for_tts(" ".join(sentences[1:]))] if len(sentences) > 1 else [])
    return b"".join([await cache.ulaw(chunk) for chunk in chunks])


def write_wav(path: Path, ulaw: bytes) -> None:
    """8 kHz 16-bit mono WAV of μ-law audio."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(ulaw_decode(ulaw).astype("<i2").tobytes())


def main(argv: list[str] | None = None) -> int:
    """Parse options, run one turn, print it; returns an exit code."""
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m voice say", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question", help="câu hỏi, như người gọi nói")
    parser.add_argument("--wav", type=Path, help="also write the synthesised audio to this WAV file")
    parser.add_argument("--sender", default="", help="conversation id (default: a new one per run)")
    parser.add_argument("--rasa-url", default=settings.rasa_url)
    parser.add_argument("--sms", action="store_true", default=settings.sms_enabled,
                        help="preview as if SMS can go to the caller (default: SMS_ENABLED)")
    args = parser.parse_args(argv)
    settings = settings.with_overrides(rasa_url=args.rasa_url)
    sender = args.sender or f"say-{uuid.uuid4().hex[:12]}"
    sentences, _transfer = asyncio.run(preview(args.question, settings, sender, args.sms))
    for sentence in sentences:
        print(sentence)
    if args.wav:
        speakable = [s for s in sentences if not s.startswith("(")]
        try:
            audio = asyncio.run(synthesise(speakable, settings)) if speakable else b""
        except TtsError as exc:
            print(f"lỗi tổng hợp giọng nói: {exc}", file=sys.stderr)
            return 1
        write_wav(args.wav, audio)
        print(f"đã ghi {args.wav} ({len(audio) / 8000:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
