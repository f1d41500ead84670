"""Custom actions: answer from the knowledge base, disambiguate, hand off, admit ignorance.

The dialogue is flat on purpose (see bot/domain.yml): the policies map each
intent to one of these actions, and the conversation context lives in slots
the actions set (current procedure, candidates, pending yes/no question).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.formatting import INTENT_ASPECT, answer
from actions.resolver import decide, parse_option
from actions.settings import SETTINGS
from knowledge_base.schema import Procedure
from knowledge_base.search import Hit, default_searcher

logger = logging.getLogger(__name__)

ASPECT_NAMES = {
    "overview": "thông tin chung", "documents": "hồ sơ", "fee": "lệ phí", "duration": "thời gian giải quyết",
    "where": "nơi nộp", "steps": "các bước", "online": "nộp trực tuyến", "legal_basis": "căn cứ pháp lý",
}


def payload(
    proc: Procedure | None = None,
    aspect: str | None = None,
    confidence: float | None = None,
    candidates: list[Hit] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The structured payload every bot message carries (see bot/channels/rest.py)."""
    data = {
        "procedure_code": proc.code if proc else None,
        "procedure_name": proc.name if proc else None,
        "aspect": aspect,
        "confidence": round(confidence, 3) if confidence is not None else None,
        "candidates": [{"code": h.code, "name": h.name, "score": round(h.score, 4)} for h in (candidates or [])],
        "source_url": proc.source_url if proc else None,
    }
    data.update(extra)
    return data


def _procedure(code: str | None) -> Procedure | None:
    if not code:
        return None
    for proc in default_searcher().index.procedures:
        if proc.code == code:
            return proc
    return None


def _latest_entity(tracker: Tracker, name: str) -> str | None:
    values = [e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == name]
    return values[0] if values else None


def dont_know(dispatcher: CollectingDispatcher, candidates: list[Hit] | None = None) -> list[EventType]:
    dispatcher.utter_message(
        text=(
            "Xin lỗi, tôi chưa tìm được thông tin chính xác cho câu hỏi này nên không dám trả lời đoán. "
            f"Anh/Chị có thể gọi đường dây nóng {SETTINGS.hotline} để được hướng dẫn. "
            "Anh/Chị có muốn tôi chuyển sang tổng đài viên không?"
        ),
        json_message=payload(candidates=candidates, hotline=SETTINGS.hotline),
    )
    return [SlotSet("pending", "handoff")]


def reply_with_answer(dispatcher: CollectingDispatcher, proc: Procedure, aspect: str, confidence: float | None) -> list[EventType]:
    dispatcher.utter_message(text=answer(proc, aspect), json_message=payload(proc, aspect, confidence))
    return [
        SlotSet("current_procedure", proc.code),
        SlotSet("current_procedure_name", proc.name),
        SlotSet("candidates", None),
        SlotSet("pending", None),
        SlotSet("current_aspect", aspect),
    ]


class ActionAnswer(Action):
    """Answers the asked aspect of the identified (or current) procedure."""

    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name", "ask_procedure")
        aspect = INTENT_ASPECT.get(intent, "overview")
        text = tracker.latest_message.get("text") or ""
        entity = _latest_entity(tracker, "procedure")
        current = _procedure(tracker.get_slot("current_procedure"))
        query = f"{entity} {text}" if entity and entity not in text else text
        try:
            hits = default_searcher().search(query, k=5)
        except Exception:  # an unusable index must still give the citizen an honest answer
            logger.exception("search failed")
            return dont_know(dispatcher)
        d = decide(text, entity, hits, current is not None, SETTINGS.min_confidence, SETTINGS.ambiguity_gap, SETTINGS.max_options)
        if d.kind == "follow_up" and current is not None:
            return reply_with_answer(dispatcher, current, aspect, None)
        if d.kind == "unknown" or not d.hits:
            return dont_know(dispatcher, hits[:3])
        if d.kind == "choose":
            options = d.hits
            lines = [f"Anh/Chị muốn hỏi về {ASPECT_NAMES[aspect]} của thủ tục nào ạ?"]
            lines += [f"{i}. {h.name}" for i, h in enumerate(options, 1)]
            lines.append("Anh/Chị trả lời số thứ tự (ví dụ: số 1) hoặc bấm chọn.")
            dispatcher.utter_message(
                text="\n".join(lines),
                buttons=[{"title": f"{i}. {h.name}", "payload": f"số {i}"} for i, h in enumerate(options, 1)],
                json_message=payload(aspect=aspect, confidence=options[0].confidence, candidates=options),
            )
            return [SlotSet("candidates", [h.code for h in options]), SlotSet("current_aspect", aspect), SlotSet("pending", None)]
        top = d.hits[0]
        return reply_with_answer(dispatcher, top.procedure, aspect, top.confidence)


class ActionChooseOption(Action):
    """Understands "số 2", "cái thứ hai", "cái cuối" after a disambiguation question."""

    def name(self) -> str:
        return "action_choose_option"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        codes = tracker.get_slot("candidates") or []
        if not codes:
            dispatcher.utter_message(
                text="Tôi chưa đưa ra lựa chọn nào. Anh/Chị cần hỏi về thủ tục hành chính nào ạ?",
                json_message=payload(),
            )
            return []
        choice = parse_option(tracker.latest_message.get("text") or "", len(codes))
        if choice is None:
            dispatcher.utter_message(
                text=f"Anh/Chị vui lòng chọn một số từ 1 đến {len(codes)}.",
                json_message=payload(),
            )
            return []
        proc = _procedure(codes[choice - 1])
        if proc is None:
            return dont_know(dispatcher)
        return reply_with_answer(dispatcher, proc, tracker.get_slot("current_aspect") or "overview", None)


class ActionHandoff(Action):
    """Hands the conversation to a human operator."""

    def name(self) -> str:
        return "action_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        dispatcher.utter_message(
            text=(
                f"Tôi đang chuyển Anh/Chị tới tổng đài viên. Nếu chờ lâu, Anh/Chị gọi đường dây nóng {SETTINGS.hotline} nhé."
            ),
            json_message=payload(handoff=True, hotline=SETTINGS.hotline),
        )
        events: list[EventType] = [SlotSet("pending", None), SlotSet("handoff", True)]
        if SETTINGS.pause_on_handoff:
            events.append(ConversationPaused())
        return events


class ActionFallback(Action):
    """Out-of-scope or low-confidence input: an honest "I don't know", the hotline, an offer of a human."""

    def name(self) -> str:
        return "action_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        return dont_know(dispatcher)


class ActionAffirmDeny(Action):
    """Yes/no answers to the bot's last question (slot ``pending``)."""

    def name(self) -> str:
        return "action_affirm_deny"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        pending = tracker.get_slot("pending")
        if pending == "handoff" and intent == "affirm":
            return ActionHandoff().run(dispatcher, tracker, domain)
        if pending == "handoff":
            dispatcher.utter_message(
                text="Dạ vâng. Anh/Chị có thể hỏi tôi về thủ tục khác, ví dụ: làm căn cước cần giấy tờ gì?",
                json_message=payload(),
            )
            return [SlotSet("pending", None)]
        dispatcher.utter_message(
            text="Dạ. Anh/Chị cần hỏi gì về hồ sơ, lệ phí, thời gian hay nơi nộp ạ?",
            json_message=payload(_procedure(tracker.get_slot("current_procedure"))),
        )
        return [SlotSet("pending", None)]
