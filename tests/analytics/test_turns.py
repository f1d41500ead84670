"""The recorder's pieces without a Rasa server: events folded into turn rows, and a database that is down.

Why: the end-to-end test sends a handful of turns; here each rule is pinned (which reply
classifies a turn, fallback and low confidence, sessions, a paused conversation that never
predicts ``action_listen``, a caller's phone number as sender id), and the broker is shown
to return at once and log, not raise, when it cannot write.
"""

from __future__ import annotations

import re
import subprocess
import textwrap

from bot.brokers.turns import TurnAssembler, sender_key, text_key
from tests.admin.support import REPO, kb_env

T0 = 1_764_640_800.0  # 2025-12-02 02:00 UTC = 09:00 in Vietnam


def user(sender: str, text: str, intent: str = "ask_documents", conf: float = 0.9, channel: str = "rest",
         meta: dict | None = None) -> dict:
    return {"sender_id": sender, "event": "user", "timestamp": T0, "text": text, "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": conf}}, "metadata": meta or {}}


def bot(sender: str, **custom) -> dict:  # noqa: ANN003 - the payload's fields
    return {"sender_id": sender, "event": "bot", "text": "…", "data": {"custom": custom or None}}


def listen(sender: str) -> dict:
    return {"sender_id": sender, "event": "action", "name": "action_listen"}


def feed(asm: TurnAssembler, events: list[dict]) -> list[dict]:
    return [row for e in events for row in asm.feed(e)]


def test_a_turn_is_classified_by_its_answer_and_masked() -> None:
    asm = TurnAssembler(low_confidence=0.75)
    rows = feed(asm, [
        {"sender_id": "a", "event": "session_started"},
        user("a", "Làm căn cước ở số 12 ngõ 34 phố Huế cần gì? sđt 0912345678"),
        {"sender_id": "a", "event": "action", "name": "action_answer"},
        bot("a", kind="prompt"),
        bot("a", kind="answer", procedure_code="1.001234", aspect="documents", confidence=0.91),
        listen("a"),
    ])
    assert len(rows) == 1
    r = rows[0]
    assert (r["kind"], r["procedure_code"], r["aspect"], r["answered"], r["fallback"], r["unanswered"]) == \
        ("answer", "1.001234", "documents", True, False, False)
    assert r["text"] == "Làm căn cước ở [địa chỉ] cần gì? sđt ********78"
    assert r["text_key"] == text_key(r["text"]) == "lam can cuoc o [dia chi] can gi sdt ********78"
    assert r["new_conversation"] is True and r["bot_messages"] == 2 and r["channel"] == "rest"
    assert str(r["day"]) == "2025-12-02" and r["at"].hour == 2


def test_fallback_low_confidence_and_metadata_channel() -> None:
    asm = TurnAssembler(low_confidence=0.75)
    rows = feed(asm, [
        user("p", "vé tàu", intent="nlu_fallback", conf=0.3, meta={"channel": "phone"}),
        bot("p", kind="fallback", hotline="1022"),
        listen("p"),
        user("p", "làm sổ đỏ", meta={"channel": "NOT A CHANNEL!"}),
        bot("p", kind="answer", procedure_code="1.000001", confidence=0.62),
        listen("p"),
    ])
    assert [(r["channel"], r["fallback"], r["low_confidence"], r["unanswered"], r["new_conversation"]) for r in rows] == \
        [("phone", True, False, True, False), ("rest", False, True, True, False)]


def test_paused_conversation_turns_end_at_the_next_message_or_when_idle() -> None:
    asm = TurnAssembler(idle_s=5)
    assert feed(asm, [user("z", "cho gặp người thật"), bot("z", kind="handoff")]) == []
    rows = asm.feed(user("z", "alo có ai không"))  # no action_listen while paused: the next message ends the turn
    assert [r["kind"] for r in rows] == ["handoff"]
    assert asm.expire(now=asm.pending["z"].touched + 1) == []
    rows = asm.expire(now=asm.pending["z"].touched + 6)
    assert [(r["text"], r["kind"], r["bot_messages"]) for r in rows] == [("alo có ai không", None, 0)]
    assert asm.pending == {}


def test_a_phone_number_as_sender_id_is_stored_hashed() -> None:
    assert sender_key("widget-3f2a") == "widget-3f2a"
    assert sender_key("1234567890123456789") == "1234567890123456789"  # a Zalo user id is not a phone number
    hashed = sender_key("+84912345678")
    assert hashed.startswith("anon-") and "912345678" not in hashed and hashed == sender_key("+84912345678")


def test_broker_with_an_unreachable_database_never_blocks_or_raises(tmp_path) -> None:
    """In Rasa's own venv: publish returns at once, the failure is logged, the next write works."""
    script = textwrap.dedent(f"""
        import asyncio, logging, sqlite3, time
        logging.basicConfig(level=logging.INFO)
        from brokers.recording import ConversationRecorder
        b = ConversationRecorder(url="sqlite:///{tmp_path}/missing/dir/records.db", idle_s=0.2)
        for i in range(200):
            b.publish({{"sender_id": f"s{{i}}", "event": "user", "timestamp": time.time(), "text": "0912345678"}})
            b.publish({{"sender_id": f"s{{i}}", "event": "action", "name": "action_listen"}})
        b.flush()
        time.sleep(0.5)
        print("WRITTEN", b.written, "ALIVE", b.is_ready())
        asyncio.run(b.close())
    """)
    env = kb_env(tmp_path)
    res = subprocess.run([str(REPO / ".venv-rasa/bin/python"), "-c", script], env=env, cwd=REPO / "bot",
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WRITTEN 0 ALIVE True" in res.stdout  # nothing written, the writer still running
    assert re.search(r"conversation records: \d+ turns not recorded \(OperationalError", res.stderr), res.stderr
    assert "0912345678" not in res.stderr  # the error never carries the citizens' texts
