"""Analytics pages of the admin app: what citizens ask, on which channel, and what goes unanswered.

Routes (registered by ``register(app)`` from admin/app.py):

* ``GET  /admin/analytics``                         turns and conversations per day and channel,
  fallback rate over time, top procedures and aspects (SVG charts, no JavaScript);
* ``GET  /admin/analytics/unanswered``              fallback and low-confidence turns, similar phrasings
  grouped (admin/analytics_groups.py), each group with a count and examples;
* ``POST /admin/analytics/unanswered/alias``        add a group's phrasing as an alias of a procedure,
  as a draft change for the publish flow (knowledge_base.publish.save_procedure);
* ``POST /admin/analytics/unanswered/out-of-scope`` mark a group out of scope (it leaves the list);
* ``GET  /admin/analytics/export.csv?kind=…``       the same figures as CSV.

Reading needs the ``read`` permission (a viewer may), acting on a group ``edit``; every form
carries the session's CSRF token, as on the other pages.  The texts shown were masked before
they were stored (bot/brokers/recording.py).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import importlib
import io
import re
from collections import defaultdict
from typing import Any
from urllib.parse import quote

from sanic import Request, Sanic, response
from sqlalchemy import select

from admin import analytics_charts as charts
from admin import analytics_groups, analytics_store
from knowledge_base import db, publish

PERIODS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
SHOWN_GROUPS = 200
ASPECT_NAMES = {"overview": "Tổng quan", "documents": "Giấy tờ", "fee": "Lệ phí", "duration": "Thời hạn",
                "where": "Nơi nộp", "steps": "Các bước", "online": "Nộp trực tuyến", "legal_basis": "Căn cứ pháp lý"}
CHANNEL_NAMES = {"rest": "REST", "socketio": "Widget web", "zalo": "Zalo", "phone": "Điện thoại", "unknown": "Không rõ"}
_CODE = re.compile(r"\d\.\d{6}")
_MASKED = re.compile(r"\*|\[địa chỉ\]")


def period(request: Request) -> tuple[int, dt.date, dt.date]:
    """The chosen number of days (7/30/90/365) and its first and last day."""
    raw = request.args.get("days") or (request.form.get("days") if request.form else None) or ""
    days = int(raw) if raw.isdigit() and int(raw) in PERIODS else DEFAULT_DAYS
    end = analytics_store.today()
    return days, end - dt.timedelta(days=days - 1), end


def procedure_names(codes: set[str]) -> dict[str, str]:
    """Names of procedures in the live catalogue (codes no longer there keep only their code)."""
    if not codes:
        return {}
    with db.session() as s:
        live = publish.live_version_id(s)
        if live is None:
            return {}
        rows = s.execute(select(db.VersionItem.code, db.VersionItem.name)
                         .where(db.VersionItem.version_id == live, db.VersionItem.code.in_(sorted(codes)))).all()
    return dict(rows)


def live_procedures() -> list[tuple[str, str]]:
    """Every live procedure (code, name), for the alias form's list."""
    with db.session() as s:
        live = publish.live_version_id(s)
        if live is None:
            return []
        return [tuple(r) for r in s.execute(select(db.VersionItem.code, db.VersionItem.name)
                                            .where(db.VersionItem.version_id == live).order_by(db.VersionItem.code))]


