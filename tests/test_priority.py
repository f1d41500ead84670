"""Builds run below citizens' turns: the building thread is lowered, its neighbours are not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, os, threading
from knowledge_base.priority import lower_for_background_work
out = {}
def job():
    out["returned"] = lower_for_background_work()
    out["job"] = os.getpriority(os.PRIO_PROCESS, 0)
    pid = os.fork()  # a worker forked by the job inherits its priority
    if pid == 0:
        os._exit(os.getpriority(os.PRIO_PROCESS, 0))
    out["worker"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
t = threading.Thread(target=job); t.start(); t.join()
out["main"] = os.getpriority(os.PRIO_PROCESS, 0)
print(json.dumps(out))
"""


def probe(**env: str) -> dict[str, int]:
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO), **env}, check=True)
    return json.loads(run.stdout)


def test_the_build_thread_and_its_workers_are_lowered_not_the_process():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    got = probe(KB_BUILD_NICE="7")
    expected = min(19, base + 7)
    assert got == {"returned": expected, "job": expected, "worker": expected, "main": base}


def test_zero_or_nonsense_leaves_the_priority():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    for value in ("0", "abc"):
        got = probe(KB_BUILD_NICE=value)
        assert got["job"] == base and got["worker"] == base
