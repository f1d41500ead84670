"""Custom actions: answer from the knowledge base, disambiguate, hand off, admit ignorance.

The dialogue is flat on purpose (see bot/domain.yml): the policies map each
intent to one of these actions.  The conversation context is the explicit
``ConversationState`` (actions/state.py) kept in slots, and every question turn
is resolved against it by ``actions/resolver.py`` — which says, in one place and
in order, when the bot answers, asks which procedure is meant, or admits it
does not know.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher

import bot_payload
from actions.aspects import parse
from actions.formatting import answer, answer_for_all, facts_key
from actions.resolver import Plan, asks_for_hotline, asks_for_person, nlu_reading, option_by_words, parse_option, resolve
from actions.settings import SETTINGS
from actions.state import ConversationState
from knowledge_base.retrieval import Hit, default_searcher
from knowledge_base.schema import Procedure
from vntext import is_gibberish

logger = logging.getLogger(__name__)

ASPECT_NAMES = {
    "overview": "thông tin chung", "documents": "hồ sơ", "fee": "lệ phí", "duration": "thời gian giải quyết",
    "where": "nơi nộp", "steps": "các bước", "online": "nộp trực tuyến", "legal_basis": "căn cứ pháp lý",
}
REPHRASE = (
    "Xin lỗi, tôi chưa hiểu câu này. Anh/Chị vui lòng hỏi lại bằng tiếng Việt, "
    "ví dụ: «làm căn cước cần giấy tờ gì?» hoặc «đăng ký kết hôn mất bao lâu?»."
)


def payload(
    proc: Procedure | None = None,
    aspect: str | None = None,
    confidence: float | None = None,
    candidates: list[Hit] | list[Procedure] | None = None,
    *,
    kind: str | None = None,
    facts: Procedure | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The structured payload every bot message carries, as defined once in bot_payload.

    The facts travel as data (``facts``: documents, fees and durations per channel, agency,
    online, code, source) so that each channel renders them in its own style: the phone
    gateway speaks from them instead of re-parsing the chat text.  ``facts`` defaults to
    ``proc`` for an answer; ``answer_all`` passes the first of the procedures that agree.
    """
    cands = []
    for c in candidates or []:
        score = round(c.score, 4) if isinstance(c, Hit) else None
        cands.append(bot_payload.Candidate(code=c.code, name=c.name, score=score))
    about = facts or (proc if kind == "answer" else None)
    data = bot_payload.Payload(
        procedure_code=proc.code if proc else None,
        procedure_name=proc.name if proc else None,
        aspect=aspect,
        confidence=round(confidence, 3) if confidence is not None else None,
        candidates=cands,
        source_url=proc.source_url if proc else None,
        kind=kind,
        facts=bot_payload.facts_of(about) if about is not None else None,
        **extra,
    ).to_dict()
    return bot_payload.validate(data)  # fails here, in the action server's log, not in a caller's ear


_catalogue_cache: tuple[object, dict[str, Procedure]] | None = None


def catalogue() -> dict[str, Procedure]:
    """Procedures by code of the index now serving: built once per loaded index (a publish swaps it
    in the background, knowledge_base/live.py), not once per turn."""
    global _catalogue_cache
    searcher = default_searcher()
    cached = _catalogue_cache
    if cached is None or cached[0] is not searcher:
        cached = (searcher, {p.code: p for p in searcher.index.procedures})
        _catalogue_cache = cached
    return cached[1]


def picks_an_option(text: str, state: ConversationState) -> bool:
    """Whether the message chooses one of the pending options, by number or by its own words."""
    options = [p for c in (state.choice.codes if state.choice else []) if (p := catalogue().get(c))]
    if not options:
        return False
    return parse_option(text, len(options)) is not None or option_by_words(text, parse(text), options) is not None


def state_of(tracker: Tracker) -> ConversationState:
    return ConversationState.from_slots(tracker.get_slot)


