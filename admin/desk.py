"""The live-agent desk in the admin app: the hand-off hook, the queue, taking, replying, closing.

Two kinds of callers, two kinds of authentication:

* the action server (or any bot) calls ``GET /admin/desk/api/status`` and
  ``POST /admin/desk/api/handoff`` with ``Authorization: Bearer $DESK_SECRET``
  (the shared secret ``scripts/run.sh`` generates into ``.run/secrets.env``);
  anything else gets 401, and a desk without a secret configured answers 503;
* operators use the pages with their log-in session, the ``desk`` permission
  and the session's CSRF token on every POST, like the rest of the admin app.

The pages work without JavaScript; ``static/desk.js`` (served from this app,
allowed by a per-page Content-Security-Policy) only polls two small JSON
endpoints so that new hand-offs and the citizen's messages show up by
themselves, and sends replies without reloading the page.

A background task ends hand-offs nobody took: after ``DESK_WAIT_S`` seconds,
or at once when no operator is on duty any more, the citizen is told so with
the hotline and its hours, and the bot resumes.  See docs/desk.md.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
from typing import Any

from sanic import Request, Sanic, response
from sanic.exceptions import NotFound

from admin import auth, desk_rasa, desk_store
from admin.desk_rasa import RasaError
from admin.desk_store import Ticket
from knowledge_base import db

logger = logging.getLogger(__name__)
PREFIX = "/admin/desk"
CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
MAX_REPLY_CHARS = 2000
_CHANNEL_OK = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CHANNEL_NAMES = {"socketio": "Web (widget)", "zalo": "Zalo OA", "rest": "REST", "facebook": "Messenger"}

TAKEN_TEXT = "Tổng đài viên đã nhận cuộc trò chuyện. Anh/Chị cứ nhắn tại đây, tổng đài viên sẽ trả lời."
CLOSING_TEXT = ("Tổng đài viên đã kết thúc cuộc trò chuyện. Cảm ơn Anh/Chị! Trợ lý tự động tiếp tục trả lời "
                "các câu hỏi về thủ tục hành chính, ví dụ: làm căn cước cần giấy tờ gì?")


def hotline() -> tuple[str, str]:
    """The hotline and its hours: the same variables (and defaults) the action server reads."""
    return os.environ.get("HOTLINE", "1022"), os.environ.get("HOTLINE_HOURS", "7h30–17h00, thứ Hai đến thứ Sáu")


def nobody_text() -> str:
    number, hours = hotline()
    return (f"Xin lỗi, hiện chưa có tổng đài viên nào nhận được cuộc trò chuyện của Anh/Chị. "
            f"Anh/Chị vui lòng gọi đường dây nóng {number} ({hours}). "
            "Tôi tiếp tục trả lời các câu hỏi về thủ tục hành chính.")


def nobody_payload() -> dict[str, Any]:
    number, hours = hotline()
    return {"kind": "handoff", "handoff": False, "hotline": number, "hotline_hours": hours}


def desk_secret() -> str:
    return os.environ.get("DESK_SECRET", "")


def hook_auth(request: Request) -> response.HTTPResponse | None:
    """None when the bearer token is the desk secret; else the refusal to send."""
    secret = desk_secret()
    if not secret:
        return response.json({"error": "desk secret not configured (DESK_SECRET)"}, status=503)
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not given or not hmac.compare_digest(given.encode(), secret.encode()):
        return response.json({"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"})
    return None


def ticket_dict(t: Ticket, lines: list[desk_rasa.Line] | None = None) -> dict[str, Any]:
    d = {"id": t.id, "channel": t.channel, "status": t.status, "waited_s": t.waited_s, "taken_by": t.taken_by}
    if lines is not None:
        d["lines"] = [ln.as_dict() for ln in lines]
    return d


async def end_unanswered() -> int:
    """End waiting hand-offs nobody can take (timed out, or no operator on duty); returns how many."""
    due = [(t, desk_store.TIMEOUT) for t in desk_store.overdue()]
    if desk_store.agents_on_duty() == 0:
        seen = {t.id for t, _ in due}
        due += [(t, desk_store.NO_OPERATOR) for t in desk_store.listing((desk_store.WAITING,)) if t.id not in seen]
    n = 0
    for t, why in due:
        if not desk_store.expire(t.id, why):
            continue  # taken a moment ago
        n += 1
        try:
            await desk_rasa.append_async(t.sender_id, t.channel, [
                desk_rasa.resume_event(), desk_rasa.bot_event(nobody_text(), nobody_payload())])
        except RasaError:
            logger.exception("desk: could not tell conversation %s that nobody is available", t.id)
    return n


async def _sweeper() -> None:
    interval = float(os.environ.get("DESK_SWEEP_S", "1"))
    while True:
        try:
            await end_unanswered()
        except Exception:
            logger.exception("desk: sweep failed")
        await asyncio.sleep(interval)


def register(app: Sanic) -> None:  # noqa: C901 - one closure per route, like admin.app
    """Add the desk's routes and its timeout sweeper to the admin app."""
    from admin import app as web  # late: admin.app calls this function while it builds the app

    def page(template: str, status: int = 200, **ctx: Any) -> response.HTTPResponse:
        resp = web.render(template, status=status, channel_names=CHANNEL_NAMES, **ctx)
        resp.headers["Content-Security-Policy"] = CSP
        return resp

    def wants_json(request: Request) -> bool:
        return request.headers.get("x-requested-with") == "desk"

    def done(request: Request, where: str, error: str | None = None, status: int = 200) -> response.HTTPResponse:
        if wants_json(request):
            return response.json({"ok": error is None, "error": error}, status=status if error else 200)
        if error:
            return web.render("error.html", status=status, user=web.user_of(request), title="Không thực hiện được",
                              message=error)
        return response.redirect(where)

    def posting(request: Request, what: str) -> tuple[auth.CurrentUser | None, response.HTTPResponse | None]:
        """The desk permission and the form's CSRF token, checked once for every desk form."""
        user, refuse = web.need(request, "desk", what)
        if refuse is None and user is not None and not web.csrf_ok(request, user):
            refuse = web.csrf_failed(user)
        return user, refuse

    def ticket_or_404(ticket_id: int) -> Ticket:
        t = desk_store.get(ticket_id)
        if t is None:
            raise NotFound("no such conversation")
        return t

    @app.after_server_start
    async def _start_sweeper(app: Sanic) -> None:
        app.add_task(_sweeper(), name="desk-sweeper")

    # ------------------------------------------------------------------ the hook (bot → desk)
    @app.get(f"{PREFIX}/api/status")
    async def api_status(request: Request) -> response.HTTPResponse:
        refuse = hook_auth(request)
        if refuse:
            return refuse
        return response.json({"agents_on_duty": desk_store.agents_on_duty(), "wait_s": desk_store.wait_s()})

    @app.post(f"{PREFIX}/api/handoff")
    async def api_handoff(request: Request) -> response.HTTPResponse:
        refuse = hook_auth(request)
        if refuse:
            return refuse
        try:
            body = request.json
        except Exception:
            body = None
        sender = body.get("sender_id") if isinstance(body, dict) else None
        channel = body.get("channel") if isinstance(body, dict) else None
        if not isinstance(sender, str) or not sender or len(sender) > 160 or not isinstance(channel, str) \
                or not _CHANNEL_OK.match(channel):
            return response.json({"error": "need sender_id (≤160 chars) and channel (a Rasa channel name)"}, status=400)
        n = desk_store.agents_on_duty()
        if n == 0:
            return response.json({"accepted": False, "reason": "no_operator", "agents_on_duty": 0, "ticket": None,
                                  "wait_s": desk_store.wait_s()})
        ticket, created = desk_store.open_handoff(sender, channel)
        if created:
            logger.info("desk: hand-off %s queued (%s)", ticket.id, channel)
        return response.json({"accepted": True, "reason": None, "agents_on_duty": n, "ticket": ticket.id,
                              "wait_s": desk_store.wait_s()})

    # ------------------------------------------------------------------ operators' pages
    @app.get(PREFIX)
    async def queue_page(request: Request) -> response.HTTPResponse:
        user, refuse = web.need(request, "desk", "làm việc ở bàn tổng đài viên")
        if refuse:
            return refuse
        assert user is not None
        duty = desk_store.seen(user.id)
        waiting = desk_store.listing((desk_store.WAITING,))
        previews = {}
        for t in waiting[:20]:
            try:
                previews[t.id] = (await desk_rasa.transcript_async(t.sender_id))[-8:]
            except RasaError as exc:
                previews[t.id] = [desk_rasa.Line("bot", str(exc), 0)]
        taken = desk_store.listing((desk_store.TAKEN,))
        recent = desk_store.listing((desk_store.CLOSED, desk_store.TIMEOUT, desk_store.NO_OPERATOR), limit=20)
        return page("desk.html", user=user, on_duty=duty, agents=desk_store.agents_on_duty(), waiting=waiting,
                    previews=previews, mine=[t for t in taken if t.taken_by == user.username],
                    others=[t for t in taken if t.taken_by != user.username], recent=recent,
                    wait_s=int(desk_store.wait_s()), desk_prefix=PREFIX)

    @app.get(f"{PREFIX}/queue.json")
    async def queue_json(request: Request) -> response.HTTPResponse:
        user, refuse = web.need(request, "desk", "xem hàng chờ")
        if refuse:
            return response.json({"error": "unauthorized"}, status=401 if user is None else 403)
        assert user is not None
        duty = desk_store.seen(user.id)
        open_ = desk_store.listing(desk_store.OPEN)
        return response.json({"on_duty": duty, "agents_on_duty": desk_store.agents_on_duty(),
                              "open": [ticket_dict(t) for t in open_]})

    @app.post(f"{PREFIX}/duty")
    async def duty_post(request: Request) -> response.HTTPResponse:
        user, refuse = posting(request, "nhận trực")
        if refuse:
            return refuse
        assert user is not None
        on = web.form_dict(request).get("on") == "1"
        desk_store.set_duty(user.id, on)
        with db.session() as s:
            s.add(db.Audit(actor=user.username, action="desk_duty", detail="nhận trực" if on else "nghỉ trực"))
        return response.redirect(PREFIX)

    @app.get(f"{PREFIX}/c/<ticket_id:int>")
    async def conversation_page(request: Request, ticket_id: int) -> response.HTTPResponse:
        user, refuse = web.need(request, "desk", "xem cuộc trò chuyện")
        if refuse:
            return refuse
        assert user is not None
        desk_store.seen(user.id)
        t = ticket_or_404(ticket_id)
        error = None
        try:
            lines = await desk_rasa.transcript_async(t.sender_id)
        except RasaError as exc:
            lines, error = [], str(exc)
        return page("desk_conversation.html", user=user, t=t, lines=lines, error=error,
                    mine=t.status == desk_store.TAKEN and t.taken_by == user.username, desk_prefix=PREFIX,
                    max_reply=MAX_REPLY_CHARS)

    @app.get(f"{PREFIX}/c/<ticket_id:int>/messages.json")
    async def messages_json(request: Request, ticket_id: int) -> response.HTTPResponse:
        user, refuse = web.need(request, "desk", "xem cuộc trò chuyện")
        if refuse:
            return response.json({"error": "unauthorized"}, status=401 if user is None else 403)
        assert user is not None
        desk_store.seen(user.id)
        t = ticket_or_404(ticket_id)
        after = int(request.args.get("after", "0")) if request.args.get("after", "0").isdigit() else 0
        try:
            lines = await desk_rasa.transcript_async(t.sender_id)
        except RasaError as exc:
            return response.json({"error": str(exc)}, status=502)
        return response.json({"status": t.status, "n": len(lines), "lines": [ln.as_dict() for ln in lines[after:]]})

    @app.post(f"{PREFIX}/c/<ticket_id:int>/take")
    async def take_post(request: Request, ticket_id: int) -> response.HTTPResponse:
        user, refuse = posting(request, "nhận cuộc trò chuyện")
        if refuse:
            return refuse
        assert user is not None
        t = ticket_or_404(ticket_id)
        if not desk_store.take(t.id, user.username):
            return done(request, "", "Cuộc trò chuyện đã có người nhận hoặc đã kết thúc.", 409)
        try:
            await desk_rasa.append_async(t.sender_id, t.channel, [desk_rasa.pause_event(),
                                                                  desk_rasa.bot_event(TAKEN_TEXT, operator=user.username)])
        except RasaError as exc:
            logger.error("desk: take %s: %s", t.id, exc)
        with db.session() as s:
            s.add(db.Audit(actor=user.username, action="desk_take", detail=f"hội thoại #{t.id} ({t.channel})"))
        return done(request, f"{PREFIX}/c/{t.id}")

    @app.post(f"{PREFIX}/c/<ticket_id:int>/reply")
    async def reply_post(request: Request, ticket_id: int) -> response.HTTPResponse:
        user, refuse = posting(request, "trả lời công dân")
        if refuse:
            return refuse
        assert user is not None
        t = ticket_or_404(ticket_id)
        text = (web.form_dict(request).get("text") or "").strip()
        if t.status != desk_store.TAKEN or t.taken_by != user.username:
            return done(request, "", "Chỉ tổng đài viên đang giữ cuộc trò chuyện mới trả lời được.", 409)
        if not text or len(text) > MAX_REPLY_CHARS:
            return done(request, "", f"Câu trả lời cần từ 1 đến {MAX_REPLY_CHARS} ký tự.", 400)
        try:
            await desk_rasa.append_async(t.sender_id, t.channel,
                                         [desk_rasa.bot_event(desk_rasa.OPERATOR_PREFIX + text, operator=user.username)])
        except RasaError as exc:
            return done(request, "", str(exc), 502)
        desk_store.count_reply(t.id)
        return done(request, f"{PREFIX}/c/{t.id}")

    @app.post(f"{PREFIX}/c/<ticket_id:int>/close")
    async def close_post(request: Request, ticket_id: int) -> response.HTTPResponse:
        user, refuse = posting(request, "kết thúc cuộc trò chuyện")
        if refuse:
            return refuse
        assert user is not None
        t = ticket_or_404(ticket_id)
        if not desk_store.close(t.id, user.username):
            return done(request, "", "Chỉ tổng đài viên đang giữ cuộc trò chuyện mới kết thúc được.", 409)
        try:
            await desk_rasa.append_async(t.sender_id, t.channel, [
                desk_rasa.bot_event(CLOSING_TEXT, operator=user.username), desk_rasa.resume_event()])
        except RasaError as exc:
            logger.error("desk: close %s: %s", t.id, exc)
        with db.session() as s:
            s.add(db.Audit(actor=user.username, action="desk_close", detail=f"hội thoại #{t.id} ({t.n_replies} trả lời)"))
        return done(request, PREFIX)
