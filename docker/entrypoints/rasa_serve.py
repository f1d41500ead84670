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
   which raises its own error message.

3. **A resent turn cannot wait forever for a dead instance's lock.** Rasa's ticket lock says a
   conversation is locked for ticket N while the first live ticket is not N. When an instance dies
   mid-turn, nginx resends the turn to another one, whose ticket is issued a moment after the dead
   one and so expires a moment after it (same lifetime); if the 1 s poll misses that moment, the
   lock holds no ticket at all, "first ticket" is 0, never N, and the turn waits until the client
   gives up (tests/test_fault.py saw 504s after 60 and 120 s). Here a ticket is locked while a
   live ticket *older than it* exists — the same answer whenever its own ticket is still there.

Everything else is Rasa's ``main``.

    .venv-rasa/bin/python docker/entrypoints/rasa_serve.py run --model ...   (docker/entrypoints/rasa.sh)
"""

from __future__ import annotations

import sys
from typing import Any


def block_jax() -> None:
    sys.modules.setdefault("jax", None)  # type: ignore[arg-type]


def validate_action_results_with_one_validator() -> None:
    """Replace RemoteAction._validate_action_result by the same check with a cached validator."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    spec = RemoteAction.action_response_format_spec()
    cls = validator_for(spec)
    cls.check_schema(spec)  # once, here
    validator = cls(spec)
    rasas_own = RemoteAction._validate_action_result

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
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


if __name__ == "__main__":
    block_jax()
    validate_action_results_with_one_validator()
    lock_only_behind_older_tickets()
    from rasa.__main__ import main

    main()
