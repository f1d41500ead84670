"""Multi-turn citizen conversations for the load tools, from the conversation suite.

The load benchmark (benchmarks/load/locustfile.py) and the fault and reload tests
(tests/prod_load.py) replay the suite's ``follow_up`` conversations
(benchmarks/data/conversations/follow_up.yaml): a procedure question, then aspect-only
follow-ups ("lệ phí bao nhiêu", "nộp ở đâu") that are answered right only when the
conversation still knows its procedure — so a reply that cites another procedure, or
none, shows a lost conversation, not just a slow one.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

SUITE = Path(__file__).resolve().parent.parent / "data" / "conversations" / "follow_up.yaml"


@dataclass(frozen=True)
class Turn:
    text: str
    code: str  # the procedure the reply must cite


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[Turn, ...]


def follow_up_conversations(path: Path = SUITE) -> list[Conversation]:
    """Every conversation of the suite file whose turns all name the procedure to cite."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for conv in data["conversations"]:
        turns = tuple(Turn(t["user"], str(t["expect_code"])) for t in conv["turns"] if t.get("expect_code"))
        if len(turns) == len(conv["turns"]) and len(turns) >= 2:
            out.append(Conversation(conv["id"], turns))
    return out


def cited_code(messages: list[dict]) -> str | None:
    """The procedure code the bot's reply cites (the structured payload of its messages)."""
    for message in messages:
        code = (message.get("custom") or {}).get("procedure_code")
        if code:
            return str(code)
    return None


def answered_right(webhook_url: str, conversations: list[Conversation], timeout_s: float = 180) -> list[Conversation]:
    """The conversations the bot answers right when each is played alone, one after the other.

    Why: the load tools judge a turn by the procedure it cites, to catch a conversation that lost
    its context under load or through a fault.  A conversation the resolver gets wrong even alone
    would count against the load on every replay; it is left out (and named) instead, so that
    only what the load changed is counted.
    """
    good = []
    for conv in conversations:
        sender = f"baseline-{conv.id}-{time.monotonic_ns() % 10**9}"
        for turn in conv.turns:
            body = json.dumps({"sender": sender, "message": turn.text}).encode("utf-8")
            req = urllib.request.Request(webhook_url, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                    code = cited_code(json.loads(resp.read() or b"[]"))
            except (urllib.error.URLError, TimeoutError, ValueError) as exc:
                code = f"error {type(exc).__name__}"
            if code != turn.code:
                print(f"baseline: {conv.id} left out ({turn.text!r}: cited {code}, expected {turn.code})")
                break
        else:
            good.append(conv)
    return good
