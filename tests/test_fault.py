"""Fault test under load (issue 13): the production topology keeps every conversation while its
processes die.

scripts/prod_up.sh starts PostgreSQL, Redis, nginx, two Rasa servers and two action servers on free
ports. 20 conversations run through nginx at once (tests/prod_load.py: a procedure question, then
follow-ups that are right only if the conversation still knows its procedure). Meanwhile: one Rasa
instance is killed (SIGKILL, turns in flight on it included), then one action server, then
scripts/prod_up.sh is run again, which restarts exactly the dead ones, and the load goes on until
both restarted processes have answered turns.

The test prints the count of failed requests (non-2xx, error, empty reply) and of conversations
that lost their context; both must be 0. What makes it pass: nginx retries a turn cut off by a dying
instance on the other one (``non_idempotent`` in docker/nginx.conf.template) and never marks the
last live instance down (``max_fails=0``), the lock ticket of the dead turn expires after
TICKET_LOCK_LIFETIME (docker/entrypoints/rasa.sh) and the resent turn then gets the lock
(docker/entrypoints/rasa_serve.py fixes Rasa's ticket lock, which could make it wait forever), and
every Rasa instance reads the conversation from PostgreSQL. About 4–7 minutes on 2 cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.prod_load import SteadyLoad, baseline, start_prod_for_load, stop_prod, suite, wait_turns
from tests.test_production import REPO, Prod


@pytest.fixture(scope="module")
def prod():
    p = start_prod_for_load("tthc-fault-test-")
    try:
        yield p
    finally:
        stop_prod(p, "fault-logs")


def upstream_counts(prod: Prod, since: int) -> dict[str, int]:
    """How many REST turns each Rasa instance answered after access-log line ``since``."""
    counts: dict[str, int] = {}
    for line in prod.access_lines("/webhooks/rest/webhook")[since:]:
        last = line.rsplit("upstream=", 1)[1].split(", ")[-1]
        counts[last] = counts.get(last, 0) + 1
    return counts


def action_calls(prod: Prod, port: int) -> int:
    """Action calls the action server on ``port`` has answered, from nginx's access log."""
    log = (prod.dir / "logs" / "nginx-access.log").read_text()
    return sum(1 for ln in log.splitlines() if ' /webhook"' in ln and ln.endswith(f"127.0.0.1:{port}"))


def test_killing_a_rasa_and_an_action_server_under_load_loses_nothing(prod: Prod):
    convs = baseline(prod.url, suite())
    print(f"\n{len(convs)} conversations of the suite answered right before the faults")
    assert len(convs) >= 10, "too few conversations pass without faults to make a load"
    load = SteadyLoad(prod.url, convs, n=20, pause_s=0.5).start()
    try:
        wait_turns(load, 60)
        rasa1, actions1 = prod.pid("rasa1"), prod.pid("actions1")
        print(f"steady load: {load.report.summary()}")

        os.kill(rasa1, signal.SIGKILL)
        print("killed rasa1 (SIGKILL)")
        wait_turns(load, 60)
        os.kill(actions1, signal.SIGKILL)
        print("killed actions1 (SIGKILL)")
        wait_turns(load, 60)

        mark = len(prod.access_lines("/webhooks/rest/webhook"))
        calls_before = action_calls(prod, prod.ports["actions"][0])
        t0 = time.monotonic()
        proc = subprocess.run(["bash", "scripts/prod_up.sh"], cwd=REPO, env=prod.env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert prod.pid("rasa1") != rasa1 and prod.pid("actions1") != actions1, "prod_up.sh restarts the dead ones"
        print(f"restarted rasa1 and actions1 in {time.monotonic() - t0:.0f}s under load")
        # both restarted processes take their share again
        deadline = time.monotonic() + 180
        rasa1_addr = f"127.0.0.1:{prod.ports['rasa'][0]}"
        while time.monotonic() < deadline and (
                upstream_counts(prod, mark).get(rasa1_addr, 0) < 10
                or action_calls(prod, prod.ports["actions"][0]) - calls_before < 10):
            time.sleep(1)
        wait_turns(load, 40)
    finally:
        report = load.stop()
    print(f"after the faults: {report.summary()}")
    print(f"FAILED REQUESTS: {report.failed} {dict(report.failures)}")
    print(f"CONVERSATIONS THAT LOST THEIR CONTEXT: {report.lost_context} {report.lost[:5]}")
    answered = upstream_counts(prod, mark)
    print(f"turns per Rasa instance after the restart: {answered}")
    assert answered.get(rasa1_addr, 0) >= 10, "the restarted Rasa instance answers turns again"
    assert action_calls(prod, prod.ports["actions"][0]) - calls_before >= 10, "the restarted action server answers"
    assert report.turns >= 300, report.summary()
    assert report.failed == 0, dict(report.failures)
    assert report.lost_context == 0, report.lost[:10]
