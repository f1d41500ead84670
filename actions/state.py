"""What the conversation is about, as a small explicit model over the tracker's slots.

Every user turn is resolved against this state (see ``actions/turn.py``), so a
reader can see why an answer was about a given procedure:

* ``current`` — the procedure the last answer was about;
* ``choice`` — a pending "which one?" question: its candidate codes and the aspect asked;
* ``question`` — a pending yes/no question (today only "handoff");
* ``aspect`` — the aspect of the last answer or of the pending choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rasa_sdk.events import EventType, SlotSet


@dataclass
class PendingChoice:
    codes: list[str]
    aspect: str


@dataclass
class ConversationState:
    current: str | None = None
    choice: PendingChoice | None = None
    question: str | None = None
    aspect: str | None = None
    handoff: bool = False
    _changed: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def from_slots(cls, get: Any) -> ConversationState:
        """Read the state from a slot getter (``tracker.get_slot``)."""
        codes = get("candidates") or []
        aspect = get("current_aspect")
        return cls(
            current=get("current_procedure"),
            choice=PendingChoice(list(codes), aspect or "overview") if codes else None,
            question=get("pending"),
            aspect=aspect,
            handoff=bool(get("handoff")),
        )

    # Transitions: each one says what the bot just did.
    def answered(self, code: str, name: str, aspect: str) -> list[EventType]:
        """The bot answered ``aspect`` of procedure ``code``: it becomes the current one."""
        self.current, self.choice, self.question, self.aspect = code, None, None, aspect
        return [SlotSet("current_procedure", code), SlotSet("current_procedure_name", name),
                SlotSet("candidates", None), SlotSet("pending", None), SlotSet("current_aspect", aspect)]

    def asked_choice(self, codes: list[str], aspect: str) -> list[EventType]:
        """The bot asked which of ``codes`` is meant (the current procedure stays as it was)."""
        self.choice, self.question, self.aspect = PendingChoice(codes, aspect), None, aspect
        return [SlotSet("candidates", codes), SlotSet("current_aspect", aspect), SlotSet("pending", None)]

    def asked_yes_no(self, question: str) -> list[EventType]:
        self.question = question
        return [SlotSet("pending", question)]

    def cleared_question(self) -> list[EventType]:
        self.question = None
        return [SlotSet("pending", None)]

    def forgot_current(self) -> list[EventType]:
        """The bot could not place the last question: nothing is being discussed any more."""
        self.current, self.choice, self.aspect = None, None, None
        return [SlotSet("current_procedure", None), SlotSet("current_procedure_name", None),
                SlotSet("candidates", None), SlotSet("current_aspect", None)]

    def handed_off(self) -> list[EventType]:
        self.question, self.handoff = None, True
        return [SlotSet("pending", None), SlotSet("handoff", True)]
