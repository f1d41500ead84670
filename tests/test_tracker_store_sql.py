"""The streaming SQL tracker store writes, streams and retrieves exactly what Rasa's SQLTrackerStore does.

Why: production (bot/endpoints.prod.yml) runs ``brokers.tracker_store.StreamingSQLTrackerStore``
instead of Rasa's ``SQLTrackerStore`` to save a turn without re-reading it (issue 13). The table is
shared with every other Rasa instance and read by the HTTP API, so the rows must be the same rows
(every column, ids included), the event broker must receive what Rasa's diff engine would send, and
the retrieved tracker must be Rasa's.  Each database (SQLite, and PostgreSQL 15 from
``scripts/pg_test.sh`` like the storage tests: it fails, never skips, when it cannot start) gets
the same scripted conversations twice, once through two instances of Rasa's store and once through
two instances of ours, and the two databases and broker streams are compared.  The script:

* several conversations, turns alternating irregularly between the two instances (a count known
  to one instance goes stale when the other answers the next turn), new sessions in the middle,
  an event whose timestamp lies before its session's start (Rasa's last-session query leaves it
  out of the count);
* the HTTP API's ways of saving: a tracker replaced by one built from events (``from_dict``),
  the same tracker saved twice, a tracker held across a turn another instance answered,
  ``create_tracker`` with ``append_action_listen``, and a saved full-tracker retrieve.

The script also runs a deliberately naive store (a count remembered from the previous turn, as an
in-process cache would) and asserts the comparison catches it: the test can fail.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent

SCRIPT = r'''
import asyncio, json, sys, warnings
warnings.filterwarnings("ignore")
import types
import sqlalchemy as sa
import rasa.shared.core.events
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from brokers.tracker_store import StreamingSQLTrackerStore

# events Rasa creates itself (create_tracker's action_listen) get the same time in every run
rasa.shared.core.events.time = types.SimpleNamespace(time=lambda: 1_700_100_000.0)
DOMAIN = Domain.from_dict({"intents": ["ask_fee", "ask_documents"],
                           "slots": {"current": {"type": "any", "mappings": [{"type": "custom"}]}}})


class Sink:
    def __init__(self):
        self.got = []

    def publish(self, event, **kw):
        self.got.append(json.dumps(event, sort_keys=True, default=str))


class StaleCount(StreamingSQLTrackerStore):
    """The naive cache the real store must not be: this instance's count after its last save wins."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last = {}

    def _remember(self, tracker, rows, events):
        last = self._last.get(tracker.sender_id)
        super()._remember(tracker, last or rows, last or events)

    async def save(self, tracker):
        await super().save(tracker)
        starts = [e.timestamp for e in tracker.events if isinstance(e, SessionStarted)]
        self._last[tracker.sender_id] = sum(1 for e in tracker.events if not starts or e.timestamp >= max(starts))


class Clock:
    def __init__(self):
        self.t = 1_700_000_000.0

    def __call__(self, step=1.0):
        self.t += step
        return self.t


def new_session(tracker, clock):
    tracker.update(ActionExecuted("action_session_start", timestamp=clock(0.001)))
    tracker.update(SessionStarted(timestamp=clock(0.001)))
    tracker.update(ActionExecuted("action_listen", timestamp=clock(0.001)))


def answer(tracker, clock, i, early_slot=False):
    intent = ["ask_fee", "ask_documents"][i % 2]
    tracker.update(UserUttered(f"câu hỏi {i}", {"name": intent, "confidence": 0.9}, timestamp=clock()))
    tracker.update(ActionExecuted("action_answer", timestamp=clock()))
    tracker.update(SlotSet("current", f"1.00{i}", timestamp=clock() - (10_000 if early_slot else 0)))
    tracker.update(BotUttered(f"trả lời {i}", {"custom": {"i": i}}, timestamp=clock()))
    tracker.update(ActionExecuted("action_listen", timestamp=clock()))


