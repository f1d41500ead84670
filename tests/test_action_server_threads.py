"""The action server runs synchronous actions off its event loop (actions/server.py, issue 13).

rasa-sdk calls a synchronous ``run`` inline, so a slow turn (a search) held up every other
request on the same server. A real ``python -m actions.server`` is started with a package whose
one action sleeps for 2 s; while that call runs, a second call of a fast action and the health
probe must come back at once. The same server with ``ACTIONS_THREADS=0`` (rasa-sdk's inline
behaviour) must make them wait — so the check can fail, and shows what the pool changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.servers import REPO, free_port, wait_http

SLOW_S = 2.0
SLOW_ACTIONS = f'''
import time
from rasa_sdk import Action


class ActionSlow(Action):
    def name(self):
        return "action_slow"

    def run(self, dispatcher, tracker, domain):
        time.sleep({SLOW_S})  # a search that takes long, holding the GIL or not
        dispatcher.utter_message(text="chậm")
        return []


class ActionFast(Action):
    def name(self):
        return "action_fast"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="nhanh")
        return []
'''


def _call(port: int, action: str, token: str) -> tuple[float, dict]:
    body = {"next_action": action, "sender_id": action, "version": "3.6.21",
            "tracker": {"sender_id": action, "slots": {}, "latest_message": {}, "events": [], "paused": False,
                        "followup_action": None, "active_loop": {}, "latest_action_name": None},
            "domain": {"version": "3.1", "intents": [], "entities": [], "slots": {}, "responses": {},
                       "actions": ["action_slow", "action_fast"], "forms": {}}}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhook?token={token}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = json.loads(resp.read())
    return time.perf_counter() - t0, data


def _health(port: int) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as resp:
        assert resp.status == 200
    return time.perf_counter() - t0


def _while_slow_runs(tmp_path: Path, threads: str) -> tuple[float, float, dict]:
    """Start a server, fire the slow action, then time a fast action and /health meanwhile."""
    pkg = tmp_path / "slowpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "slow.py").write_text(SLOW_ACTIONS)
    port, token = free_port(), "tok-threads"
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}:{REPO}", ACTION_SERVER_TOKEN=token, ACTIONS_THREADS=threads)
    log = tmp_path / f"actions-{threads}.log"
    proc = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(port), "--package", "slowpkg"],
                            cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, 60, log)
        slow: dict = {}
        runner = threading.Thread(target=lambda: slow.update(zip(("s", "body"), _call(port, "action_slow", token), strict=True)))
        runner.start()
        time.sleep(0.3)  # the slow action is running now
        fast_s, fast_body = _call(port, "action_fast", token)
        health_s = _health(port)
        runner.join(timeout=30)
        assert slow["body"]["responses"][0]["text"] == "chậm", slow
        assert fast_body["responses"][0]["text"] == "nhanh", fast_body
        return fast_s, health_s, slow
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_slow_action_does_not_block_other_requests(tmp_path: Path):
    fast_s, health_s, slow = _while_slow_runs(tmp_path, "4")
    print(f"pool: fast action {fast_s * 1000:.0f} ms, /health {health_s * 1000:.0f} ms while a {SLOW_S:.0f} s action runs")
    assert fast_s < 0.8, f"the fast action waited {fast_s:.2f}s for the slow one"
    assert health_s < 0.8, f"/health waited {health_s:.2f}s for the slow action"
    assert slow["s"] >= SLOW_S


@pytest.mark.parametrize("threads", ["0"])
def test_inline_actions_block_the_loop_which_is_what_the_pool_fixes(tmp_path: Path, threads: str):
    fast_s, _, _ = _while_slow_runs(tmp_path, threads)
    print(f"inline (rasa-sdk's default): fast action {fast_s * 1000:.0f} ms")
    assert fast_s > SLOW_S - 0.5, "inline, the fast action must wait for the slow one (else this test proves nothing)"
