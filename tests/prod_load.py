"""A steady load of concurrent conversations against the production topology, for the fault and
reload tests (tests/test_fault.py, tests/test_reload_under_load.py).

Each of ``n`` virtual citizens replays a ``follow_up`` conversation of the suite
(benchmarks/load/scenarios.py) through nginx, one turn after the other with a short pause, with
a fresh sender id per conversation, over and over. A turn **fails** when the answer is not a 2xx
with at least one non-empty message, or the request errors or times out; a conversation **lost its
context** when a follow-up answered 2xx but cites another procedure than the conversation's (or
none). Only conversations that pass once before the faults are replayed (``baseline``), so a
resolver mistake can never be mistaken for a lost conversation.

The load runs on its own thread and event loop (aiohttp), so the test's thread can kill and
restart processes meanwhile.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from benchmarks.load.scenarios import Conversation, answered_right, cited_code, follow_up_conversations
from tests.test_production import REPO, Prod


@dataclass
class LoadReport:
    turns: int = 0
    failed: int = 0
    lost_context: int = 0
    failures: Counter = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else 0.0

    def summary(self) -> str:
        return (f"turns {self.turns}, failed requests {self.failed}, conversations that lost their context "
                f"{self.lost_context}, p50 {self.percentile(0.5):.0f} ms, p95 {self.percentile(0.95):.0f} ms, "
                f"max {self.percentile(1.0):.0f} ms")


class SteadyLoad:
    """``n`` conversations in parallel until ``stop()``; counts in ``report``."""

    def __init__(self, url: str, conversations: list[Conversation], n: int = 20, pause_s: float = 0.5,
                 timeout_s: float = 120) -> None:
        self.url = url + "/webhooks/rest/webhook"
        self.conversations = conversations
        self.n, self.pause_s, self.timeout_s = n, pause_s, timeout_s
        self.report = LoadReport()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> SteadyLoad:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="steady-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> LoadReport:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=self.timeout_s + 30)
        return self.report

    def turns_so_far(self) -> int:
        return self.report.turns

    async def _main(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        conn = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(timeout=timeout, connector=conn) as session:
            await asyncio.gather(*(self._citizen(session, i) for i in range(self.n)))

    async def _citizen(self, session: aiohttp.ClientSession, i: int) -> None:
        k = 0
        while not self._stop.is_set():
            conv = self.conversations[(i + k) % len(self.conversations)]
            sender = f"load-{i}-{k}-{time.monotonic_ns() % 10**9}"
            k += 1
            for j, turn in enumerate(conv.turns):
                ok, code = await self.say(session, sender, turn.text)
                if ok and code != turn.code:
                    with self._lock:
                        note = f"{conv.id}#{j} {turn.text!r}: cited {code}, expected {turn.code}"
                        if j == 0:  # nothing to remember yet: a wrong answer, not a lost context
                            self.report.failed += 1
                            self.report.failures["wrong procedure on the first turn"] += 1
                        else:
                            self.report.lost_context += 1
                        self.report.lost.append(note)
                await asyncio.sleep(self.pause_s)  # after a failure too: a citizen does not hammer
                if not ok or code != turn.code:
                    break  # a broken conversation is not continued: its next turns would count twice

    async def say(self, session: aiohttp.ClientSession, sender: str, text: str) -> tuple[bool, str | None]:
        t0 = time.perf_counter()
        reason = None
        code = None
        try:
            async with session.post(self.url, json={"sender": sender, "message": text}) as resp:
                if resp.status // 100 != 2:
                    reason = f"HTTP {resp.status}"
                else:
                    messages = await resp.json()
                    if not messages or not any((m.get("text") or "").strip() for m in messages):
                        reason = "empty reply"
                    else:
                        code = cited_code(messages)
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = type(exc).__name__
        with self._lock:
            self.report.turns += 1
            self.report.latencies.append(time.perf_counter() - t0)
            if reason:
                self.report.failed += 1
                self.report.failures[reason] += 1
        return reason is None, code


def baseline(url: str, conversations: list[Conversation]) -> list[Conversation]:
    """The conversations the bot answers right without any fault (one pass, sequential)."""
    return answered_right(url + "/webhooks/rest/webhook", conversations)


def start_prod_for_load(prefix: str, env: dict[str, str] | None = None) -> Prod:
    """The topology of tests/test_production.py on free ports, with nginx's per-address rate
    limit raised (every simulated citizen comes from 127.0.0.1)."""
    if not (REPO / "models" / "rasa" / "latest.tar.gz").exists():
        raise RuntimeError("no trained model at models/rasa/latest.tar.gz: run scripts/train_bot.sh (make test does)")
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    workdir.chmod(0o755)
    prod = Prod(workdir)
    prod.env.update(WEBHOOK_RATE="10000r/s", WEBHOOK_BURST="10000", **(env or {}))
    try:
        prod.up()
    except Exception:
        stop_prod(prod, prefix.strip("-"))
        raise
    return prod


def stop_prod(prod: Prod, keep_logs_as: str) -> None:
    prod.down()
    kept = REPO / "test-artifacts" / keep_logs_as
    shutil.rmtree(kept, ignore_errors=True)
    if (prod.dir / "logs").is_dir():
        shutil.copytree(prod.dir / "logs", kept)
    shutil.rmtree(prod.dir, ignore_errors=True)


def suite() -> list[Conversation]:
    return follow_up_conversations()


def wait_turns(load: SteadyLoad, more: int, timeout_s: float = 120) -> None:
    """Let the load run until ``more`` further turns were answered (or the time is up)."""
    target = load.turns_so_far() + more
    deadline = time.monotonic() + timeout_s
    while load.turns_so_far() < target and time.monotonic() < deadline:
        time.sleep(0.2)
