"""The live-agent desk's test stack: the real admin app, the real action and Rasa servers, the Zalo fake.

Why one stack for all the desk's flows: starting Rasa costs about a minute on two cores, and
the flows (widget, Zalo, REST, timeout, nobody on duty) are what one desk sees in a day.
Also used by benchmarks/desk_latency.py.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from tests.admin.support import PASSWORD, AdminServer, kb_env, prepare_data_dir, run, seed
from tests.servers import Servers
from tests.zalo_fake import FakeZalo

REPO = Path(__file__).resolve().parents[2]
OPERATOR = "trucban"
RASA_TOKEN = "desk-test-rasa-token"
ZALO_APP_ID = "1234567890123456789"
ZALO_OA_SECRET = "oa-secret-for-desk-tests"


class DeskStack:
    """Admin app (with the desk) + action server + Rasa server (REST, widget, Zalo) + fake Zalo."""

    def __init__(self, work: Path, wait_s: float = 15) -> None:
        self.work = work
        self.wait_s = wait_s
        self.secret = secrets.token_urlsafe(16)
        self.fake = FakeZalo(app_id=ZALO_APP_ID)
        self.bot: Servers | None = None
        self.admin: AdminServer | None = None

    def start(self) -> DeskStack:
        data = prepare_data_dir(self.work / "kb")
        self.fake.start()
        self.bot = Servers(self.work, rasa_args=["--enable-api", "--auth-token", RASA_TOKEN])
        env = kb_env(data, DESK_SECRET=self.secret, RASA_URL=self.bot.url, RASA_AUTH_TOKEN=RASA_TOKEN,
                     DESK_WAIT_S=str(self.wait_s), DESK_SWEEP_S="0.5", DESK_PRESENCE_S="30", HOTLINE="1022")
        seed(env)
        res = run(["-m", "admin", "create-admin", OPERATOR, "--role", "operator", "--password-stdin"], env,
                  stdin=PASSWORD + "\n")
        assert res.returncode == 0, res.stdout + res.stderr
        self.admin = AdminServer(env, self.work / "admin.log").start()
        self.bot.extra_env = {
            "AGENT_DESK_URL": f"{self.admin.url}/admin/desk/api", "DESK_SECRET": self.secret, "HANDOFF_PAUSE": "1",
            "ZALO_APP_ID": ZALO_APP_ID, "ZALO_APP_SECRET": self.fake.app_secret, "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET,
            "ZALO_ACCESS_TOKEN": self.fake.access_token, "ZALO_REFRESH_TOKEN": self.fake.refresh_token,
            "ZALO_TOKEN_FILE": str(self.work / "zalo_token.json"), "ZALO_API_BASE": self.fake.url,
            "ZALO_OAUTH_BASE": self.fake.url, "ZALO_TIMESTAMP_WINDOW_S": "300",
        }
        self.bot.start()
        return self

    def stop(self) -> None:
        if self.bot is not None:
            self.bot.stop()
        if self.admin is not None:
            self.admin.stop()
        self.fake.stop()

    def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker from Rasa's HTTP API (what the test checks: paused or not)."""
        url = f"{self.bot.url}/conversations/{urllib.parse.quote(sender, safe=':@+')}/tracker?token={RASA_TOKEN}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         opener: urllib.request.OpenerDirector | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request without following redirects: (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
            return None

    op = opener or urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with op.open(req, timeout=15) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class OperatorClient:
    """An operator's log-in session without a browser (cookies, CSRF token): for the benchmark."""

    def __init__(self, admin_url: str, username: str = OPERATOR, password: str = PASSWORD) -> None:
        self.url = admin_url
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.opener.open(f"{admin_url}/admin/login", timeout=15).read().decode()
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password, "csrf": token, "next": "/admin/desk"})
        page = self.opener.open(f"{admin_url}/admin/login", data=form.encode(), timeout=15).read().decode()
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def post(self, path: str, **fields: str) -> dict[str, Any]:
        body = urllib.parse.urlencode({"csrf": self.csrf, **fields}).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=body, headers={"X-Requested-With": "desk"})
        with self.opener.open(req, timeout=15) as resp:
            return json.loads(resp.read())

    def get_json(self, path: str) -> dict[str, Any]:
        with self.opener.open(f"{self.url}{path}", timeout=15) as resp:
            return json.loads(resp.read())

    def duty(self, on: bool) -> None:
        body = urllib.parse.urlencode({"csrf": self.csrf, "on": "1" if on else "0"}).encode()
        self.opener.open(f"{self.url}/admin/desk/duty", data=body, timeout=15).read()
