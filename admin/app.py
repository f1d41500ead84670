"""The admin web app: log in, list and search, edit, upload, review, publish, roll back.

Server-rendered HTML (Sanic + Jinja2 with autoescaping), no JavaScript at
all: it works in any browser a province's staff have, and nothing is loaded
from a third-party host (a Content-Security-Policy forbids it).  Text from
the catalogue or an upload is always escaped, never rendered as HTML.  The one
exception to "no JavaScript" is the live-agent desk (admin/desk.py), whose pages
allow one self-hosted polling script through their own policy.

Every POST carries the session's CSRF token; every page checks the role.
Publishing and rolling back run in a background thread of this process (its
imports are warm, so a one-procedure publish takes seconds) and the job page
shows their progress, refreshing itself with a ``<meta>`` tag.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Request, Sanic, response
from sanic.exceptions import NotFound, PayloadTooLarge
from sqlalchemy import select

from admin import analytics, auth, desk, forms, upload
from knowledge_base import db, publish
from knowledge_base.priority import lower_for_background_work
from knowledge_base.schema import Procedure

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
COOKIE = "tthc_admin"
LOGIN_CSRF_COOKIE = "tthc_login_csrf"
PREFIX = "/admin"
PAGE_SIZE = 50
CSP = "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
env.globals.update(prefix=PREFIX, fee_kinds=forms.FEE_KIND_NAMES, units=forms.UNIT_CHOICES,
                   currencies=forms.CURRENCIES, encodings=upload.ENCODINGS, role_names=auth.ROLE_NAMES)


def cookie_secure() -> bool:
    """Secure cookies need HTTPS; loopback development runs plain HTTP (``ADMIN_COOKIE_SECURE=1`` behind TLS)."""
    return os.environ.get("ADMIN_COOKIE_SECURE", "0") == "1"


def render(template: str, status: int = 200, **ctx: Any) -> response.HTTPResponse:
    body = env.get_template(template).render(**ctx)
    resp = response.html(body, status=status)
    return resp


def client_of(request: Request) -> str:
    return request.ip or "?"


def user_of(request: Request) -> auth.CurrentUser | None:
    return auth.current_user(request.cookies.get(COOKIE))


def deny(request: Request, user: auth.CurrentUser, what: str) -> response.HTTPResponse:
    return render("error.html", status=403, user=user, title="Không có quyền",
                  message=f"Vai trò «{user.role_name}» không được phép {what}.")


def need(request: Request, permission: str, what: str) -> tuple[auth.CurrentUser | None, response.HTTPResponse | None]:
    """The logged-in user if allowed; else a redirect to log in or a 403 page."""
    user = user_of(request)
    if user is None:
        return None, response.redirect(f"{PREFIX}/login?next={quote(request.path)}")
    if not user.can(permission):
        return user, deny(request, user, what)
    return user, None


def csrf_ok(request: Request, user: auth.CurrentUser) -> bool:
    return auth.same_token(request.form.get("csrf") if request.form else None, user.csrf)


def csrf_failed(user: auth.CurrentUser | None) -> response.HTTPResponse:
    return render("error.html", status=403, user=user, title="Phiên biểu mẫu không hợp lệ",
                  message="Mã bảo vệ biểu mẫu (CSRF) không đúng hoặc đã hết hạn. Hãy tải lại trang rồi thử lại.")


def form_dict(request: Request) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in (request.form or {}).items()}


def create_app() -> Sanic:
    """The Sanic application (one per process)."""
    app = Sanic("tthc_admin")
    app.config.REQUEST_MAX_SIZE = upload.MAX_UPLOAD_MB * 1024 * 1024
    app.config.REQUEST_TIMEOUT = 120
    app.config.RESPONSE_TIMEOUT = 120
    app.config.KEEP_ALIVE_TIMEOUT = 5
    app.ctx.verify_cache = {}
    app.static(f"{PREFIX}/static", str(HERE / "static"), name="static")

    @app.before_server_start
    async def _prepare(app: Sanic) -> None:
        await asyncio.to_thread(publish.ensure_db, "system")
        threading.Thread(target=_warm_up, name="admin-warm-up", daemon=True).start()

    @app.on_response
    async def _headers(request: Request, resp: response.HTTPResponse) -> None:
        resp.headers.setdefault("Content-Security-Policy", CSP)  # the desk pages allow their own script
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers.setdefault("Cache-Control", "no-store")

    @app.exception(PayloadTooLarge)
    async def _too_large(request: Request, exc: Exception) -> response.HTTPResponse:
        return render("error.html", status=413, user=None, title="Tệp quá lớn",
                      message=f"Tệp tải lên vượt quá {upload.MAX_UPLOAD_MB} MB. Hãy nén gzip hoặc chia nhỏ tệp.")

    @app.exception(NotFound)
    async def _not_found(request: Request, exc: Exception) -> response.HTTPResponse:
        return render("error.html", status=404, user=user_of(request), title="Không tìm thấy", message="Trang không tồn tại.")

    desk.register(app)
    analytics.register(app)

    @app.get("/", name="root")
    @app.get(PREFIX, name="admin_root")
    async def root(request: Request) -> response.HTTPResponse:
        return response.redirect(f"{PREFIX}/procedures")

    @app.get("/health")
    async def health(request: Request) -> response.HTTPResponse:
        return response.json({"status": "ok"})

    # ------------------------------------------------------------------ log-in
    @app.get(f"{PREFIX}/login")
    async def login_form(request: Request) -> response.HTTPResponse:
        token = secrets.token_urlsafe(24)
        resp = render("login.html", csrf=token, next=request.args.get("next", ""), error=None, user=None)
        resp.add_cookie(LOGIN_CSRF_COOKIE, token, path=PREFIX, httponly=True, samesite="Strict", secure=cookie_secure())
        return resp

    @app.post(f"{PREFIX}/login")
    async def login_post(request: Request) -> response.HTTPResponse:
        f = form_dict(request)
        nxt = f.get("next") or f"{PREFIX}/procedures"
        if not nxt.startswith(PREFIX + "/"):
            nxt = f"{PREFIX}/procedures"
        if not auth.same_token(f.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
            return csrf_failed(None)
        try:
            token = await asyncio.to_thread(auth.login, f.get("username", ""), f.get("password", ""), client_of(request))
        except auth.RateLimited as exc:
            status, message = 429, str(exc)
        except auth.AuthError as exc:
            status, message = 401, str(exc)
        else:
            resp = response.redirect(nxt)
            resp.add_cookie(COOKIE, token, path=PREFIX, httponly=True, samesite="Strict", secure=cookie_secure(),
                            max_age=int(auth.SESSION_HOURS * 3600))
            resp.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
            return resp
        new = secrets.token_urlsafe(24)
        resp = render("login.html", status=status, csrf=new, next=nxt, error=message, user=None)
        resp.add_cookie(LOGIN_CSRF_COOKIE, new, path=PREFIX, httponly=True, samesite="Strict", secure=cookie_secure())
        return resp

    @app.post(f"{PREFIX}/logout")
    async def logout(request: Request) -> response.HTTPResponse:
        user = user_of(request)
        if user is not None and not csrf_ok(request, user):
            return csrf_failed(user)
        auth.logout(request.cookies.get(COOKIE))
        resp = response.redirect(f"{PREFIX}/login")
        resp.delete_cookie(COOKIE, path=PREFIX)
        return resp

    # ------------------------------------------------------------------ list and search
    @app.get(f"{PREFIX}/procedures")
    async def procedures(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "read", "xem danh mục")
        if refuse:
            return refuse
        q = (request.args.get("q") or "").strip()[:200]
        page = max(1, int(request.args.get("page", "1")) if request.args.get("page", "1").isdigit() else 1)
        with db.session() as s:
            live = publish.live_version_id(s)
            draft = publish.draft_of(s)
            draft_id = draft.id if draft else None
            changed = set()
            if draft_id is not None and live is not None:
                a = dict(s.execute(select(db.VersionItem.code, db.VersionItem.blob_sha).where(db.VersionItem.version_id == live)).all())
                b = dict(s.execute(select(db.VersionItem.code, db.VersionItem.blob_sha).where(db.VersionItem.version_id == draft_id)).all())
                changed = {c for c in set(a) | set(b) if a.get(c) != b.get(c)}
            rows: list[dict[str, Any]] = []
            total = 0
            if q:
                hits = await asyncio.to_thread(_search, q)
                rows = [{"code": h.code, "name": h.name, "score": f"{h.score:.3f}", "curated": h.procedure.curated} for h in hits]
                total = len(rows)
            else:
                items = s.execute(select(db.VersionItem.code, db.VersionItem.name, db.VersionItem.curated)
                                  .where(db.VersionItem.version_id == live).order_by(db.VersionItem.code)).all()
                total = len(items)
                rows = [{"code": c, "name": n, "score": None, "curated": cur}
                        for c, n, cur in items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
        for r in rows:
            r["changed"] = r["code"] in changed
        return render("list.html", user=user, q=q, rows=rows, total=total, page=page,
                      pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE), live=live, draft_id=draft_id, n_changed=len(changed))

    @app.get(f"{PREFIX}/procedures/<code>")
    async def procedure_view(request: Request, code: str) -> response.HTTPResponse:
        user, refuse = need(request, "read", "xem thủ tục")
        if refuse:
            return refuse
        with db.session() as s:
            live = publish.live_version_id(s)
            draft = publish.draft_of(s)
            live_p = publish.procedure_in(s, live, code) if live else None
            draft_p = publish.procedure_in(s, draft.id, code) if draft else None
        proc = (draft_p or live_p or (None, None))[0]
        if proc is None:
            raise NotFound("no such procedure")
        changes = publish.changed_fields(live_p[0] if live_p else None, draft_p[0]) if draft_p and (not live_p or draft_p[1] != live_p[1]) else []
        sections = [(publish.FIELD_LABELS[f], publish.field_lines(proc, f)) for f in
                    ("name", "aliases", "field", "agency", "where_to_submit", "channels", "documents", "steps", "conditions",
                     "result", "legal_basis", "source_url")]
        audit = publish.audit_log(code, 30)
        return render("procedure.html", user=user, proc=proc, sections=sections, changes=changes, audit=audit,
                      in_draft=draft_p is not None and bool(changes), live=live)

    # ------------------------------------------------------------------ edit
    def _edit_page(user: auth.CurrentUser, proc: Procedure, values: dict, base_live: int, orig_sha: str | None,
                   errors: list | None = None, warnings: list | None = None, status: int = 200) -> response.HTTPResponse:
        return render("edit.html", status=status, user=user, proc=proc, v=values, base_live=base_live, orig_sha=orig_sha or "",
                      errors=errors or [], warnings=warnings or [])

    @app.get(f"{PREFIX}/procedures/<code>/edit")
    async def edit_form(request: Request, code: str) -> response.HTTPResponse:
        user, refuse = need(request, "edit", "sửa thủ tục")
        if refuse:
            return refuse
        with db.session() as s:
            live = publish.live_version_id(s)
            draft = publish.draft_of(s)
            found = (publish.procedure_in(s, draft.id, code) if draft else None) or publish.procedure_in(s, live, code)
        if found is None or live is None:
            raise NotFound("no such procedure")
        proc, sha = found
        return _edit_page(user, proc, forms.values_from(proc), live, sha)

    @app.post(f"{PREFIX}/procedures/<code>/edit")
    async def edit_post(request: Request, code: str) -> response.HTTPResponse:
        user, refuse = need(request, "edit", "sửa thủ tục")
        if refuse:
            return refuse
        assert user is not None
        if not csrf_ok(request, user):
            return csrf_failed(user)
        f = form_dict(request)
        base_live = int(f.get("base_live", "0") or 0) if (f.get("base_live") or "").isdigit() else 0
        orig_sha = f.get("orig_sha") or None
        with db.session() as s:
            live = publish.live_version_id(s)
            draft = publish.draft_of(s)
            found = (publish.procedure_in(s, draft.id, code) if draft else None) or publish.procedure_in(s, live, code)
        if found is None:
            raise NotFound("no such procedure")
        original = found[0]
        try:
            proc = forms.procedure_from_form(f, original)
        except forms.FormError as exc:
            return _edit_page(user, original, forms.values_from_form(f), base_live, orig_sha, exc.errors, status=400)
        try:
            await asyncio.to_thread(publish.save_procedure, user.username, proc, base_live, orig_sha)
        except publish.StaleFormError as exc:
            return _edit_page(user, original, forms.values_from_form(f), base_live, orig_sha, [("Biểu mẫu cũ", str(exc))],
                              status=409)
        problems = publish.validate_procedure(proc)
        if problems:
            with db.session() as s:
                d = publish.draft_of(s)
                sha = publish.procedure_in(s, d.id, code)[1] if d else None
                live = publish.live_version_id(s)
            return _edit_page(user, proc, forms.values_from(proc), live or base_live, sha,
                              warnings=[p.format() for p in problems])
        return response.redirect(f"{PREFIX}/procedures/{quote(code)}?saved=1")

    # ------------------------------------------------------------------ draft review and publish
    @app.get(f"{PREFIX}/draft")
    async def draft_view(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "read", "xem bản nháp")
        if refuse:
            return refuse
        draft_id, live, changes = await asyncio.to_thread(publish.draft_changes)
        checked = None
        if draft_id is not None:
            with db.session() as s:
                new = publish.version_procedures(s, draft_id)
                old = publish.version_procedures(s, live) if live else {}
            checked = publish.validate({c: new[c] for c in {ch.code for ch in changes} if c in new}, old)
        return render("draft.html", user=user, draft_id=draft_id, live=live, changes=changes[:300], n_changes=len(changes),
                      checked=checked, job=_running_job())

    @app.post(f"{PREFIX}/draft/publish")
    async def draft_publish(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "publish", "xuất bản")
        if refuse:
            return refuse
        assert user is not None
        if not csrf_ok(request, user):
            return csrf_failed(user)
        f = form_dict(request)
        expected = int(f["draft"]) if f.get("draft", "").isdigit() else None
        running = _running_job()
        if running is not None:
            return response.redirect(f"{PREFIX}/jobs/{running.id}")
        with db.session() as s:
            d = publish.draft_of(s)
        if d is None or d.id != expected:
            return render("error.html", status=409, user=user, title="Bản nháp đã thay đổi",
                          message="Bản nháp Anh/Chị xem đã thay đổi hoặc không còn. Hãy xem lại trước khi xuất bản.")
        job = publish.start_job("publish", d.id, user.username)
        threading.Thread(target=_run_job, args=(publish.publish, user.username), kwargs={"expected_draft": expected, "job_id": job},
                         name=f"publish-{job}", daemon=True).start()
        return response.redirect(f"{PREFIX}/jobs/{job}")

    @app.post(f"{PREFIX}/draft/discard")
    async def draft_discard(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "edit", "hủy bản nháp")
        if refuse:
            return refuse
        assert user is not None
        if not csrf_ok(request, user):
            return csrf_failed(user)
        publish.discard_draft(user.username)
        return response.redirect(f"{PREFIX}/draft")

    @app.get(f"{PREFIX}/jobs/<job_id:int>")
    async def job_view(request: Request, job_id: int) -> response.HTTPResponse:
        user, refuse = need(request, "read", "xem tiến độ")
        if refuse:
            return refuse
        with db.session() as s:
            job = s.get(db.Job, job_id)
        if job is None:
            raise NotFound("no such job")
        return render("job.html", user=user, job=job)

    # ------------------------------------------------------------------ history and rollback
    @app.get(f"{PREFIX}/history")
    async def history_view(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "read", "xem lịch sử")
        if refuse:
            return refuse
        return render("history.html", user=user, versions=publish.history(), job=_running_job())

    @app.post(f"{PREFIX}/versions/<version_id:int>/rollback")
    async def rollback_post(request: Request, version_id: int) -> response.HTTPResponse:
        user, refuse = need(request, "publish", "quay lui phiên bản")
        if refuse:
            return refuse
        assert user is not None
        if not csrf_ok(request, user):
            return csrf_failed(user)
        running = _running_job()
        if running is not None:
            return response.redirect(f"{PREFIX}/jobs/{running.id}")
        job = publish.start_job("rollback", version_id, user.username)
        threading.Thread(target=_run_job, args=(publish.rollback, user.username, version_id), kwargs={"job_id": job},
                         name=f"rollback-{job}", daemon=True).start()
        return response.redirect(f"{PREFIX}/jobs/{job}")

    @app.get(f"{PREFIX}/audit")
    async def audit_view(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "read", "xem nhật ký")
        if refuse:
            return refuse
        code = (request.args.get("code") or "").strip()[:16] or None
        return render("audit.html", user=user, rows=publish.audit_log(code, 300), code=code or "")

    # ------------------------------------------------------------------ upload
    @app.get(f"{PREFIX}/upload")
    async def upload_form(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "edit", "tải lên tệp danh mục")
        if refuse:
            return refuse
        return render("upload.html", user=user, report=None, error=None, notes=[], written=None)

    @app.post(f"{PREFIX}/upload")
    async def upload_post(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "edit", "tải lên tệp danh mục")
        if refuse:
            return refuse
        assert user is not None
        if not csrf_ok(request, user):
            return csrf_failed(user)
        file = request.files.get("file") if request.files else None
        f = form_dict(request)
        if file is None or not file.body:
            return render("upload.html", status=400, user=user, report=None, error="Chưa chọn tệp (hoặc tệp trống).",
                          notes=[], written=None)
        try:
            report, notes = await asyncio.to_thread(upload.check, file.body, file.name or "upload.jsonl", f.get("encoding", "auto"))
        except upload.UploadError as exc:
            return render("upload.html", status=400, user=user, report=None, error=str(exc), notes=[], written=None)
        written = None
        if report.ok and f.get("write") == "1":
            written = await asyncio.to_thread(publish.import_into_draft, user.username, report.procedures,
                                              f"{report.source} (sha256 {(report.source_sha256 or '')[:12]})")
        return render("upload.html", status=200 if report.ok else 400, user=user, report=report, error=None, notes=notes,
                      written=written, report_text=report.format(
                          max_examples=30, written_to=f"bản nháp #{written[0]}" if written else None))

    # ------------------------------------------------------------------ verify
    @app.get(f"{PREFIX}/verify")
    async def verify_view(request: Request) -> response.HTTPResponse:
        user, refuse = need(request, "read", "xem đối chiếu")
        if refuse:
            return refuse
        result, error = await asyncio.to_thread(_verify, app.ctx.verify_cache)
        return render("verify.html", user=user, result=result, error=error)

    return app


def _search(q: str) -> list:
    """The bot's own search (``knowledge_base.retrieval``) over the live index."""
    from knowledge_base.retrieval import default_searcher

    return default_searcher().search(q, k=20)


