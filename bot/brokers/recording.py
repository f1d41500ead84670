"""Rasa event broker that records every turn, PII masked, into the catalogue's database.

Registered in bot/endpoints.yml (and endpoints.prod.yml)::

    event_broker:
      type: brokers.recording.ConversationRecorder

Why our own broker rather than ``type: sql``: Rasa's SQLEventBroker stores the raw events,
which repeat the citizen's text unmasked, into a table named ``events`` (the production
tracker store's table) and creates it itself.  This broker masks the text (vntext.pii)
before anything is written, keeps one summary row per turn (bot/brokers/turns.py) in the
table ``conversation_turn`` that the Alembic migration 0002 creates, adds it to the daily
roll-ups the overview page reads (``turn_daily_channel``, ``turn_daily_topic``: one upsert
per day and key, SQL that SQLite and PostgreSQL both run), and writes from a
background thread in batches: ``publish`` only puts the event on a queue, so recording
never slows a turn, and a database that is down costs a logged error, never an answer.

Runs in Rasa's venv (SQLAlchemy 1.4, psycopg2); it must not import knowledge_base.db
(SQLAlchemy 2).  The database is, in order: ``url`` in the endpoint config (or ``dialect``
+ ``url`` as host + ``port``/``db``/``username``/``password``, like Rasa's SQL tracker
store), ``RECORDS_DATABASE_URL``, ``KB_DATABASE_URL``, else the catalogue's SQLite file
``$KB_DATA_DIR/catalogue.db`` (``models/kb/catalogue.db``).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from asyncio import AbstractEventLoop
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from brokers.turns import TurnAssembler

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]

_meta = sa.MetaData()
TURNS = sa.Table(
    "conversation_turn", _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True)), sa.Column("day", sa.Date), sa.Column("sender_id", sa.String(128)),
    sa.Column("channel", sa.String(32)), sa.Column("text", sa.Text), sa.Column("text_key", sa.String(255)),
    sa.Column("intent", sa.String(64)), sa.Column("intent_confidence", sa.Float), sa.Column("kind", sa.String(16)),
    sa.Column("procedure_code", sa.String(32)), sa.Column("aspect", sa.String(16)), sa.Column("confidence", sa.Float),
    sa.Column("answered", sa.Boolean), sa.Column("fallback", sa.Boolean), sa.Column("low_confidence", sa.Boolean),
    sa.Column("unanswered", sa.Boolean), sa.Column("new_conversation", sa.Boolean), sa.Column("bot_messages", sa.Integer),
)


_DAY = sa.bindparam("day", type_=sa.Date)
UPSERT_CHANNEL = sa.text(
    "INSERT INTO turn_daily_channel (day, channel, turns, conversations, fallback, unanswered) "
    "VALUES (:day, :channel, :turns, :conversations, :fallback, :unanswered) ON CONFLICT (day, channel) DO UPDATE SET "
    "turns = turn_daily_channel.turns + excluded.turns, "
    "conversations = turn_daily_channel.conversations + excluded.conversations, "
    "fallback = turn_daily_channel.fallback + excluded.fallback, "
    "unanswered = turn_daily_channel.unanswered + excluded.unanswered").bindparams(_DAY)
UPSERT_TOPIC = sa.text(
    "INSERT INTO turn_daily_topic (day, procedure_code, aspect, turns) VALUES (:day, :code, :aspect, :turns) "
    "ON CONFLICT (day, procedure_code, aspect) DO UPDATE SET turns = turn_daily_topic.turns + excluded.turns"
).bindparams(_DAY)


def rollups(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The batch's increments of the daily roll-ups, in key order (concurrent writers lock rows in one order)."""
    chan: dict[tuple, list[int]] = {}
    topic: dict[tuple, int] = {}
    for r in rows:
        c = chan.setdefault((r["day"], r["channel"]), [0, 0, 0, 0])
        c[0] += 1
        c[1] += int(r["new_conversation"])
        c[2] += int(r["fallback"])
        c[3] += int(r["unanswered"])
        if r["procedure_code"] or r["aspect"]:
            key = (r["day"], r["procedure_code"] or "", r["aspect"] or "")
            topic[key] = topic.get(key, 0) + 1
    return ([{"day": d, "channel": ch, "turns": v[0], "conversations": v[1], "fallback": v[2], "unanswered": v[3]}
             for (d, ch), v in sorted(chan.items())],
            [{"day": d, "code": code, "aspect": asp, "turns": n} for (d, code, asp), n in sorted(topic.items())])


