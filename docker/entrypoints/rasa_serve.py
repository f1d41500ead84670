"""``rasa`` (Rasa's own command line) with three changes a serving process can afford.

1. **No jax.** TensorFlow's TF Lite converter (tensorflow/lite/python/util.py) imports jax whenever
   it is installed — and TensorFlow's own requirements install it — so every Rasa process carried
   jax and jaxlib, about 70 MB resident, for a converter that serving never calls (measured: 550 MB
   → 481 MB after ``import tensorflow, rasa.core.agent``). TensorFlow treats a failed import as
   "no jax"; ``sys.modules["jax"] = None`` makes the import fail.
2. **The action server's answer is checked against a schema checked once.** Rasa 3.6 validates
   every action server response with ``jsonschema.validate(result, schema)``, which first
   validates the *schema* against its meta-schema, on every call: 44 ms of the Rasa process's CPU
   per action call on this (busy) machine, against 2–3 ms with a validator built once; a turn's
   p50 went from 120 to 96 ms, p95 from 258 to 136 ms (benchmarks/profile_turn.py found it:
   jsonschema's functions had the most own time of a turn; docs/deploy.md).
   The same schema and the same check; an invalid response still goes through Rasa's own method,
   which raises its own error message. Each returned event is checked against its own event
   type's sub-schema rather than against all 23 (``oneOf``; the same answer, see
   ``event_by_event_check``): 1.07 → 0.11 ms of CPU per response, 4.0 → 0.6 ms of a profiled turn.

3. **A resent turn cannot wait forever for a dead instance's lock.** Rasa's ticket lock says a
   conversation is locked for ticket N while the first live ticket is not N. When an instance dies
   mid-turn, nginx resends the turn to another one, whose ticket is issued a moment after the dead
   one and so expires a moment after it (same lifetime); if the 1 s poll misses that moment, the
   lock holds no ticket at all, "first ticket" is 0, never N, and the turn waits until the client
   gives up (tests/test_fault.py saw 504s after 60 and 120 s). Here a ticket is locked while a
   live ticket *older than it* exists — the same answer whenever its own ticket is still there.

4. **No deep copies for debug lines that are not written.** Rasa's ``MessageProcessor`` deep-copies a
   turn's events, slots and entities for six ``structlogger.debug`` calls, whose arguments are
   evaluated at any log level (about 0.8 ms of a profiled 35 ms turn). The copies serve only those
   log lines, which structlog renders during the call, so the objects themselves are passed.
   Applied only when Rasa's processor uses ``copy`` for nothing else (checked at start-up).

Everything else is Rasa's ``main``.

    .venv-rasa/bin/python docker/entrypoints/rasa_serve.py run --model ...   (docker/entrypoints/rasa.sh)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any


def block_jax() -> None:
    sys.modules.setdefault("jax", None)  # type: ignore[arg-type]


def event_by_event_check(spec: dict[str, Any], cls: Any) -> Callable[[dict[str, Any]], bool] | None:
    """The response schema's answer, with each event checked against its own event type only.

    Why: Rasa's schema checks every returned event with ``oneOf`` over all 23 event types, i.e.
    each event against every type's sub-schema (about 100 sub-validations per turn; the most own
    time of the Rasa process after DIET and the database, benchmarks/profile_turn.py).  Every
    alternative pins ``event`` to a different constant, and the event schema requires ``event`` to
    be a string: an event can only match the alternative named by its ``event``, so "exactly one
    matches" is "the one named matches".  Returns None (use the full check) when the schema is not
    of that shape; callers treat False as "ask the full check", never as invalid.
    """
    events = spec.get("properties", {}).get("events")
    item = events.get("items") if isinstance(events, dict) else None
    if (set(spec) != {"type", "properties"} or not isinstance(events, dict) or set(events) != {"type", "items"}
            or events["type"] != "array" or not isinstance(item, dict) or not isinstance(item.get("oneOf"), list)
            or "event" not in item.get("required", []) or item.get("properties", {}).get("event") != {"type": "string"}):
        return None
    by_event: dict[str, Any] = {}
    for alternative in item["oneOf"]:
        const = alternative.get("properties", {}).get("event", {}).get("const")
        if not isinstance(const, str) or const in by_event:
            return None
        by_event[const] = cls(alternative)
    outer = cls({**spec, "properties": {**spec["properties"], "events": {"type": "array"}}})
    common = cls({key: value for key, value in item.items() if key != "oneOf"})

    def check(result: dict[str, Any]) -> bool:
        if not outer.is_valid(result):
            return False
        for event in result.get("events", ()):
            if not common.is_valid(event):
                return False
            alternative = by_event.get(event["event"])
            if alternative is None or not alternative.is_valid(event):
                return False
        return True

    return check


def validate_action_results_with_one_validator() -> None:
    """Replace RemoteAction._validate_action_result by the same check with a cached validator."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    spec = RemoteAction.action_response_format_spec()
    cls = validator_for(spec)
    cls.check_schema(spec)  # once, here
    validator = cls(spec)
    quick = event_by_event_check(spec, cls)
    rasas_own = RemoteAction._validate_action_result

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if quick is not None and quick(result):
            return True
        if best_match(validator.iter_errors(result)) is None:
            return True
        return rasas_own(self, result)  # raises Rasa's ValidationError, with its message

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def lock_only_behind_older_tickets() -> None:
    """TicketLock.is_locked: locked while a live ticket older than ``ticket_number`` exists."""
    from rasa.core.lock import TicketLock

    def is_locked(self: TicketLock, ticket_number: int) -> bool:
        self.remove_expired_tickets()
        return any(ticket.number < ticket_number for ticket in self.tickets)

    TicketLock.is_locked = is_locked  # type: ignore[method-assign]


class _NoCopyForLogArguments:
    """Stands for the ``copy`` module in ``rasa.core.processor``, where it only copies log arguments."""

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        return obj


def no_deep_copies_for_debug_logs() -> bool:
    """Pass the processor's debug-log arguments uncopied; False (nothing changed) if its uses differ."""
    import inspect

    from rasa.core import processor

    source = inspect.getsource(processor)
    uses = source.count("copy.")
    logged = len(re.findall(r"=copy\.deepcopy\(", source))
    if uses != logged or logged != 6:  # another Rasa version: leave it as it is
        return False
    processor.copy = _NoCopyForLogArguments  # type: ignore[attr-defined]
    return True


if __name__ == "__main__":
    block_jax()
    validate_action_results_with_one_validator()
    lock_only_behind_older_tickets()
    no_deep_copies_for_debug_logs()
    from rasa.__main__ import main

    main()
