"""The desk's queue rules on a real (SQLite) database, without servers: who counts as on duty,
one operator per conversation, and a timeout that never ends a conversation someone took."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from admin import auth, desk_store
from knowledge_base import db


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("DESK_WAIT_S", "60")
    monkeypatch.setenv("DESK_PRESENCE_S", "30")
    db.upgrade()
    yield
    db.dispose_all()


def test_only_present_active_operators_on_duty_count(store):
    a = auth.create_user("op-a", "mat-khau-dai-123", "operator")
    b = auth.create_user("op-b", "mat-khau-dai-123", "operator")
    assert desk_store.agents_on_duty() == 0
    desk_store.set_duty(a, True)
    desk_store.set_duty(b, True)
    assert desk_store.agents_on_duty() == 2
    with db.session() as s:  # b's desk page has not been seen for a minute: b is not there
        s.execute(update(desk_store.Operator).where(desk_store.Operator.user_id == b)
                  .values(seen_at=db.utcnow() - dt.timedelta(seconds=61)))
    assert desk_store.agents_on_duty() == 1
    assert desk_store.seen(b) is True and desk_store.agents_on_duty() == 2  # the page polled again
    with db.session() as s:
        s.execute(update(db.User).where(db.User.id == a).values(active=False))
    assert desk_store.agents_on_duty() == 1  # a disabled account never counts
    desk_store.set_duty(b, False)
    assert desk_store.agents_on_duty() == 0


def test_one_open_handoff_per_conversation_and_one_taker(store):
    t, created = desk_store.open_handoff("citizen-1", "socketio")
    again, created_again = desk_store.open_handoff("citizen-1", "socketio")
    assert created and not created_again and again.id == t.id
    assert desk_store.take(t.id, "op-a") is True
    assert desk_store.take(t.id, "op-b") is False  # a second click loses
    assert desk_store.close(t.id, "op-b") is False  # only the holder closes
    assert desk_store.close(t.id, "op-a") is True
    new, created = desk_store.open_handoff("citizen-1", "socketio")  # asks again later: a new hand-off
    assert created and new.id != t.id


def test_timeout_ends_only_waiting_handoffs(store):
    waiting, _ = desk_store.open_handoff("citizen-w", "rest")
    taken, _ = desk_store.open_handoff("citizen-t", "zalo")
    assert desk_store.take(taken.id, "op-a")
    assert desk_store.overdue() == []
    later = db.utcnow() + dt.timedelta(seconds=61)
    assert {t.id for t in desk_store.overdue(later)} == {waiting.id}
    assert desk_store.expire(waiting.id, desk_store.TIMEOUT) is True
    assert desk_store.expire(taken.id, desk_store.TIMEOUT) is False
    assert desk_store.get(waiting.id).status == desk_store.TIMEOUT
    assert desk_store.take(waiting.id, "op-a") is False  # too late: the citizen already got the hotline