def overview_data(start: dt.date, end: dt.date) -> dict[str, Any]:
    """Everything the overview page shows, from three aggregate queries."""
    rows = analytics_store.daily(start, end)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    labels = [d.isoformat() for d in days]
    channels = sorted({r.channel for r in rows})
    per: dict[str, dict[dt.date, Any]] = defaultdict(dict)
    for r in rows:
        per[r.channel][r.day] = r
    turns = {CHANNEL_NAMES.get(c, c): [per[c][d].turns if d in per[c] else 0 for d in days] for c in channels}
    convs = {CHANNEL_NAMES.get(c, c): [per[c][d].conversations if d in per[c] else 0 for d in days] for c in channels}
    day_tot: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        t = day_tot[r.day]
        t[0] += r.turns
        t[1] += r.conversations
        t[2] += r.fallback
        t[3] += r.unanswered
    rate = [100.0 * day_tot[d][2] / day_tot[d][0] if day_tot[d][0] else None for d in days]
    by_channel = []
    for c in channels:
        vals = list(per[c].values())
        by_channel.append({"channel": c, "name": CHANNEL_NAMES.get(c, c), "turns": sum(v.turns for v in vals),
                           "conversations": sum(v.conversations for v in vals), "fallback": sum(v.fallback for v in vals),
                           "unanswered": sum(v.unanswered for v in vals)})
    total = {k: sum(b[k] for b in by_channel) for k in ("turns", "conversations", "fallback", "unanswered")}
    procs = analytics_store.top("procedure_code", start, end)
    aspects = analytics_store.top("aspect", start, end)
    names = procedure_names({c for c, _ in procs})
    return {
        "total": total, "by_channel": by_channel,
        "daily": [{"day": d.isoformat(), "turns": day_tot[d][0], "conversations": day_tot[d][1],
                   "fallback": day_tot[d][2], "unanswered": day_tot[d][3]} for d in days if day_tot[d][0]],
        "procedures": [{"code": c, "name": names.get(c, ""), "count": n} for c, n in procs],
        "aspects": [{"aspect": a, "name": ASPECT_NAMES.get(a, a), "count": n} for a, n in aspects],
        "chart_turns": charts.stacked_bars(labels, turns, "Số lượt hỏi mỗi ngày theo kênh", testid="chart-turns"),
        "chart_conversations": charts.stacked_bars(labels, convs, "Số cuộc hội thoại mỗi ngày theo kênh",
                                                   testid="chart-conversations"),
        "chart_fallback": charts.line(labels, rate, "Tỉ lệ không trả lời được (%) mỗi ngày", testid="chart-fallback"),
        "chart_procedures": charts.hbars([(f"{p} {names.get(p, '')}".strip(), n) for p, n in procs],
                                         "Thủ tục được hỏi nhiều nhất", testid="chart-procedures"),
        "chart_aspects": charts.hbars([(ASPECT_NAMES.get(a, a), n) for a, n in aspects], "Khía cạnh được hỏi",
                                      testid="chart-aspects"),
    }


def unanswered_data(start: dt.date, end: dt.date) -> tuple[list[analytics_groups.Group], int, int]:
    """Groups of unanswered phrasings (most turns first), the number of phrasings and of turns."""
    phrasings, n_turns = analytics_store.unanswered(start, end)
    return analytics_groups.group(phrasings), len(phrasings), n_turns


