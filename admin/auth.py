"""Admin accounts, server-side sessions, CSRF tokens and log-in rate limiting.

Why each piece:

* passwords are hashed with argon2id (argon2-cffi's defaults), never stored;
* the session cookie carries only a random id; the server keeps its SHA-256,
  the user and the CSRF token, so logging out or disabling a user takes
  effect at once and a stolen database does not hold usable cookies;
* every form carries the session's CSRF token (the log-in form a
  double-submit token), checked with a constant-time comparison;
* failed log-ins are counted per client address and per user name in the
  database, so the limit holds across restarts and workers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select

from knowledge_base import db

ROLES = ("viewer", "editor", "publisher", "operator")
ROLE_NAMES = {"viewer": "Người xem", "editor": "Biên tập viên", "publisher": "Người xuất bản", "operator": "Tổng đài viên"}
# What each role may do; a publisher also edits (a small province may have one person doing both)
# and may stand in at the live-agent desk (admin/desk.py); an operator reads the catalogue to answer.
PERMISSIONS = {
    "viewer": {"read"},
    "editor": {"read", "edit"},
    "publisher": {"read", "edit", "publish", "desk"},
    "operator": {"read", "desk"},
}
SESSION_HOURS = float(os.environ.get("ADMIN_SESSION_HOURS", "8"))
MAX_FAILURES = int(os.environ.get("ADMIN_LOGIN_MAX_FAILURES", "5"))  # per user name
MAX_FAILURES_IP = int(os.environ.get("ADMIN_LOGIN_MAX_FAILURES_IP", "20"))  # per client address (an office shares one)
WINDOW_S = int(os.environ.get("ADMIN_LOGIN_WINDOW_S", "900"))

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AuthError(Exception):
    """Log-in refused; the message is safe to show."""


class RateLimited(AuthError):
    """Too many failed log-ins from this address or for this user name."""


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: str
    csrf: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, set())

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(username: str, password: str, role: str) -> int:
    """Create (or reset the password and role of) an account; returns its id."""
    if role not in ROLES:
        raise ValueError(f"vai trò phải là một trong {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("mật khẩu cần ít nhất 10 ký tự")
    username = username.strip()
    if not username or len(username) > 64:
        raise ValueError("tên đăng nhập không hợp lệ")
    with db.session() as s:
        user = s.scalars(select(db.User).where(db.User.username == username)).first()
        if user is None:
            user = db.User(username=username, password_hash=_hasher.hash(password), role=role, active=True)
            s.add(user)
        else:
            user.password_hash, user.role, user.active = _hasher.hash(password), role, True
        s.flush()
        s.add(db.Audit(actor="system", action="user", detail=f"tài khoản {username} ({role})"))
        return user.id


def _failures(s, key: str, since: dt.datetime) -> int:  # noqa: ANN001 - Session
    return s.scalar(select(func.count()).select_from(db.LoginAttempt)
                    .where(db.LoginAttempt.key == key, db.LoginAttempt.at >= since)) or 0


def login(username: str, password: str, client: str) -> str:
    """Check the password and open a session; returns the session cookie value.

    Raises :class:`RateLimited` before checking anything once the address or
    the user name has ``ADMIN_LOGIN_MAX_FAILURES`` failures in the window,
    and :class:`AuthError` (one message for unknown user and wrong password).
    """
    keys = [f"ip:{client}", f"user:{username.strip().lower()[:64]}"]
    now = db.utcnow()
    since = now - dt.timedelta(seconds=WINDOW_S)
    with db.session() as s:
        s.execute(delete(db.LoginAttempt).where(db.LoginAttempt.at < since))
        if _failures(s, keys[0], since) >= MAX_FAILURES_IP or _failures(s, keys[1], since) >= MAX_FAILURES:
            raise RateLimited(f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {WINDOW_S // 60} phút.")
        user = s.scalars(select(db.User).where(db.User.username == username.strip())).first()
        ok = False
        try:
            ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None and user.active
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            for k in keys:
                s.add(db.LoginAttempt(key=k, at=now))
            s.add(db.Audit(actor=username[:64] or "?", action="login_failed", detail=f"từ {client}"))
            token = None  # the failure is committed when the block ends; raising inside would roll it back
        else:
            token = _open_session(s, user, password, keys[1], client, now)
    if token is None:
        raise AuthError("Tên đăng nhập hoặc mật khẩu không đúng.")
    return token


def _open_session(s, user: db.User, password: str, user_key: str, client: str, now: dt.datetime) -> str:  # noqa: ANN001
    """After a good password: rehash if argon2's parameters changed, store the session, clear the user's failures."""
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    s.add(db.AdminSession(id_sha=_sha(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32), created_at=now,
                          expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
    s.execute(delete(db.LoginAttempt).where(db.LoginAttempt.key == user_key))
    s.add(db.Audit(actor=user.username, action="login", detail=f"từ {client}"))
    return token


def current_user(token: str | None) -> CurrentUser | None:
    """The user of a session cookie, or None when absent, unknown, expired or disabled."""
    if not token:
        return None
    with db.session() as s:
        row = s.get(db.AdminSession, _sha(token))
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        if expires < db.utcnow():
            s.delete(row)
            return None
        user = s.get(db.User, row.user_id)
        if user is None or not user.active:
            return None
        return CurrentUser(user.id, user.username, user.role, row.csrf_token)


def logout(token: str | None) -> None:
    """End a session (server side: the cookie becomes worthless)."""
    if token:
        with db.session() as s:
            s.execute(delete(db.AdminSession).where(db.AdminSession.id_sha == _sha(token)))


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two CSRF tokens (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
