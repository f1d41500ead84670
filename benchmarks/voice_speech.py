"""What callers would hear for the project's dev-set questions, against the real bot.

For N questions of benchmarks/data/dev/*.jsonl (default 100, spread over the files), the
real Rasa server and action server (started as in the tests, tests/servers.py) answer over
REST; the gateway's own code (``voice.dialogue.parse_replies`` → ``voice.dialogue.spoken``)
turns each reply into the sentences sent to TTS.  Printed:

* how many spoken replies contain a URL, a raw code or figure (any digit, a procedure
  code, an all-capitals acronym such as "TT-BTC" or "CT01") or a symbol read aloud;
* the offending sentences, if any, and three sample replies.

Target: 0 of 100.  Usage: .venv-ml/bin/python benchmarks/voice_speech.py [--n 100] [--show 3]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bot")]

from tests.servers import Servers  # noqa: E402
from voice.dialogue import parse_replies, spoken  # noqa: E402
from voice.speech import offer  # noqa: E402

URL = re.compile(r"https?://|www\.|\.(?:vn|gov|com)\b", re.IGNORECASE)
CODE = re.compile(r"\d|\b[A-ZĐ]{2,}\b|\b[A-ZĐ]+\d")
SYMBOL = re.compile(r"[/\\@#%&*_=+<>{}\[\]|~^$«»\"“”()–—]|\s-\s|-")


def problems(sentence: str) -> list[str]:
    """What in one spoken sentence a caller should not hear."""
    out = []
    if URL.search(sentence):
        out.append("url")
    if CODE.search(sentence):
        out.append("code")
    if SYMBOL.search(sentence):
        out.append("symbol")
    return out


def dev_questions(n: int) -> list[str]:
    """``n`` questions, taken round-robin from every dev file so all aspects and fields appear."""
    files = sorted((REPO / "benchmarks" / "data" / "dev").glob("*.jsonl"))
    pools = [[json.loads(line)["question"] for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
             for f in files]
    out: list[str] = []
    i = 0
    while len(out) < n and any(i < len(p) for p in pools):
        out += [p[i] for p in pools if i < len(p)]
        i += 1
    return out[:n]


LAST_ASPECT: dict[str, str | None] = {}


def spoken_reply(servers: Servers, sender: str, question: str) -> list[str]:
    """The sentences the gateway would send to TTS for one question (the first three items included)."""
    said = spoken(parse_replies(servers.say(sender, question)), hotline="1022")
    LAST_ASPECT[sender] = said.aspect if said.facts is not None else None
    return said.sentences + said.items[:3] + ([offer(said.aspect)] if said.offer else [])


def said_aspect(servers: Servers, sender: str) -> str | None:
    """The aspect of the facts answered to ``sender`` last (None for a non-answer): samples show each once."""
    return LAST_ASPECT.get(sender)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--show", type=int, default=3)
    args = parser.parse_args()
    questions = dev_questions(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        servers = Servers(Path(tmp)).start()
        try:
            bad = []
            samples = []
            shown: set[str] = set()
            for i, q in enumerate(questions):
                sentences = spoken_reply(servers, f"voice-bench-{i}", q)
                found = [(s, problems(s)) for s in sentences if problems(s)]
                if found:
                    bad.append((q, found))
                aspect = said_aspect(servers, f"voice-bench-{i}")
                if aspect and aspect not in shown and len(samples) < args.show:
                    shown.add(aspect)
                    samples.append((q, sentences))
        finally:
            servers.stop()
    print(f"spoken replies for {len(questions)} dev-set questions (real Rasa + action server)")
    print(f"  with a URL, raw code or symbol read aloud: {len(bad)} of {len(questions)} (target 0)")
    for q, found in bad[:20]:
        print(f"  ✗ {q}")
        for s, what in found:
            print(f"      {what}: {s}")
    print("\nsample spoken replies:")
    for q, sentences in samples:
        print(f"  ❓ {q}")
        for s in sentences:
            print(f"     🔊 {s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
