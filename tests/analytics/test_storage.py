"""The recorder's SQL and the analytics queries on both databases: SQLite and PostgreSQL 15.

Why: the broker writes with SQLAlchemy 1.4 and psycopg2 in Rasa's venv, the admin app reads
with SQLAlchemy 2 and psycopg 3; the roll-up upserts, the boolean sums and the date bounds
must mean the same in both databases.  PostgreSQL comes from Debian's package through
``scripts/pg_test.sh`` (or ``KB_TEST_POSTGRES_URL``), in a database of its own; when it cannot
be started the PostgreSQL case fails with the reason, it never skips.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import textwrap

import pytest
import sqlalchemy as sa

from knowledge_base import db
from tests.admin.support import REPO

DB_NAME = "tthc_analytics_test"



@pytest.fixture(params=["sqlite", "postgresql"])
def records_url(request, tmp_path, monkeypatch) -> str:  # noqa: ANN001
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.db'}"
    else:
        server = sa.engine.make_url(request.getfixturevalue("pg_server_url"))
        admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
        admin.dispose()
        url = server.set(database=DB_NAME).render_as_string(hide_password=False)
    db.dispose_all()
    db.upgrade(url)  # Alembic, as `knowledge_base db init` does before Rasa starts
    monkeypatch.setenv("RECORDS_DATABASE_URL", url)
    yield url
    db.dispose_all()


def record(url: str, turns: list[dict]) -> dict:
    """Feed events for ``turns`` to the real broker in Rasa's venv, in two batches; its counters."""
    script = textwrap.dedent(f"""
        import asyncio, json, sys, time
        from brokers.recording import ConversationRecorder
        turns = json.loads(sys.stdin.read())
        b = ConversationRecorder(url={url!r})
        for half in (turns[: len(turns) // 2], turns[len(turns) // 2:]):
            for t in half:
                s = t["sender"]
                if t.get("new"):
                    b.publish({{"sender_id": s, "event": "session_started"}})
                b.publish({{"sender_id": s, "event": "user", "timestamp": t["ts"], "text": t["text"],
                            "input_channel": t["channel"], "parse_data": {{"intent": {{"name": "x", "confidence": 0.9}}}}}})
                b.publish({{"sender_id": s, "event": "bot", "data": {{"custom": t["custom"]}}}})
                b.publish({{"sender_id": s, "event": "action", "name": "action_listen"}})
            b.flush()
            time.sleep(0.8)  # a second batch: the roll-ups' upserts meet existing rows
        asyncio.run(b.close())
        print(json.dumps({{"written": b.written, "dropped": b.dropped}}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in {"KB_DATA_DIR", "KB_DATABASE_URL", "RECORDS_DATABASE_URL"}}
    env["PYTHONPATH"] = f"{REPO}:{REPO / 'bot'}"
    res = subprocess.run([str(REPO / ".venv-rasa/bin/python"), "-c", script], input=json.dumps(turns), env=env,
                         cwd=REPO / "bot", capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "not recorded" not in res.stderr, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_broker_writes_and_pages_read_the_same_figures(records_url: str) -> None:
    from admin import analytics_store

    now = dt.datetime.now(dt.UTC).timestamp()
    answer = {"kind": "answer", "procedure_code": "1.001193", "aspect": "fee", "confidence": 0.9}
    fallback = {"kind": "fallback"}
    turns = (
        [{"sender": f"w{i}", "new": True, "ts": now, "text": "lệ phí khai sinh", "channel": "socketio", "custom": answer}
         for i in range(6)]
        + [{"sender": "z1", "new": True, "ts": now, "text": "vé tàu đi Huế, sđt 0912345678", "channel": "zalo",
            "custom": fallback},
           {"sender": "z1", "ts": now, "text": "vé tàu đi Huế", "channel": "zalo", "custom": fallback},
           {"sender": "z2", "new": True, "ts": now, "text": "lệ phí khai sinh", "channel": "zalo",
            "custom": dict(answer, confidence=0.61)}]
    )
    assert record(records_url, turns) == {"written": 9, "dropped": 0}
    today = analytics_store.today()
    start = today - dt.timedelta(days=6)
    rows = {r.channel: r for r in analytics_store.daily(start, today)}
    assert {c: (r.turns, r.conversations, r.fallback, r.unanswered) for c, r in rows.items()} == \
        {"socketio": (6, 6, 0, 0), "zalo": (3, 2, 2, 3)}
    assert analytics_store.top("procedure_code", start, today) == [("1.001193", 7)]
    assert analytics_store.top("aspect", start, today) == [("fee", 7)]
    phrasings, n = analytics_store.unanswered(start, today)
    assert n == 3 and sorted((p.key, p.count) for p in phrasings) == [
        ("le phi khai sinh", 1), ("ve tau di hue", 1), ("ve tau di hue sdt ********78", 1)]
    assert all("0912345678" not in p.example for p in phrasings)
    assert analytics_store.decide(["ve tau di hue", "ve tau di hue"], "out_of_scope", "bientap") == 1
    assert analytics_store.decide(["ve tau di hue"], "out_of_scope", "bientap") == 0  # decided once
    assert analytics_store.unanswered(start, today)[1] == 2

    # retention: a turn 100 days old (and its roll-ups) goes, today's stay
    old = dt.date.today() - dt.timedelta(days=100)
    eng = sa.create_engine(records_url)
    with eng.begin() as conn:
        conn.execute(sa.text("INSERT INTO conversation_turn (at, day, sender_id, channel, text, text_key, answered, "
                             "fallback, low_confidence, unanswered, new_conversation, bot_messages) VALUES "
                             "(:at, :day, 'cu', 'rest', 'x', 'x', false, false, false, false, true, 1)")
                     .bindparams(sa.bindparam("day", type_=sa.Date), sa.bindparam("at", type_=sa.DateTime(timezone=True))),
                     {"at": dt.datetime.combine(old, dt.time(3), dt.UTC), "day": old})
        conn.execute(sa.text("INSERT INTO turn_daily_channel VALUES (:day, 'rest', 1, 1, 0, 0)")
                     .bindparams(sa.bindparam("day", type_=sa.Date)), {"day": old})
    eng.dispose()
    assert analytics_store.purge(90) == 1
    assert analytics_store.purge(90) == 0
    assert sum(r.turns for r in analytics_store.daily(old - dt.timedelta(days=1), today)) == 9