def default_url() -> str:
    """RECORDS_DATABASE_URL, else KB_DATABASE_URL, else the catalogue's SQLite file (as knowledge_base.db)."""
    url = os.environ.get("RECORDS_DATABASE_URL") or os.environ.get("KB_DATABASE_URL")
    if url:
        return url
    data = Path(os.environ.get("KB_DATA_DIR", REPO / "models" / "kb"))
    return f"sqlite:///{data / 'catalogue.db'}"


def sqlalchemy14_url(url: str) -> str:
    """The same database for SQLAlchemy 1.4: it has psycopg2, not psycopg 3 (the ML venv's driver)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


class ConversationRecorder(EventBroker):
    """Queues events; a writer thread folds them into turns and inserts them in batches."""

    def __init__(self, url: str | sa.engine.URL | None = None, idle_s: float = 5.0, batch_size: int = 200,
                 queue_size: int = 20000, flush_s: float = 0.5) -> None:
        self.url = url if isinstance(url, sa.engine.URL) else sa.engine.make_url(sqlalchemy14_url(url or default_url()))
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.assembler = TurnAssembler(idle_s=idle_s)
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self.written = 0
        self._last_error = 0.0
        kwargs: dict[str, Any] = {"hide_parameters": True}  # errors are logged: never the citizens' texts
        sqlite = self.url.get_backend_name() == "sqlite"
        if sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=2, max_overflow=2)
        self.engine = sa.create_engine(self.url, **kwargs)
        if sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._thread = threading.Thread(target=self._run, name="conversation-recorder", daemon=True)
        self._thread.start()
        atexit.register(self._stop)
        logger.info("conversation records: %s", self.engine.url.render_as_string(hide_password=True))

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: AbstractEventLoop | None = None) -> ConversationRecorder:
        """Build from ``event_broker:`` in endpoints.yml."""
        kw = dict(broker_config.kwargs or {})
        url = broker_config.url
        dialect = kw.pop("dialect", None)
        if dialect:  # like Rasa's SQL tracker store: url is the host; a URL object quotes the password itself
            url = sa.engine.URL.create(
                "postgresql+psycopg2" if dialect == "postgresql" else dialect, username=kw.pop("username", None),
                password=kw.pop("password", None), host=url, port=int(kw.pop("port")) if kw.get("port") else None,
                database=kw.pop("db", None))
        kw.pop("port", None)
        known = {"idle_s", "batch_size", "queue_size", "flush_s"}
        return cls(url=url or None, **{k: v for k, v in kw.items() if k in known})

    def publish(self, event: dict[str, Any]) -> None:
        """Called by the tracker store for each new event, inside the turn: only enqueue."""
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.error("conversation records: queue full, %d events dropped", self.dropped)

    def is_ready(self) -> bool:
        """Ready as soon as the writer runs (the database may come later; turns never wait for it)."""
        return self._thread.is_alive()

    async def close(self) -> None:
        """Write what is pending (Rasa calls this when the server stops)."""
        self._stop()

    def flush(self, timeout: float = 10.0) -> None:
        """Block until the queued events are written (benchmarks and tests; not used by Rasa)."""
        deadline = time.monotonic() + timeout
        while (self.queue.unfinished_tasks or self.assembler.pending) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _stop(self) -> None:
        if self._thread.is_alive():
            self.queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        rows: list[dict[str, Any]] = []
        last_write = time.monotonic()
        while True:
            try:
                event = self.queue.get(timeout=self.flush_s)
            except queue.Empty:
                event = {}
            if event is None:
                rows += self.assembler.flush_all()
                self._write(rows)
                self.queue.task_done()
                return
            if event:
                try:
                    rows += self.assembler.feed(event)
                except Exception:  # noqa: BLE001 - one odd event must not stop the recorder
                    logger.exception("conversation records: event not understood")
                self.queue.task_done()
            rows += self.assembler.expire()
            now = time.monotonic()
            if rows and (len(rows) >= self.batch_size or self.queue.empty() or now - last_write > self.flush_s):
                self._write(rows)
                rows = []
                last_write = now

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            by_channel, by_topic = rollups(rows)
            with self.engine.begin() as conn:  # the turns and their roll-ups together, or neither
                conn.execute(TURNS.insert(), rows)
                conn.execute(UPSERT_CHANNEL, by_channel)
                if by_topic:
                    conn.execute(UPSERT_TOPIC, by_topic)
            self.written += len(rows)
        except Exception as exc:  # noqa: BLE001 - database down or schema missing: the bot keeps answering
            now = time.monotonic()
            if now - self._last_error > 60:
                self._last_error = now
                logger.error("conversation records: %d turns not recorded (%s: %s); is the schema upgraded "
                             "(python -m knowledge_base db upgrade)?", len(rows), type(exc).__name__,
                             (str(exc).splitlines() or [''])[0][:300])


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # the admin app reads while the broker writes
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
