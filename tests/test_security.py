"""Secure defaults, checked from outside against the real servers as `make run` starts them.

* The action server listens on loopback and refuses calls without the shared secret;
  the Rasa server, which has the secret, still gets its answers.
* The Rasa HTTP API (trackers: every citizen's conversation) needs the auth token.
* Oversized bodies are refused by both servers.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers import Servers

TOKEN = "api-test-token"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    s = Servers(tmp_path_factory.mktemp("security"), rasa_args=["--enable-api", "--auth-token", TOKEN]).start()
    yield s
    s.stop()


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def non_loopback_address() -> str | None:
    """An address of this machine other than 127.0.0.1, to show the action server is not on it."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return next((a for a in out if not a.startswith("127.") and ":" not in a), None)


def test_action_server_refuses_calls_without_the_secret(servers: Servers):
    url = f"http://127.0.0.1:{servers.actions_port}/webhook"
    call = json.dumps({"next_action": "action_answer", "tracker": {"sender_id": "x", "slots": {}, "events": [],
                                                                   "latest_message": {"text": "làm căn cước"}},
                       "domain": {}}).encode()
    assert http("POST", url, call)[0] == 401
    assert http("POST", url + "?token=wrong", call)[0] == 401
    # the Rasa server has the secret: a citizen's turn still gets an answer from the action server
    replies = servers.say("sec-1", "làm căn cước cần giấy tờ gì")
    assert replies[0]["custom"]["procedure_code"], replies


def test_action_server_listens_on_loopback_only(servers: Servers):
    address = non_loopback_address()
    if address is None:
        pytest.fail("this machine has no non-loopback IPv4 address to check against (hostname -I)")
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((address, servers.actions_port)) != 0, f"action server reachable on {address}"


def test_action_server_refuses_huge_bodies(servers: Servers):
    url = f"http://127.0.0.1:{servers.actions_port}/webhook?token={servers.env['ACTION_SERVER_TOKEN']}"
    assert http("POST", url, b"x" * 2_000_000)[0] == 413


def test_tracker_api_needs_the_token(servers: Servers):
    servers.say("sec-2", "đăng ký kết hôn cần gì")
    tracker = f"{servers.url}/conversations/sec-2/tracker"
    status, _ = http("GET", tracker)
    assert status in (401, 403), status
    status, body = http("GET", f"{tracker}?token={TOKEN}")
    assert status == 200 and json.loads(body)["latest_message"]["text"] == "đăng ký kết hôn cần gì"
    # replacing the model is refused too
    assert http("PUT", f"{servers.url}/model", b'{"model_file": "/tmp/x.tar.gz"}')[0] in (401, 403)


def test_rasa_refuses_huge_webhook_bodies(servers: Servers):
    status, _ = servers.post(json.dumps({"sender": "sec-3", "message": "a" * 200_000}).encode() * 10)
    assert status in (400, 413), status


def test_endpoints_yml_reads_the_secret_from_the_environment():
    """`make run` uses bot/endpoints.yml: Rasa must expand the secret and the port there (not in quoted values)."""
    repo = Path(__file__).resolve().parent.parent
    code = ("from rasa.utils.endpoints import read_endpoint_config as r; "
            "c = r('bot/endpoints.yml', 'action_endpoint'); print(c.url); print(c.token)")
    out = subprocess.run([str(repo / ".venv-rasa/bin/python"), "-c", code], cwd=repo, capture_output=True, text=True,
                         env={"ACTION_SERVER_TOKEN": "from-the-environment", "ACTIONS_PORT": "5999",
                              "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.stdout.strip().splitlines()[-2:] == ["http://127.0.0.1:5999/webhook", "from-the-environment"], out.stderr[-2000:]
