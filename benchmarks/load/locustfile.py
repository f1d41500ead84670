"""Locust scenario: citizens holding multi-turn conversations over REST (issue 13's load benchmark).

Each simulated citizen replays a ``follow_up`` conversation of the suite
(benchmarks/data/conversations/follow_up.yaml, via benchmarks/load/scenarios.py) under a sender id
of its own — a procedure question, then follow-ups such as "lệ phí bao nhiêu" that are answered
right only when the conversation still knows its procedure — and starts a new conversation, with a
new sender id, when one ends. A turn counts as a failure in Locust's table when the reply is not a
2xx, has no non-empty message, or does not cite the procedure the suite expects.

Targets: ``LOAD_TARGETS`` (space-separated base URLs, e.g. several Rasa instances, or one nginx);
consecutive turns of one conversation go to the next target in turn (round robin), so with several
Rasa instances every conversation crosses instances through the PostgreSQL tracker store.
``LOAD_WAIT_S``: pause between a citizen's turns (default 0: as fast as the answers come).

    LOAD_TARGETS="http://127.0.0.1:5006 http://127.0.0.1:5007" \
        .venv-ml/bin/locust -f benchmarks/load/locustfile.py --headless -u 8 -r 8 -t 30s

benchmarks/load_throughput.py runs this file at increasing user counts and prints the table.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

from locust import FastHttpUser, constant, task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.load.scenarios import cited_code, follow_up_conversations  # noqa: E402

# LOAD_CONVERSATION_IDS: only these (space-separated ids; benchmarks/load_throughput.py passes the ones
# the bot answers right when played alone, so that a wrong citation counts only what the load changed)
_ONLY = set(os.environ.get("LOAD_CONVERSATION_IDS", "").split())
CONVERSATIONS = [c for c in follow_up_conversations() if not _ONLY or c.id in _ONLY]
TARGETS = (os.environ.get("LOAD_TARGETS") or "http://127.0.0.1:8080").split()
_ids = itertools.count()


class Citizen(FastHttpUser):
    """One citizen: conversation after conversation, each under a new sender id."""

    host = TARGETS[0]
    wait_time = constant(float(os.environ.get("LOAD_WAIT_S", "0")))

    def on_start(self) -> None:
        self.number = next(_ids)
        self.conversations = 0
        self.turns = 0

    @task
    def converse(self) -> None:
        conv = CONVERSATIONS[(self.number + self.conversations) % len(CONVERSATIONS)]
        sender = f"locust-{os.getpid()}-{self.number}-{self.conversations}"
        self.conversations += 1
        for turn in conv.turns:
            target = TARGETS[(self.number + self.turns) % len(TARGETS)]
            self.turns += 1
            with self.client.post(f"{target}/webhooks/rest/webhook", json={"sender": sender, "message": turn.text},
                                  name="turn", catch_response=True) as resp:
                if resp.status_code // 100 != 2:
                    resp.failure(f"HTTP {resp.status_code}")
                    return
                try:
                    messages = resp.json()
                except ValueError:
                    resp.failure("not JSON")
                    return
                if not messages or not any((m.get("text") or "").strip() for m in messages):
                    resp.failure("empty reply")
                    return
                if (code := cited_code(messages)) != turn.code:
                    resp.failure(f"cites {code}, expected {turn.code}")
                    return
                resp.success()
