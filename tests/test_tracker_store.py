"""The streaming in-memory tracker store publishes exactly the events Rasa's own diff would.

Runs in .venv-rasa (the store is a Rasa component): one conversation of many turns, a
new session in the middle, and a tracker replaced behind the store's back; every turn's
published events are compared with those of Rasa's InMemoryTrackerStore.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = r'''
import asyncio, json
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered, BotUttered, SlotSet
from brokers.tracker_store import StreamingInMemoryTrackerStore

class Sink:
    def __init__(self): self.got = []
    def publish(self, event, **kw):  # the two runs create their events at different times
        self.got.append(json.dumps({k: v for k, v in event.items() if k != "timestamp"}, sort_keys=True, default=str))

async def turn(store, sender, i, new_session=False):
    tracker = await store.get_or_create_tracker(sender)
    if new_session:
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(SessionStarted())
        tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(f"câu {i}", {"name": "ask_fee", "confidence": 1.0}))
    tracker.update(SlotSet("current", f"1.00{i}"))
    tracker.update(BotUttered(f"trả lời {i}"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)

async def main():
    domain = Domain.from_dict({"slots": {"current": {"type": "any", "mappings": [{"type": "custom"}]}}})
    ours, theirs = Sink(), Sink()
    a, b = StreamingInMemoryTrackerStore(domain, ours), InMemoryTrackerStore(domain, theirs)
    for store in (a, b):
        for i in range(30):
            await turn(store, "dan", i, new_session=(i in (0, 12)))
            await turn(store, "khac", i, new_session=(i == 0))
        # replaced behind the store's back (as the HTTP API may): the store falls back to Rasa's diff
        store.store["dan"] = InMemoryTrackerStore.serialise_tracker(await store.retrieve("dan"))
        await turn(store, "dan", 99)
    assert len(ours.got) == len(theirs.got) > 200, (len(ours.got), len(theirs.got))
    assert ours.got == theirs.got
    print("OK", len(ours.got))

asyncio.run(main())
'''


def test_streams_exactly_what_rasas_diff_streams():
    out = subprocess.run([str(REPO / ".venv-rasa/bin/python"), "-c", SCRIPT], cwd=REPO / "bot", capture_output=True,
                         text=True, timeout=300, env={"PYTHONPATH": str(REPO / "bot"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout[-2000:] + out.stderr[-4000:]
