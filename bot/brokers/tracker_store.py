"""Tracker stores that stream a turn's new events to the event broker without re-reading the tracker.

Why: Rasa's ``TrackerStore.stream_events`` finds a turn's new events by retrieving the
stored tracker again and taking the events beyond its length.  Retrieving replays every
event of the conversation, so with an event broker configured (every turn is recorded,
docs/analytics.md) a turn's cost grew with the conversation: +77 ms p50 and +333 ms p95
for one 80-turn conversation (benchmarks/event_recording.py --one-conversation).

``StreamingInMemoryTrackerStore`` (bot/endpoints.yml, ``make run``) remembers, per
conversation, how many events the next ``retrieve`` will return (the last session's, as
Rasa's own ``_retrieve`` computes it) and streams the events beyond that number, which is
exactly what the diff engine would compute.  A conversation it has no count for (the first
save after a start, or one replaced through the HTTP API) takes Rasa's own path.

``StreamingSQLTrackerStore`` (bot/endpoints.prod.yml, production) does the same for
PostgreSQL, where a turn paid, on top of the fetch at its start: a second full read and
replay of the session (``stream_events``), a count query with a sub-query
(``_additional_events``), and ORM objects for every row read and every new event.  See the
class for how it stays correct with several Rasa instances on one database.
"""

from __future__ import annotations

import itertools
import json
import logging
import weakref
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore, ensure_schema_exists
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)


def last_session_length(tracker: DialogueStateTracker) -> int:
    """Events a fresh ``retrieve`` returns: from the last session start on, when there are several."""
    events = list(tracker.events)
    for i in range(len(events) - 1, 0, -1):  # a session start at index 0 leaves one session: all of it
        event = events[i]
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME:
            return len(events) - i
    return len(events)


_EVENT_CLASSES: dict[str, type[Event]] = {}


def deserialise_events(serialised: list[dict[str, Any]]) -> list[Event]:
    """``rasa.shared.core.events.deserialise_events`` with each event class looked up once.

    Why: Rasa finds an event's class by walking every subclass of ``Event`` (``all_subclasses``,
    with an ``inspect.isabstract`` per class) for every event it reads: the most own time of a
    retrieve after JSON itself.  A class once found is remembered; an unknown name still goes
    through Rasa's lookup (its error, ``topic``'s None).
    """
    out = []
    for parameters in serialised:
        if "event" not in parameters:
            continue
        name = parameters["event"]
        if not isinstance(name, str):
            event = Event.from_parameters(parameters)  # Rasa's own answer (None, or its error)
        else:
            cls = _EVENT_CLASSES.get(name)
            if cls is None:
                cls = Event.resolve_by_type(name)  # Rasa's lookup: its error if unknown, None for "topic"
                if cls is not None:
                    _EVENT_CLASSES[name] = cls
            event = cls._from_parameters(parameters) if cls else None
        if event:
            out.append(event)
        else:
            logger.warning(f"event.deserialization.failed: {name!r}")
    return out