async def turn(store, sender, clock, i, session=False, early_slot=False):
    """What the processor does with a text turn: fetch (creating the tracker), update, save once."""
    tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
    if session or not tracker.events:
        new_session(tracker, clock)
    answer(tracker, clock, i, early_slot)
    await store.save(tracker)
    return tracker


async def scenario(stores, clock, retrieved):
    a, b = stores
    plan = "aabababbbaab"
    for i, who in enumerate(plan):
        for s, sender in enumerate(("dan", "khac", "ba")):
            store = a if (who == "a") != (s == 1) else b
            await turn(store, sender, clock, i, session=(i == 5 and s != 2), early_slot=(i == 7 and s == 0))
            retrieved.append(await snapshot(b if store is a else a, sender))
    # replaced through the HTTP API: a tracker built from events, never retrieved
    old = await a.retrieve_full_tracker("dan")
    built = DialogueStateTracker.from_dict("dan", [e.as_dict() for e in old.events], DOMAIN.slots)
    answer(built, clock, 90)
    await b.save(built)
    # the same tracker saved twice in one turn
    tracker = await a.get_or_create_tracker("khac", append_action_listen=False)
    answer(tracker, clock, 91)
    await a.save(tracker)
    answer(tracker, clock, 92)
    await a.save(tracker)
    # a tracker held across a turn the other instance answered, then saved again
    held = await a.get_or_create_tracker("ba", append_action_listen=False)
    answer(held, clock, 93)
    await a.save(held)
    await turn(b, "ba", clock, 94)
    answer(held, clock, 95)
    await a.save(held)
    # create_tracker with its action_listen (the HTTP API's path), then a turn on the other instance
    await a.create_tracker("neu", append_action_listen=True)
    await turn(b, "neu", clock, 96)
    await turn(a, "neu", clock, 97)
    await b.retrieve("nobody")  # create_tracker of an existing conversation, after a retrieve that found none
    await a.create_tracker("ba", append_action_listen=True)
    await a.retrieve("nobody")
    await a.create_tracker("ba", append_action_listen=True)
    # a full tracker (every session) saved: Rasa slices it at the last session's row count
    full = await b.retrieve_full_tracker("dan")
    answer(full, clock, 98)
    await b.save(full)
    for sender in ("dan", "khac", "ba", "neu"):
        retrieved.append(await snapshot(a, sender))
        full = await b.retrieve_full_tracker(sender)
        retrieved.append([e.as_dict() for e in full.events])


async def snapshot(store, sender):
    tracker = await store.retrieve(sender)
    return [[e.as_dict() for e in tracker.events], tracker.current_slot_values(), tracker.latest_message.text]


def rows(url):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = [list(r) for r in conn.execute(sa.text(
            "SELECT id, sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"))]
    engine.dispose()
    return out


async def run(cls, url):
    sinks = [Sink(), Sink()]
    stores = [cls(DOMAIN, host=url, event_broker=sink) for sink in sinks]
    stores[1] = FailSafeTrackerStore(stores[1])  # as the Agent wraps it: its own create_tracker and init_tracker
    retrieved = []
    await scenario(stores, Clock(), retrieved)
    for st in stores:
        getattr(st, "_tracker_store", st).engine.dispose()
    return {"rows": rows(url), "streamed": [sinks[0].got, sinks[1].got], "retrieved": retrieved}