def intent_of(tracker: Tracker) -> tuple[str | None, float]:
    intent = tracker.latest_message.get("intent") or {}
    return nlu_reading(intent.get("name"), float(intent.get("confidence") or 0.0),
                       tracker.latest_message.get("intent_ranking") or [])


def hotline_text() -> str:
    return f"đường dây nóng {SETTINGS.hotline} ({SETTINGS.hotline_hours})"


def dont_know(dispatcher: CollectingDispatcher, state: ConversationState, candidates: list[Hit] | None = None) -> list[EventType]:
    """The honest fallback: no guess, the hotline, and a human only when one is on duty."""
    text = (
        "Xin lỗi, tôi chưa tìm được thông tin chính xác cho câu hỏi này nên không dám trả lời đoán. "
        f"Anh/Chị có thể gọi {hotline_text()} để được hướng dẫn."
    )
    if SETTINGS.desk_on_duty():
        dispatcher.utter_message(text=text + " Anh/Chị có muốn tôi chuyển sang tổng đài viên không?",
                                 json_message=payload(candidates=candidates, kind="fallback", hotline=SETTINGS.hotline,
                                                      hotline_hours=SETTINGS.hotline_hours))
        return state.asked_yes_no("handoff")
    dispatcher.utter_message(text=text, json_message=payload(candidates=candidates, kind="fallback", hotline=SETTINGS.hotline,
                                                             hotline_hours=SETTINGS.hotline_hours))
    return state.asked_yes_no("handoff")  # "có, chuyển giúp tôi" then gets the hotline again, honestly


def rephrase(dispatcher: CollectingDispatcher, state: ConversationState) -> list[EventType]:
    dispatcher.utter_message(text=REPHRASE, json_message=payload(kind="rephrase", rephrase=True))
    return state.cleared_question()


def reply_with_answer(dispatcher: CollectingDispatcher, state: ConversationState, proc: Procedure, aspect: str,
                      confidence: float | None, detail: bool = False) -> list[EventType]:
    """The facts asked; for a detail the catalogue has no fact for, the nearest facts, said to be so."""
    text = answer(proc, aspect)
    if detail:
        text = (f"Tôi chưa có thông tin riêng cho câu hỏi này của thủ tục «{proc.name}»; các bước dưới đây có thể "
                f"có điều Anh/Chị cần, nếu chưa rõ Anh/Chị gọi {hotline_text()}.\n{text}")
    dispatcher.utter_message(text=text, json_message=payload(proc, aspect, confidence, kind="answer",
                                                             detail=True if detail else None))
    return state.answered(proc.code, proc.name, aspect)


def ask_choice(dispatcher: CollectingDispatcher, state: ConversationState, plan: Plan) -> list[EventType]:
    options = plan.procedures
    lines = [f"Anh/Chị muốn hỏi về {ASPECT_NAMES.get(plan.aspect, 'thông tin')} của thủ tục nào ạ?"]
    lines += [f"{i}. {p.name}" for i, p in enumerate(options, 1)]
    lines.append("Anh/Chị trả lời số thứ tự (ví dụ: số 1) hoặc bấm chọn.")
    dispatcher.utter_message(
        text="\n".join(lines),
        buttons=[{"title": f"{i}. {p.name}", "payload": f"số {i}"} for i, p in enumerate(options, 1)],
        json_message=payload(aspect=plan.aspect, confidence=plan.confidence, candidates=plan.hits or options, kind="choice"),
    )
    return state.asked_choice([p.code for p in options], plan.aspect)


