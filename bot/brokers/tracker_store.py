"""The in-memory tracker store, streaming new events to the event broker without re-reading the tracker.

Why: Rasa's ``TrackerStore.stream_events`` finds a turn's new events by retrieving the
stored tracker again and taking the events beyond its length.  Retrieving replays every
event of the conversation, so with an event broker configured (every turn is recorded,
docs/analytics.md) a turn's cost grew with the conversation: +77 ms p50 and +333 ms p95
for one 80-turn conversation (benchmarks/event_recording.py --one-conversation).

This store remembers, per conversation, how many events the next ``retrieve`` will return
(the last session's, as Rasa's own ``_retrieve`` computes it) and streams the events beyond
that number, which is exactly what the diff engine would compute.  A conversation it has no
count for (the first save after a start, or one replaced through the HTTP API) takes Rasa's
own path.  Configured in bot/endpoints.yml (``tracker_store: type: brokers.tracker_store.…``).
"""

from __future__ import annotations

import itertools
from typing import Any

from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker


def last_session_length(tracker: DialogueStateTracker) -> int:
    """Events a fresh ``retrieve`` returns: from the last session start on, when there are several."""
    events = list(tracker.events)
    for i in range(len(events) - 1, 0, -1):  # a session start at index 0 leaves one session: all of it
        event = events[i]
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME:
            return len(events) - i
    return len(events)


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