# every kind of event read back as Rasa reads it (the store looks each event class up once)
from rasa.shared.core import events as ev
from brokers.tracker_store import deserialise_events
kinds = [ev.UserUttered("t", {"name": "i", "confidence": 1.0}, [{"entity": "e", "value": "v", "start": 0, "end": 1}]),
         ev.ActionExecuted("a", policy="p", confidence=0.5), ev.SlotSet("s", [1, 2]), ev.BotUttered("b", {"x": 1}),
         ev.SessionStarted(), ev.ActiveLoop("f"), ev.LoopInterrupted(True), ev.Restarted(), ev.AllSlotsReset(),
         ev.ReminderScheduled("i", __import__("datetime").datetime(2030, 1, 1), name="r"), ev.ReminderCancelled(name="r"),
         ev.FollowupAction("a"), ev.ActionReverted(), ev.UserUtteranceReverted(), ev.ConversationPaused(),
         ev.ConversationResumed(), ev.ActionExecutionRejected("a"), ev.EntitiesAdded([{"entity": "e", "value": 1}]),
         ev.DefinePrevUserUtteredFeaturization(True), ev.AgentUttered("x"), ev.StoryExported()]
dumped = [json.loads(json.dumps(e.as_dict())) for e in kinds] + [{"event": "topic"}, {"event": None}, {"no": 1}]
for _ in range(2):  # the second time from the remembered classes
    assert [e.as_dict() for e in deserialise_events(dumped)] == [e.as_dict() for e in ev.deserialise_events(dumped)]
for odd in ([{"event": "no_such_event"}], [{"event": ["user"]}]):
    errors = []
    for fn in (deserialise_events, ev.deserialise_events):
        try:
            errors.append(repr(fn(odd)))
        except Exception as exc:
            errors.append(repr(exc))
    assert errors[0] == errors[1], errors

rasa_save = SQLTrackerStore.save
rasa_saves = []


async def counted_save(self, tracker):
    rasa_saves.append(tracker.sender_id)
    await rasa_save(self, tracker)


SQLTrackerStore.save = counted_save
rasa_url, ours_url, naive_url = sys.argv[1:4]
theirs = asyncio.run(run(SQLTrackerStore, rasa_url))
rasa_saves.clear()
ours = asyncio.run(run(StreamingSQLTrackerStore, ours_url))
# Rasa's own save only for the API cases (built, saved twice, held, create_tracker without a retrieve
# before it, twice of an existing conversation, the full tracker): every processor-like turn, new
# conversations included, takes the fast path
assert rasa_saves == ["dan", "khac", "ba", "neu", "ba", "ba", "dan"], rasa_saves
naive = asyncio.run(run(StaleCount, naive_url))
assert len(theirs["rows"]) > 150 and all(len(s) > 50 for s in theirs["streamed"]), (len(theirs["rows"]),)
for key in ("rows", "streamed", "retrieved"):
    assert ours[key] == theirs[key], key
assert naive["rows"] != theirs["rows"], "the comparison cannot tell a stale count"
print("OK", len(ours["rows"]), [len(s) for s in ours["streamed"]], len(ours["retrieved"]))
'''



def fresh_pg_databases(server_url: str, names: list[str]) -> list[str]:
    """Empty databases, as URLs for Rasa's venv (SQLAlchemy 1.4 with psycopg2)."""
    server = sa.engine.make_url(server_url)
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return [server.set(drivername="postgresql+psycopg2", database=name).render_as_string(hide_password=False)
            for name in names]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_urls(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    if request.param == "sqlite":
        return [f"sqlite:///{tmp_path / name}.db" for name in ("rasa", "ours", "naive")]
    return fresh_pg_databases(request.getfixturevalue("pg_server_url"),
                              ["tthc_ts_rasa", "tthc_ts_ours", "tthc_ts_naive"])


def test_same_rows_stream_and_trackers_as_rasas_sql_store(db_urls: list[str]) -> None:
    env = {"PYTHONPATH": str(REPO / "bot"), "PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false",
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    out = subprocess.run([str(REPO / ".venv-rasa/bin/python"), "-c", SCRIPT, *db_urls], cwd=REPO / "bot",
                         capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout[-2000:] + out.stderr[-4000:]


# --------------------------------------------------------------------------- the served process's other cut
# (docker/entrypoints/rasa_serve.py, the per-turn check of the action server's response; here because
# issue 13's profile of a turn found both, and this file is the turn-cost tests' home)