class StreamingInMemoryTrackerStore(InMemoryTrackerStore):
    """``InMemoryTrackerStore`` whose event streaming costs the new events only."""

    def __init__(self, domain: Any, event_broker: Any = None, **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self._streamed: dict[str, tuple[str, int]] = {}  # sender -> (stored text, its last session's length)

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publish the events added since the stored tracker; as Rasa's, without deserialising it."""
        if self.event_broker is None:
            return
        known = self._streamed.get(tracker.sender_id)
        stored = self.store.get(tracker.sender_id)
        if known is None or stored is None or known[0] is not stored:
            await super().stream_events(tracker)  # unknown or replaced elsewhere: Rasa's own diff
            return
        new_events = list(itertools.islice(tracker.events, known[1], len(tracker.events)))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Save as Rasa does, then remember what the next retrieve of this conversation returns."""
        await super().save(tracker)
        self._streamed[tracker.sender_id] = (self.store[tracker.sender_id], last_session_length(tracker))


class StreamingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` (same table, rows, sessions) that saves a turn without reading it again.

    Rasa's ``save`` needs *n*, the number of rows its last-session query returns right now: it
    streams ``tracker.events[n:]`` (via a second retrieve) and inserts them (via a count query).
    The tracker a turn saves is, in Rasa's processor, the very object this store's ``retrieve``
    returned at the turn's start, and that retrieve counted the rows: this store remembers that
    count against the tracker object (a weak reference) and uses it once, in the next save of
    that object.  Why that count is still right at the save: the lock store serialises a
    conversation's turns across instances (RedisLockStore in production), so no other instance
    writes the conversation between this turn's retrieve and its save — the same assumption
    Rasa's own count-then-insert makes.  A count is never carried from one turn to the next, so
    another instance answering the previous turn cannot make it stale: the next turn on this
    instance starts with a retrieve that counts again.  Every other save (a tracker this store
    did not just retrieve: the HTTP API's replaced events, a second save of one tracker, a
    tracker whose retrieve was superseded) takes Rasa's own ``save``.  A new conversation (the
    retrieve found no row, ``create_tracker`` follows, through Rasa's ``FailSafeTrackerStore``
    wrapper in the server) counts 0 rows.

    The reads fetch only the ``data`` column with Core SQL (the same WHERE clause as Rasa's
    ``_event_query``), and a save inserts its rows with one ``executemany``; each event's
    ``as_dict`` is computed once for its row and its broker message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = self.SQLEvent.__table__
        sender = sa.bindparam("sender_id")
        start = (sa.select(sa.func.max(table.c.timestamp).label("session_start"))
                 .where(table.c.sender_id == sender, table.c.type_name == SessionStarted.type_name).subquery())
        self._select_all_sessions = sa.select(table.c.data).where(table.c.sender_id == sender).order_by(table.c.id)
        self._select_last_session = (
            sa.select(table.c.data)
            .where(table.c.sender_id == sender,
                   sa.or_(table.c.timestamp >= start.c.session_start, start.c.session_start.is_(None)))
            .order_by(table.c.id))
        self._insert = table.insert()
        # sender -> (weak reference to the tracker a retrieve returned, rows read, events in it)
        self._known: dict[str, tuple[weakref.ref, int, int]] = {}
        self._absent: str | None = None  # the last retrieve found no row for this sender
        with self.session_scope() as session:  # Rasa checks POSTGRESQL_SCHEMA per session; here once
            ensure_schema_exists(session)

    def _remember(self, tracker: DialogueStateTracker, rows: int, events: int) -> None:
        """Tie the counts to this tracker object; the entry goes when the tracker is collected."""
        sender = tracker.sender_id

        def forget(ref: weakref.ref, known: dict = self._known) -> None:
            # may run in another thread (a garbage collection there): at worst a later save takes Rasa's path
            if known.get(sender, (None,))[0] is ref:
                known.pop(sender, None)

        self._known[sender] = (weakref.ref(tracker, forget), rows, events)

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        """Rasa's query and tracker, reading only ``data`` (no ORM objects); counts the rows."""
        query = self._select_all_sessions if fetch_events_from_all_sessions else self._select_last_session
        with self.engine.connect() as conn:
            serialised = conn.execute(query, {"sender_id": sender_id}).scalars().all()
        self._absent = None
        events = [json.loads(data) for data in serialised]
        if self.domain and len(events) > 0:
            logger.debug(f"Recreating tracker from sender id '{sender_id}'")
            tracker = DialogueStateTracker.from_events(sender_id, deserialise_events(events), self.domain.slots)
            if not fetch_events_from_all_sessions:
                self._remember(tracker, len(events), len(tracker.events))
            return tracker
        if not events:
            self._absent = sender_id
        logger.debug(f"Can't retrieve tracker matching sender id '{sender_id}' from SQL storage. "
                     "Returning `None` instead.")
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save (stream, then insert, the events beyond the stored ones) with the count known."""
        sender_id = tracker.sender_id
        known = self._known.get(sender_id)
        if known is not None and known[0]() is tracker:
            stored_rows, stored_events = known[1], known[2]
        elif self._absent == sender_id:  # the last read found no row: a tracker being created (create_tracker)
            stored_rows = stored_events = 0
        else:
            self._absent = None
            await super().save(tracker)  # not retrieved just now: Rasa's own queries find the new events
            return
        self._absent = None
        events = tracker.events
        if not events:  # nothing to stream or insert, as in Rasa; the counts still hold for this tracker
            self._remember(tracker, stored_rows, stored_events)
            return
        self._known.pop(sender_id, None)  # one save per retrieve: the next one takes Rasa's path
        new = list(itertools.islice(events, min(stored_rows, stored_events), len(events)))
        skip_rows = stored_rows - min(stored_rows, stored_events)
        dicts = [event.as_dict() for event in new]
        rows = [{"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
                 "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                 "action_name": data.get("name"), "data": json.dumps(data)}
                for event, data in itertools.islice(zip(new, dicts, strict=True), skip_rows, None)]
        if self.event_broker is not None:  # streamed before the rows are written, as Rasa does
            skip_stream = stored_events - min(stored_rows, stored_events)
            for data in itertools.islice(dicts, skip_stream, None):
                body: dict[str, Any] = {"sender_id": sender_id}
                body.update(data)
                self.event_broker.publish(body)
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self._insert, rows)
        logger.debug(f"Tracker with sender_id '{sender_id}' stored to database")
