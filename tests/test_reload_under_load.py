"""A new search index and a new Rasa model are taken into use on every instance under load, without
dropping a turn (issue 13).

scripts/prod_up.sh starts the production topology on free ports with its own copy of the search
index (``KB_DATA_DIR`` in a temporary folder), and 20 conversations run through nginx
(tests/prod_load.py). Then:

* **index**: a new index directory appears and ``current`` is switched to it atomically, as a
  publish in the admin app does; each action server's watcher (knowledge_base/live.py) loads it
  off the request path and logs "now serving index <new>" — both must, within a minute;
* **model**: scripts/prod_reload_model.sh takes each Rasa instance in turn out of nginx's
  rotation, waits until no turn is in flight there, sends ``PUT /model`` (Rasa's HTTP API,
  token-protected, reachable only on loopback, not through nginx) and puts it back; ``GET
  /status`` must then name the new model on every instance. (Without the drain, turns reaching
  an instance while ``PUT /model`` loads — which blocks its event loop for 20–100 s — time out:
  measured, see docs/deploy.md.)

No failed request, no conversation that lost its context. About 4 minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.prod_load import SteadyLoad, baseline, start_prod_for_load, stop_prod, suite, wait_turns
from tests.test_production import REPO, Prod


@pytest.fixture(scope="module")
def prod():
    kb = Path("/tmp") / f"tthc-reload-kb-{os.getpid()}"
    shutil.rmtree(kb, ignore_errors=True)
    kb.mkdir()
    live = (REPO / "models" / "kb" / "current").resolve()
    shutil.copytree(live, kb / live.name)
    (kb / "current").symlink_to(live.name)
    try:
        p = start_prod_for_load("tthc-reload-test-", env={"KB_DATA_DIR": str(kb), "KB_RELOAD_POLL_S": "0.5"})
        p.kb = kb  # type: ignore[attr-defined]
        try:
            yield p
        finally:
            stop_prod(p, "reload-logs")
    finally:
        shutil.rmtree(kb, ignore_errors=True)


def rasa_api(prod: Prod, port: int, method: str, path: str, body: dict | None = None, timeout: float = 300) -> tuple[int, bytes]:
    token = prod.secrets()["RASA_AUTH_TOKEN"]
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}?token={token}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read()


def switch_index(kb: Path) -> str:
    """A new index directory (a copy of the live one under a new name), then ``current`` moved to
    it in one rename, as knowledge_base/publish.py does."""
    old = (kb / "current").resolve()
    new = kb / f"{old.name}-reloaded"
    shutil.copytree(old, new)
    tmp = kb / "current.tmp"
    tmp.symlink_to(new.name)
    os.replace(tmp, kb / "current")
    return new.name


def test_new_index_and_new_model_under_load_drop_no_turn(prod: Prod):
    convs = baseline(prod.url, suite())
    assert len(convs) >= 10, "too few conversations pass without reloads to make a load"
    load = SteadyLoad(prod.url, convs, n=20, pause_s=0.5).start()
    try:
        wait_turns(load, 60)
        print(f"\nsteady load: {load.report.summary()}")

        # 1. a new search index, picked up by every action server in the background
        name = switch_index(prod.kb)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 90
        logs = [prod.dir / "logs" / f"actions{i + 1}.log" for i in range(len(prod.ports["actions"]))]
        while time.monotonic() < deadline and not all(f"now serving index {name}" in log.read_text() for log in logs):
            time.sleep(0.5)
        serving = {log.stem: f"now serving index {name}" in log.read_text() for log in logs}
        print(f"index {name}: {serving}")
        assert all(serving.values()), serving
        wait_turns(load, 60)

        # 2. a new model, instance by instance: drained at nginx, PUT /model, back in rotation
        model = prod.dir / "models" / f"reloaded-{int(time.time())}.tar.gz"
        model.parent.mkdir()
        shutil.copyfile(REPO / "models" / "rasa" / "latest.tar.gz", model)
        t0 = time.monotonic()
        proc = subprocess.run(["bash", "scripts/prod_reload_model.sh", str(model)], cwd=REPO, env=prod.env,
                              capture_output=True, text=True, timeout=1200)
        print(proc.stdout + proc.stderr[-2000:])
        assert proc.returncode == 0, proc.stderr[-2000:]
        print(f"model reloaded on every instance in {time.monotonic() - t0:.0f}s under load")
        for port in prod.ports["rasa"]:
            _, body = rasa_api(prod, port, "GET", "/status")
            assert Path(json.loads(body)["model_file"]).name == model.name, body
        # both instances answer turns again
        mark = len(prod.access_lines("/webhooks/rest/webhook"))
        wait_turns(load, 40)
        after = {ln.rsplit("upstream=", 1)[1].split(", ")[-1] for ln in prod.access_lines("/webhooks/rest/webhook")[mark:]}
        assert after >= {f"127.0.0.1:{p}" for p in prod.ports["rasa"]}, after
    finally:
        report = load.stop()
    print(f"after the reloads: {report.summary()}")
    print(f"FAILED REQUESTS: {report.failed} {dict(report.failures)}")
    print(f"CONVERSATIONS THAT LOST THEIR CONTEXT: {report.lost_context} {report.lost[:5]}")
    assert report.turns >= 200, report.summary()
    assert report.failed == 0, dict(report.failures)
    assert report.lost_context == 0, report.lost[:10]
