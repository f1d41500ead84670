"""Hand-off honesty: the bot says it transfers only when a desk is configured and staffed."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from actions.settings import Settings


@pytest.fixture
def desk():
    state = {"agents_on_duty": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            body = json.dumps(state).encode() if self.path == "/status" else b"{}"
            self.send_response(200 if self.path == "/status" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            state.setdefault("calls", []).append((self.path, self.headers.get("Authorization"), body))
            accepted = self.path == "/handoff" and state["agents_on_duty"] > 0
            out = json.dumps({"accepted": accepted, "ticket": 7 if accepted else None, "wait_s": 60}).encode()
            self.send_response(200 if self.path == "/handoff" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


def test_no_desk_configured_means_nobody_on_duty():
    assert Settings(agent_desk_url="").desk_on_duty() is False


def test_desk_on_duty_only_when_it_says_so(desk):
    url, state = desk
    assert Settings(agent_desk_url=url).desk_on_duty() is False
    state["agents_on_duty"] = 2
    assert Settings(agent_desk_url=url).desk_on_duty() is True


def test_unreachable_desk_is_not_on_duty():
    assert Settings(agent_desk_url="http://127.0.0.1:9").desk_on_duty() is False


def test_handoff_hook_is_called_with_the_secret_and_accepted_only_when_staffed(desk):
    url, state = desk
    settings = Settings(agent_desk_url=url, desk_secret="s3cret")
    assert settings.desk_handoff("abc", "socketio") is None  # nobody on duty: no ticket, no promise
    state["agents_on_duty"] = 1
    assert settings.desk_handoff("abc", "socketio") == {"accepted": True, "ticket": 7, "wait_s": 60}
    path, auth, body = state["calls"][-1]
    assert (path, auth, body) == ("/handoff", "Bearer s3cret", {"sender_id": "abc", "channel": "socketio"})


def test_no_or_unreachable_desk_takes_no_handoff():
    assert Settings(agent_desk_url="").desk_handoff("abc", "rest") is None
    assert Settings(agent_desk_url="http://127.0.0.1:9").desk_handoff("abc", "rest") is None
