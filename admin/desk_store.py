"""The live-agent desk's storage: operators on duty and the hand-off queue.

Why a row per hand-off with a status: several operators (and the timeout
sweeper) act on the same queue at once, so every state change is one
conditional ``UPDATE … WHERE status = …``: exactly one operator takes a
conversation, and the sweeper never times out one that was just taken.

Why presence (``seen_at``) and not only the on-duty switch: an operator who
ticked "on duty" and closed the browser is not there.  The bot must never
promise a person who does not exist, so ``agents_on_duty`` counts operators
on duty whose desk page polled within ``DESK_PRESENCE_S`` seconds.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base import db

WAITING, TAKEN, CLOSED, TIMEOUT, NO_OPERATOR = "waiting", "taken", "closed", "timeout", "no_operator"
OPEN = (WAITING, TAKEN)
STATUS_NAMES = {WAITING: "Đang chờ", TAKEN: "Đang trao đổi", CLOSED: "Đã kết thúc", TIMEOUT: "Hết thời gian chờ",
                NO_OPERATOR: "Không còn tổng đài viên"}


def wait_s() -> float:
    """How long a hand-off may wait for an operator before the citizen gets the hotline (``DESK_WAIT_S``)."""
    return float(os.environ.get("DESK_WAIT_S", "120"))


def presence_s() -> float:
    """An operator on duty counts only if their desk page was seen this recently (``DESK_PRESENCE_S``)."""
    return float(os.environ.get("DESK_PRESENCE_S", "60"))


class Operator(db.Base):
    """An operator's on-duty switch and the last time their desk page was seen."""

    __tablename__ = "desk_operator"
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"), primary_key=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)


class Conversation(db.Base):
    """One hand-off: a citizen's conversation (Rasa sender id + channel) waiting for or with an operator."""

    __tablename__ = "desk_conversation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow)
    taken_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    n_replies: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class Ticket:
    """A detached view of a :class:`Conversation` row for pages and the Rasa calls."""

    id: int
    sender_id: str
    channel: str
    status: str
    created_at: dt.datetime
    taken_by: str | None
    ended_at: dt.datetime | None
    n_replies: int

    @property
    def waited_s(self) -> int:
        """Seconds since the hand-off (until it ended, if it did)."""
        end = _aware(self.ended_at) if self.ended_at else db.utcnow()
        return max(0, int((end - _aware(self.created_at)).total_seconds()))

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)


def _aware(t: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were stored as UTC."""
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _ticket(row: Conversation) -> Ticket:
    return Ticket(row.id, row.sender_id, row.channel, row.status, row.created_at, row.taken_by, row.ended_at, row.n_replies)


# ---------------------------------------------------------------------- operators

def set_duty(user_id: int, on: bool) -> None:
    """Switch an operator on or off duty (and count them as present now)."""
    now = db.utcnow()
    with db.session() as s:
        row = s.get(Operator, user_id)
        if row is None:
            s.add(Operator(user_id=user_id, on_duty=on, seen_at=now, changed_at=now))
        else:
            row.on_duty, row.seen_at, row.changed_at = on, now, now


def seen(user_id: int) -> bool:
    """Record that the operator's desk page is open; returns whether they are on duty."""
    with db.session() as s:
        row = s.get(Operator, user_id)
        if row is None:
            return False
        row.seen_at = db.utcnow()
        return row.on_duty


def on_duty(user_id: int) -> bool:
    with db.session() as s:
        row = s.get(Operator, user_id)
        return bool(row and row.on_duty)


def agents_on_duty() -> int:
    """Operators on duty whose desk page was seen within ``DESK_PRESENCE_S`` (active accounts only)."""
    since = db.utcnow() - dt.timedelta(seconds=presence_s())
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Operator).join(db.User, db.User.id == Operator.user_id)
                        .where(Operator.on_duty.is_(True), Operator.seen_at >= since, db.User.active.is_(True))) or 0


# ---------------------------------------------------------------------- the queue

def open_handoff(sender_id: str, channel: str) -> tuple[Ticket, bool]:
    """The open hand-off of this conversation, or a new waiting one; ``True`` when it was created now."""
    with db.session() as s:
        row = s.scalars(select(Conversation).where(Conversation.sender_id == sender_id, Conversation.status.in_(OPEN))
                        .order_by(Conversation.id.desc())).first()
        if row is not None:
            return _ticket(row), False
        row = Conversation(sender_id=sender_id, channel=channel, status=WAITING, created_at=db.utcnow(), n_replies=0)
        s.add(row)
        s.flush()
        return _ticket(row), True


def get(ticket_id: int) -> Ticket | None:
    with db.session() as s:
        row = s.get(Conversation, ticket_id)
        return _ticket(row) if row else None


def listing(statuses: tuple[str, ...], limit: int = 200) -> list[Ticket]:
    """Hand-offs in these statuses, oldest first for open ones (who waited longest comes first)."""
    with db.session() as s:
        q = select(Conversation).where(Conversation.status.in_(statuses))
        q = q.order_by(Conversation.id if set(statuses) <= set(OPEN) else Conversation.id.desc()).limit(limit)
        return [_ticket(r) for r in s.scalars(q)]


def _transition(ticket_id: int, frm: tuple[str, ...], to: str, **values: object) -> bool:
    """One conditional update: True only for the caller whose update moved the row."""
    with db.session() as s:
        res = s.execute(update(Conversation).where(Conversation.id == ticket_id, Conversation.status.in_(frm))
                        .values(status=to, **values))
        return res.rowcount == 1


def take(ticket_id: int, operator: str) -> bool:
    """The operator takes a waiting hand-off; False when someone else (or the timeout) got there first."""
    return _transition(ticket_id, (WAITING,), TAKEN, taken_by=operator, taken_at=db.utcnow())


def close(ticket_id: int, operator: str) -> bool:
    """The operator who holds it ends the conversation."""
    with db.session() as s:
        res = s.execute(update(Conversation).where(Conversation.id == ticket_id, Conversation.status == TAKEN,
                                                   Conversation.taken_by == operator)
                        .values(status=CLOSED, ended_at=db.utcnow()))
        return res.rowcount == 1


def expire(ticket_id: int, why: str) -> bool:
    """Nobody took it in time (``timeout``) or nobody is on duty any more (``no_operator``)."""
    return _transition(ticket_id, (WAITING,), why, ended_at=db.utcnow())


def count_reply(ticket_id: int) -> None:
    with db.session() as s:
        s.execute(update(Conversation).where(Conversation.id == ticket_id)
                  .values(n_replies=Conversation.n_replies + 1))


def overdue(now: dt.datetime | None = None) -> list[Ticket]:
    """Waiting hand-offs older than ``DESK_WAIT_S``."""
    cutoff = (now or db.utcnow()) - dt.timedelta(seconds=wait_s())
    with db.session() as s:
        return [_ticket(r) for r in s.scalars(select(Conversation).where(Conversation.status == WAITING,
                                                                        Conversation.created_at < cutoff))]