def csv_response(name: str, header: list[str], rows: list[list[Any]]) -> response.HTTPResponse:
    """A CSV download (UTF-8 with BOM, so spreadsheet programs read Vietnamese correctly; no formulas)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows([[_cell(v) for v in row] for row in rows])
    return response.raw(("\ufeff" + buf.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _cell(value: Any) -> Any:
    """A citizen's text that a spreadsheet would run as a formula ("=HYPERLINK(…)") is quoted as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def register(app: Sanic) -> None:
    """Add the analytics routes to the admin app."""
    web = importlib.import_module("admin.app")
    prefix = web.PREFIX

    @app.get(f"{prefix}/analytics")
    async def analytics_overview(request: Request) -> response.HTTPResponse:
        user, refuse = web.need(request, "read", "xem thống kê")
        if refuse:
            return refuse
        days, start, end = period(request)
        data = await asyncio.to_thread(overview_data, start, end)
        return web.render("analytics.html", user=user, days=days, periods=PERIODS, start=start, end=end, **data)

    @app.get(f"{prefix}/analytics/unanswered")
    async def analytics_unanswered(request: Request) -> response.HTTPResponse:
        user, refuse = web.need(request, "read", "xem câu hỏi chưa trả lời được")
        if refuse:
            return refuse
        days, start, end = period(request)
        groups, n_phrasings, n_turns = await asyncio.to_thread(unanswered_data, start, end)
        procs = await asyncio.to_thread(live_procedures) if user.can("edit") else []
        return web.render("analytics_unanswered.html", user=user, days=days, periods=PERIODS, start=start, end=end,
                          groups=groups[:SHOWN_GROUPS], n_groups=len(groups), n_phrasings=n_phrasings, n_turns=n_turns,
                          procedures=procs, done=request.args.get("done", ""), error=None)

    async def _decide_form(request: Request, what: str) -> tuple[Any, response.HTTPResponse | None, dict, list[str]]:
        user, refuse = web.need(request, "edit", what)
        if refuse:
            return user, refuse, {}, []
        if not web.csrf_ok(request, user):
            return user, web.csrf_failed(user), {}, []
        keys = [k for k in request.form.getlist("key") or [] if k][:5000]
        return user, None, web.form_dict(request), keys

    async def _error(request: Request, user: Any, message: str, status: int = 400) -> response.HTTPResponse:
        return web.render("error.html", status=status, user=user, title="Không thực hiện được", message=message)

    @app.post(f"{prefix}/analytics/unanswered/out-of-scope")
    async def analytics_out_of_scope(request: Request) -> response.HTTPResponse:
        user, refuse, f, keys = await _decide_form(request, "đánh dấu câu hỏi ngoài phạm vi")
        if refuse:
            return refuse
        if not keys:
            return await _error(request, user, "Nhóm câu hỏi trống.")
        n = await asyncio.to_thread(analytics_store.decide, keys, "out_of_scope", user.username)
        days = f.get("days") if (f.get("days") or "").isdigit() else DEFAULT_DAYS
        return response.redirect(f"{prefix}/analytics/unanswered?days={days}&done={quote(f'out_of_scope:{n}')}")

    @app.post(f"{prefix}/analytics/unanswered/alias")
    async def analytics_alias(request: Request) -> response.HTTPResponse:
        user, refuse, f, keys = await _decide_form(request, "thêm cách hỏi vào thủ tục")
        if refuse:
            return refuse
        m = _CODE.search(f.get("procedure", ""))
        phrase = " ".join((f.get("phrase") or "").split())
        if not keys or m is None:
            return await _error(request, user, "Hãy chọn thủ tục (mã dạng 1.000000) cho nhóm câu hỏi này.")
        if not phrase or len(phrase) > 200 or _MASKED.search(phrase):
            return await _error(request, user, "Cách hỏi phải có từ 1 đến 200 ký tự và không chứa phần đã che "
                                               "(dấu * hoặc [địa chỉ]): hãy viết lại cách hỏi.")
        code = m.group(0)
        try:
            draft = await asyncio.to_thread(add_alias, user.username, code, phrase)
        except LookupError:
            return await _error(request, user, f"Không có thủ tục mã {code} trong danh mục.", status=404)
        except publish.StaleFormError as exc:
            return await _error(request, user, str(exc), status=409)
        await asyncio.to_thread(analytics_store.decide, keys, "alias", user.username, code)
        days = f.get("days") if (f.get("days") or "").isdigit() else DEFAULT_DAYS
        return response.redirect(f"{prefix}/analytics/unanswered?days={days}&done={quote(f'alias:{code}:{draft}')}")

    @app.get(f"{prefix}/analytics/export.csv")
    async def analytics_export(request: Request) -> response.HTTPResponse:
        user, refuse = web.need(request, "read", "tải thống kê")
        if refuse:
            return refuse
        days, start, end = period(request)
        kind = request.args.get("kind", "daily")
        stamp = f"{start.isoformat()}_{end.isoformat()}"
        if kind == "daily":
            rows = await asyncio.to_thread(analytics_store.daily, start, end)
            return csv_response(f"luot-hoi-theo-ngay_{stamp}.csv",
                                ["ngay", "kenh", "so_luot", "so_hoi_thoai", "so_luot_fallback", "so_luot_chua_tra_loi"],
                                [[r.day.isoformat(), r.channel, r.turns, r.conversations, r.fallback, r.unanswered]
                                 for r in rows])
        if kind in ("procedures", "aspects"):
            col = "procedure_code" if kind == "procedures" else "aspect"
            items = await asyncio.to_thread(analytics_store.top, col, start, end, 1000)
            names = procedure_names({c for c, _ in items}) if kind == "procedures" else ASPECT_NAMES
            return csv_response(f"{'thu-tuc' if kind == 'procedures' else 'khia-canh'}_{stamp}.csv",
                                ["ma" if kind == "procedures" else "khia_canh", "ten", "so_luot"],
                                [[c, names.get(c, ""), n] for c, n in items])
        if kind == "unanswered":
            groups, _, _ = await asyncio.to_thread(unanswered_data, start, end)
            return csv_response(f"cau-hoi-chua-tra-loi_{stamp}.csv",
                                ["nhom", "so_luot_nhom", "cach_hoi", "so_luot", "vi_du"],
                                [[g.id, g.count, m.key, m.count, m.example] for g in groups for m in g.members])
        return await _error(request, user, "Loại dữ liệu xuất không hợp lệ.", status=404)


def add_alias(actor: str, code: str, phrase: str) -> int:
    """Add ``phrase`` to procedure ``code``'s aliases in the draft (opened if needed); returns the draft id."""
    with db.session() as s:
        live = publish.live_version_id(s)
        draft = publish.draft_of(s)
        found = (publish.procedure_in(s, draft.id, code) if draft else None) or publish.procedure_in(s, live, code)
    if found is None or live is None:
        raise LookupError(code)
    proc, sha = found
    if any(a.casefold() == phrase.casefold() for a in [proc.name, *proc.aliases]):
        return draft.id if draft else 0  # already said this way: nothing to change
    new = proc.model_copy(update={"aliases": [*proc.aliases, phrase]})
    return publish.save_procedure(actor, new, live, sha)
