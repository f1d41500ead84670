"""The analytics test stack: the real admin app and the real action and Rasa servers recording turns.

Why one stack: starting Rasa costs about a minute on two cores; the turns the tests send
are recorded once, through Rasa's event broker (bot/brokers/recording.py), into the
same fresh SQLite database the admin app reads, so every count is known exactly.
"""

from __future__ import annotations

import http.cookiejar
import re
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.admin.support import PASSWORD, AdminServer, kb_env, prepare_data_dir, seed
from tests.servers import Servers


class AnalyticsStack:
    """A seeded catalogue database (also the records database), the admin app and both bot servers."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.data = work / "kb"
        self.db_path = self.data / "catalogue.db"
        self.url = f"sqlite:///{self.db_path}"
        self.bot: Servers | None = None
        self.admin: AdminServer | None = None

    def start(self) -> AnalyticsStack:
        prepare_data_dir(self.data)
        self.env = kb_env(self.data, RECORDS_RETENTION_DAYS="90")
        seed(self.env)  # creates the schema (migrations 0001-0003) before Rasa starts, as scripts/run.sh does
        self.admin = AdminServer(self.env, self.work / "admin.log").start()
        self.bot = Servers(self.work, records_url=self.url).start()
        return self

    def stop(self) -> None:
        if self.bot is not None:
            self.bot.stop()
        if self.admin is not None:
            self.admin.stop()

    def rows(self, sql: str = "SELECT * FROM conversation_turn ORDER BY id", args: tuple = ()) -> list[sqlite3.Row]:
        con = sqlite3.connect(self.db_path, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def wait_turns(self, n: int, timeout: float = 30) -> list[sqlite3.Row]:
        """The recorded turns once there are ``n`` of them (the broker writes in the background)."""
        deadline = time.monotonic() + timeout
        rows: list[sqlite3.Row] = []
        while time.monotonic() < deadline:
            rows = self.rows()
            if len(rows) >= n:
                return rows
            time.sleep(0.3)
        raise AssertionError(f"{len(rows)} turns recorded, {n} expected; rasa log:\n{self.bot.rasa_log.read_text()[-3000:]}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - urllib's signature
        return None


class AdminClient:
    """A logged-in admin session without a browser: cookies and the session's CSRF token."""

    def __init__(self, admin_url: str, username: str, password: str = PASSWORD) -> None:
        self.url = admin_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        status, _, page = self.request("GET", "/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.decode()).group(1)
        status, headers, _ = self.request("POST", "/admin/login", {"username": username, "password": password,
                                                                   "csrf": token, "next": "/admin/analytics"})
        assert status == 302, status
        status, _, page = self.request("GET", "/admin/analytics")
        assert status == 200, status
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page.decode()).group(1)

    def request(self, method: str, path: str, fields: dict | list | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request, redirects not followed: (status, headers with lower-case names, body)."""
        body = urllib.parse.urlencode(fields, doseq=True).encode() if fields is not None else None
        req = urllib.request.Request(self.url + path, data=body, method=method)
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()

    def page(self, path: str) -> str:
        status, _, body = self.request("GET", path)
        assert status == 200, (status, body[:500])
        return body.decode("utf-8")
