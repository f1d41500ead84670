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