def carry_out(dispatcher: CollectingDispatcher, state: ConversationState, plan: Plan) -> list[EventType]:
    """Say what the plan decided, and move the conversation state accordingly."""
    logger.info("turn plan: %s (%s) %s", plan.kind, plan.reason, [p.code for p in plan.procedures])
    if plan.kind == "rephrase":
        return rephrase(dispatcher, state)
    if plan.kind == "fallback":
        events = dont_know(dispatcher, state, plan.hits)
        return events + state.forgot_current() if plan.forget else events
    if plan.kind == "invalid_choice":
        if plan.procedures:
            dispatcher.utter_message(text=f"Anh/Chị vui lòng chọn một số từ 1 đến {len(plan.procedures)}.",
                                     json_message=payload(aspect=plan.aspect, candidates=plan.procedures, kind="invalid_choice"))
        else:
            dispatcher.utter_message(text="Tôi chưa đưa ra lựa chọn nào. Anh/Chị cần hỏi về thủ tục hành chính nào ạ?",
                                     json_message=payload(kind="prompt"))
        return []
    if plan.kind == "answer_all":
        if len({facts_key(p, plan.aspect) for p in plan.procedures}) == 1 and plan.aspect != "overview":
            dispatcher.utter_message(text=answer_for_all(plan.procedures, plan.aspect),
                                     json_message=payload(aspect=plan.aspect, candidates=plan.procedures, kind="answer_all",
                                                          facts=plan.procedures[0]))
            return []  # the choice stays open: the facts agree, the procedure is still unsettled
        return ask_choice(dispatcher, state, plan)
    if plan.kind == "choose":
        return ask_choice(dispatcher, state, plan)
    return reply_with_answer(dispatcher, state, plan.procedures[0], plan.aspect, plan.confidence, plan.detail)


class ActionAnswer(Action):
    """Every question turn: resolved against the conversation state (actions/resolver.py)."""

    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        state = state_of(tracker)
        intent, confidence = intent_of(tracker)
        text = tracker.latest_message.get("text") or ""
        if asks_for_hotline(text) and state.choice is None:  # "số tổng đài là bao nhiêu": just the number
            dispatcher.utter_message(
                text=f"Anh/Chị có thể gọi {hotline_text()}. Tôi vẫn có thể trả lời các câu hỏi về thủ tục.",
                json_message=payload(kind="hotline", hotline=SETTINGS.hotline, hotline_hours=SETTINGS.hotline_hours),
            )
            return state.cleared_question()
        try:
            plan = resolve(text, intent, confidence, state, default_searcher(), catalogue(), SETTINGS.thresholds)
        except Exception:  # an unusable index must still give the citizen an honest answer
            logger.exception("turn resolution failed")
            return dont_know(dispatcher, state)
        return carry_out(dispatcher, state, plan)


class ActionChooseOption(ActionAnswer):
    """"số 2", "cái thứ hai", "cái cuối" — the same resolution, which knows about pending choices."""

    def name(self) -> str:
        return "action_choose_option"


class ActionHandoff(Action):
    """Hands the conversation to a person: the desk when someone is on duty, else the hotline."""

    def name(self) -> str:
        return "action_handoff"

    @staticmethod
    def on_phone(tracker: Tracker) -> bool:
        """The voice gateway marks its turns with ``metadata.channel == "phone"``."""
        last = tracker.get_last_event_for("user") or {}
        return (last.get("metadata") or {}).get("channel") == "phone"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        state = state_of(tracker)
        text = tracker.latest_message.get("text") or ""
        if state.choice is not None and (picks_an_option(text, state) or not asks_for_person(text)):
            # "cho người lớn" answers "which one?"; the NLU hears "người" and asks for a person
            return ActionAnswer().run(dispatcher, tracker, domain)
        # a phone call keeps its transfer to the operator number (voice/): it never enters the chat desk
        ticket = None if self.on_phone(tracker) else SETTINGS.desk_handoff(tracker.sender_id,
                                                                           tracker.get_latest_input_channel() or "rest")
        if ticket is None:  # no desk, nobody on duty, or the desk did not answer: never promise a person
            dispatcher.utter_message(
                text=(f"Hiện chưa có tổng đài viên trực tuyến để nhận cuộc trò chuyện này. "
                      f"Anh/Chị vui lòng gọi {hotline_text()}; tôi vẫn có thể trả lời các câu hỏi về thủ tục."),
                json_message=payload(kind="handoff", handoff=False, hotline=SETTINGS.hotline,
                                     hotline_hours=SETTINGS.hotline_hours),
            )
            return state.cleared_question()
        wait_min = max(1, round(float(ticket.get("wait_s") or 120) / 60))
        dispatcher.utter_message(
            text=(f"Tôi đang chuyển Anh/Chị tới tổng đài viên, Anh/Chị vui lòng chờ trong giây lát. Nếu sau khoảng "
                  f"{wait_min} phút chưa có ai nhận, tôi sẽ báo lại; Anh/Chị cũng có thể gọi {hotline_text()}."),
            json_message=payload(kind="handoff", handoff=True, hotline=SETTINGS.hotline,
                                 hotline_hours=SETTINGS.hotline_hours),
        )
        events = state.handed_off()
        if SETTINGS.pause_on_handoff:
            events.append(ConversationPaused())
        return events


