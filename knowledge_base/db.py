"""Versioned catalogue storage: SQLAlchemy 2 models, engine and Alembic migrations.

Why a database: admins who are not programmers change procedures through the
admin web app, several people may work at once, and every change must be
audited and reversible.  A version is an immutable set of procedures once
published; the one the bot answers from is named by the single-row ``live``
table, so switching (publish, rollback) is one committed row update.

SQLite (``models/kb/catalogue.db``) is the embedded default; production sets
``KB_DATABASE_URL=postgresql+psycopg://…``.  The schema is created and
upgraded only by Alembic (``knowledge_base/migrations``), never by
``create_all``, so SQLite and PostgreSQL always carry the same schema.

Procedures are stored content-addressed: ``procedure_blob`` holds each
distinct procedure JSON once and ``version_item`` maps (version, code) to a
blob, so a new version of a 100k catalogue copies 100k small rows, not 100k
documents.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from knowledge_base import store

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> dt.datetime:
    """Timezone-aware UTC now (stored as such in both databases)."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the catalogue schema."""


class Version(Base):
    """One catalogue version: ``draft`` (being edited), ``published`` (was or is live) or ``discarded``."""

    __tablename__ = "catalogue_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    base_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_version.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(16), nullable=True)
    n_procedures: Mapped[int] = mapped_column(Integer, default=0)
    index_path: Mapped[str | None] = mapped_column(Text, nullable=True)


class Blob(Base):
    """A procedure's JSON (``Procedure.model_dump_json``), stored once per distinct content."""

    __tablename__ = "procedure_blob"
    sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)


class VersionItem(Base):
    """Procedure ``code`` in version ``version_id`` has content ``blob_sha``."""

    __tablename__ = "version_item"
    version_id: Mapped[int] = mapped_column(ForeignKey("catalogue_version.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    blob_sha: Mapped[str] = mapped_column(ForeignKey("procedure_blob.sha"))
    name: Mapped[str] = mapped_column(Text)
    curated: Mapped[bool] = mapped_column(Boolean, default=False)


class Live(Base):
    """The single row naming the version the bot answers from."""

    __tablename__ = "live_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalogue_version.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(64))


class Audit(Base):
    """Who changed what, when: one row per changed field (old and new value as JSON text)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    code: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class Job(Base):
    """A background index build, so any process (web app, CLI) can show its progress."""

    __tablename__ = "build_job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # publish | rollback
    version_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    message: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class User(Base):
    """An admin account: role is ``editor``, ``publisher`` or ``viewer``; password hashed with argon2id."""

    __tablename__ = "admin_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdminSession(Base):
    """A server-side log-in session; the cookie carries only a random id whose SHA-256 is stored here."""

    __tablename__ = "admin_session"
    id_sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """A failed log-in, counted per client address and per user name for rate limiting."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


def database_url() -> str:
    """``KB_DATABASE_URL``, else SQLite in the data directory."""
    url = os.environ.get("KB_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{store.data_dir() / 'catalogue.db'}"


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the bot's checks, the UI) never block a publish
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def engine(url: str | None = None) -> Engine:
    """One engine per URL per process (engines own connection pools)."""
    url = url or database_url()
    with _engines_lock:
        eng = _engines.get(url)
        if eng is None:
            if url.startswith("sqlite"):
                path = url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                eng = create_engine(url, connect_args={"check_same_thread": False})
                event.listen(eng, "connect", _sqlite_pragmas)
            else:
                eng = create_engine(url, pool_pre_ping=True)
            _engines[url] = eng
        return eng


def dispose_all() -> None:
    """Close every pooled connection (tests switch databases)."""
    with _engines_lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()
        _upgraded.clear()


def alembic_config(url: str | None = None):  # noqa: ANN201 - alembic.config.Config
    """Alembic configuration pointing at our migrations, without an alembic.ini file."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Bring the database schema to the newest migration (idempotent)."""
    url = url or database_url()
    if url in _upgraded:
        return
    from alembic import command

    cfg = alembic_config(url)
    with engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    _upgraded.add(url)


_upgraded: set[str] = set()  # URLs already brought to head by this process


@contextmanager
def session(url: str | None = None) -> Iterator[Session]:
    """A transaction: committed when the block ends normally, rolled back on error."""
    maker = sessionmaker(engine(url), expire_on_commit=False)
    with maker() as s, s.begin():
        yield s