def _running_job() -> db.Job | None:
    with db.session() as s:
        return s.scalars(select(db.Job).where(db.Job.status == "running").order_by(db.Job.id.desc())).first()


def _run_job(fn, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003 - publish/rollback and their arguments
    lower_for_background_work()  # this job's thread only: the app's pages keep their priority
    try:
        fn(*args, **kwargs)
    except publish.PublishError as exc:
        if exc.problems:
            with db.session() as s:
                job = s.get(db.Job, kwargs.get("job_id"))
                if job is not None:
                    job.message = str(exc) + "\n" + "\n".join(p.format() for p in exc.problems[:200])
    except Exception:
        logger.exception("background job failed")


def _verify(cache: dict) -> tuple[Any, str | None]:
    """Differences between the live curated procedures and the portal file (cached per file change)."""
    from knowledge_base import verify as kb_verify

    path = kb_verify.default_portal_path()
    try:
        stamp = (str(path), path.stat().st_mtime)
    except OSError:
        return None, f"Không có tệp dữ liệu Cổng DVC để đối chiếu: {path} (đặt TTHC_SAMPLE)."
    if cache.get("stamp") != stamp:
        try:
            cache["portal"] = kb_verify.load_portal(path)
        except kb_verify.PortalFileError as exc:
            return None, str(exc)
        cache["stamp"] = stamp
    live = publish.live_catalogue()
    curated = [p for p in (live[1] if live else []) if p.curated]
    return kb_verify.verify(curated, cache["portal"], dt.date.today(), str(path)), None


def _warm_up() -> None:
    """Import the heavy modules and the live index once, so the first publish and search are fast."""
    t0 = time.perf_counter()
    try:
        from knowledge_base.features import word_tokens

        word_tokens("đăng ký khai sinh")
        import faiss  # noqa: F401
        import sentence_transformers  # noqa: F401

        from knowledge_base.retrieval import default_searcher

        default_searcher()
    except Exception:
        logger.exception("warm-up failed (search stays available once an index is built)")
    logger.info("admin warm-up done in %.1fs", time.perf_counter() - t0)
