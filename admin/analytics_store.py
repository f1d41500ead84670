"""Read the conversation records for the analytics pages; record editors' decisions; purge old turns.

The rows are written by Rasa's event broker (bot/brokers/recording.py), one per turn, with
the text already masked, together with two daily roll-ups.  The overview reads only the
roll-ups (a few rows per day, whatever the traffic); the unanswered list reads the turns
through the (unanswered, day, text_key) index.  The SQL runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from knowledge_base import db

DEFAULT_RETENTION_DAYS = 90


def records_url() -> str:
    """The database the broker records to: RECORDS_DATABASE_URL, else the catalogue's (KB_DATABASE_URL)."""
    return os.environ.get("RECORDS_DATABASE_URL") or db.database_url()


def engine() -> Engine:
    """The records' engine, schema upgraded (the admin app may start before anything wrote a turn)."""
    url = records_url()
    db.upgrade(url)
    return db.engine(url)


def retention_days() -> int:
    """RECORDS_RETENTION_DAYS (default 90): turns older than this are purged."""
    return int(os.environ.get("RECORDS_RETENTION_DAYS", str(DEFAULT_RETENTION_DAYS)))


def _day(value: Any) -> dt.date:
    """A ``day`` column value as a date (SQLite returns the text of a raw query)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _dates(q: sa.TextClause) -> sa.TextClause:
    return q.bindparams(sa.bindparam("a", type_=sa.Date), sa.bindparam("b", type_=sa.Date))


@dataclass
class DayChannel:
    """Counts of one day on one channel."""

    day: dt.date
    channel: str
    turns: int
    conversations: int
    fallback: int
    unanswered: int


def daily(start: dt.date, end: dt.date) -> list[DayChannel]:
    """Turns, conversations (Rasa sessions), fallbacks and unanswered turns per day and channel (daily roll-up)."""
    q = _dates(sa.text("SELECT day, channel, turns, conversations, fallback, unanswered FROM turn_daily_channel "
                       "WHERE day BETWEEN :a AND :b ORDER BY day, channel"))
    with engine().connect() as conn:
        return [DayChannel(_day(d), c, int(n), int(conv), int(fb), int(un))
                for d, c, n, conv, fb, un in conn.execute(q, {"a": start, "b": end})]


def top(column: str, start: dt.date, end: dt.date, limit: int = 20) -> list[tuple[str, int]]:
    """The most asked procedure codes or aspects (``column``) in the period (daily roll-up)."""
    if column not in {"procedure_code", "aspect"}:
        raise ValueError(column)
    q = _dates(sa.text(f"SELECT {column}, SUM(turns) AS n FROM turn_daily_topic WHERE day BETWEEN :a AND :b "
                       f"AND {column} <> '' GROUP BY {column} ORDER BY n DESC, {column} LIMIT :k"))
    with engine().connect() as conn:
        return [(str(v), int(n)) for v, n in conn.execute(q, {"a": start, "b": end, "k": limit})]


@dataclass
class Phrasing:
    """One distinct unanswered phrasing (its folded key), how often, an example as the citizen typed it (masked)."""

    key: str
    count: int
    example: str


def unanswered(start: dt.date, end: dt.date, limit: int = 2000) -> tuple[list[Phrasing], int]:
    """The ``limit`` most frequent unanswered phrasings not yet decided on, and the number of such turns."""
    where = ("FROM conversation_turn t WHERE t.unanswered = :yes AND t.day BETWEEN :a AND :b AND NOT EXISTS "
             "(SELECT 1 FROM unanswered_decision d WHERE d.text_key = t.text_key)")
    q = _dates(sa.text(f"SELECT t.text_key, COUNT(*) AS n, MIN(t.text) {where} "
                       "GROUP BY t.text_key ORDER BY n DESC, t.text_key LIMIT :k"))
    args = {"a": start, "b": end, "yes": True}
    with engine().connect() as conn:
        rows = [Phrasing(k, int(n), ex) for k, n, ex in conn.execute(q, dict(args, k=limit))]
        if len(rows) < limit:  # every phrasing is there: their counts add up to the turns
            return rows, sum(p.count for p in rows)
        return rows, int(conn.execute(_dates(sa.text(f"SELECT COUNT(*) {where}")), args).scalar() or 0)


def decide(keys: list[str], action: str, actor: str, procedure_code: str | None = None) -> int:
    """Record an editor's decision on phrasings (``out_of_scope`` or ``alias``); they leave the unanswered list."""
    if action not in {"out_of_scope", "alias"}:
        raise ValueError(action)
    keys = sorted({k[:255] for k in keys if k})
    if not keys:
        return 0
    table = sa.table("unanswered_decision", sa.column("text_key"), sa.column("action"), sa.column("procedure_code"),
                     sa.column("actor"), sa.column("at"))
    with engine().begin() as conn:
        known = {k for (k,) in conn.execute(sa.text("SELECT text_key FROM unanswered_decision WHERE text_key IN :keys")
                                            .bindparams(sa.bindparam("keys", expanding=True)), {"keys": keys})}
        new = [{"text_key": k, "action": action, "procedure_code": procedure_code, "actor": actor, "at": db.utcnow()}
               for k in keys if k not in known]
        if new:
            conn.execute(sa.insert(table), new)
    return len(new)


@dataclass
class Decision:
    """An editor's decision, for the list of decided phrasings."""

    key: str
    action: str
    procedure_code: str | None
    actor: str
    at: Any = field(default=None)


def decisions(limit: int = 200) -> list[Decision]:
    """The latest decisions (newest first)."""
    q = sa.text("SELECT text_key, action, procedure_code, actor, at FROM unanswered_decision ORDER BY id DESC LIMIT :k")
    with engine().connect() as conn:
        return [Decision(*row) for row in conn.execute(q, {"k": limit})]


def today() -> dt.date:
    """Today in the province's time zone (RECORDS_TIMEZONE), the calendar the recorded ``day`` uses."""
    try:
        tz: dt.tzinfo = ZoneInfo(os.environ.get("RECORDS_TIMEZONE", "Asia/Ho_Chi_Minh"))
    except Exception:  # noqa: BLE001 - no tz database: Vietnam has no DST
        tz = dt.timezone(dt.timedelta(hours=7))
    return dt.datetime.now(tz).date()


def purge(days: int | None = None, on: dt.date | None = None) -> int:
    """Delete turns (and their roll-ups) of days more than ``days`` before today; returns the turns deleted."""
    days = retention_days() if days is None else days
    cutoff = (on or today()) - dt.timedelta(days=days)
    with engine().begin() as conn:
        n = conn.execute(_day_before("conversation_turn"), {"c": cutoff}).rowcount
        conn.execute(_day_before("turn_daily_channel"), {"c": cutoff})
        conn.execute(_day_before("turn_daily_topic"), {"c": cutoff})
    return int(n or 0)


def _day_before(table: str) -> sa.TextClause:
    return sa.text(f"DELETE FROM {table} WHERE day < :c").bindparams(sa.bindparam("c", type_=sa.Date))