class ActionFallback(ActionAnswer):
    """Out of scope or not understood by the NLU: still resolved against the state.

    Noise gets "please rephrase"; an aspect-only follow-up the NLU did not recognise
    ("dc nop online ko") still answers about the current procedure; anything else gets
    the honest "I don't know", because the answer rule needs the NLU to be confident.
    """

    def name(self) -> str:
        return "action_fallback"


class ActionAffirmDeny(Action):
    """Yes/no answers to the bot's last yes/no question (``ConversationState.question``)."""

    def name(self) -> str:
        return "action_affirm_deny"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        state = state_of(tracker)
        if is_gibberish(tracker.latest_message.get("text") or ""):
            return rephrase(dispatcher, state)
        intent, _ = intent_of(tracker)
        text = tracker.latest_message.get("text") or ""
        if state.question is None and parse(text).rest:
            # no yes/no question is pending and the message says more ("à ko, mình bị mất"):
            # it is a turn about the procedure, whatever the NLU's affirm/deny guess
            return ActionAnswer().run(dispatcher, tracker, domain)
        if state.question == "handoff" and intent == "affirm":
            return ActionHandoff().run(dispatcher, tracker, domain)
        if state.question == "handoff":
            dispatcher.utter_message(
                text="Dạ vâng. Anh/Chị có thể hỏi tôi về thủ tục khác, ví dụ: làm căn cước cần giấy tờ gì?",
                json_message=payload(kind="prompt"),
            )
            return state.cleared_question()
        if state.choice is not None:  # "có"/"không" does not answer "which one?"
            dispatcher.utter_message(
                text=f"Anh/Chị vui lòng chọn một số từ 1 đến {len(state.choice.codes)}.",
                json_message=payload(aspect=state.choice.aspect, kind="invalid_choice"),
            )
            return []
        dispatcher.utter_message(
            text="Dạ. Anh/Chị cần hỏi gì về hồ sơ, lệ phí, thời gian hay nơi nộp ạ?",
            json_message=payload(catalogue().get(state.current or ""), kind="prompt"),
        )
        return state.cleared_question()


# Greeting/thanks/goodbye words (folded): a message made only of these is small talk.
SMALL_TALK = frozenset(
    "chao xin cam on tam biet hen gap lai nhe nha ban bot ad tot ok oke vang da cau nhieu roi thank thanks bye "
    "hello hi alo a nhe nhi qua lam".split()
)
SMALL_TALK_RESPONSE = {"greet": "utter_greet", "goodbye": "utter_goodbye", "thank": "utter_thank"}


class ActionSmallTalk(Action):
    """Greetings, thanks and goodbyes, unless the message says more ("bị mất rồi", "chào, làm căn cước cần gì").

    The NLU takes short refinements for small talk; answering them with "goodbye" would drop
    the citizen's question, so a message with an aspect or other words is resolved as a turn.
    """

    def name(self) -> str:
        return "action_small_talk"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        parsed = parse(text)
        if not text.startswith("/") and (parsed.aspect or set(parsed.rest.split()) - SMALL_TALK):
            return ActionAnswer().run(dispatcher, tracker, domain)
        intent, _ = intent_of(tracker)
        dispatcher.utter_message(response=SMALL_TALK_RESPONSE.get(intent or "", "utter_greet"))
        return []
