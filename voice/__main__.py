"""``python -m voice``: serve the phone gateway (default 127.0.0.1:8088).

``python -m voice say "câu hỏi" [--wav FILE]`` previews one turn instead (voice/say.py).

The Vosk model is loaded before the server starts listening, so a missing
model is reported immediately, with the command that fetches it, instead of
on the first call.
"""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from voice.app import create_app
from voice.asr import AsrEngine, ModelMissingError
from voice.config import Settings


def main(argv: list[str] | None = None) -> int:
    """Parse options, load the model, run the server; returns an exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["say"]:
        from voice.say import main as say

        return say(argv[1:])
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m voice", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings.with_overrides(host=args.host, port=args.port)
    if settings.validate_signature and not settings.twilio_auth_token:
        logging.warning("TWILIO_AUTH_TOKEN is not set: every webhook will be refused (403)")
    try:
        engine = AsrEngine.from_settings(settings)
    except ModelMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings, preloaded_asr=engine)
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
