"""Text-turn latency over REST with 1 and with 20 concurrent senders, and both servers' memory.

Starts the real action server and Rasa server on loopback (tests/servers.py),
sends realistic citizen turns, and prints p50/p95 and resident memory.
Target (issue 4): p95 <= 150 ms with 1 sender on 2 cores.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import table  # noqa: E402
from tests.servers import Servers  # noqa: E402

TURNS = [
    "làm căn cước cần giấy tờ gì?", "còn lệ phí thì sao?", "nộp ở đâu?", "mất mấy ngày?",
    "dang ky ket hon can gi", "lam so do het bao nhieu tien", "cho mình hỏi sang tên xe máy", "cảm ơn",
]


def rss_mb(pid: int) -> float:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        kids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def conversation(servers: Servers, sender: str, rounds: int, one_conversation: bool = False) -> list[float]:
    """``rounds`` citizens' 8-turn conversations one after another (or, ``one_conversation``, one
    conversation of all the turns: Rasa's per-turn cost grows with a conversation's length)."""
    lat = []
    for r in range(rounds):
        for text in TURNS:
            t = time.perf_counter()
            servers.say(sender if one_conversation else f"{sender}-{r}", text)
            lat.append((time.perf_counter() - t) * 1000)
    return lat


def main() -> None:
    # as make run: every turn recorded by the event broker (docs/analytics.md) into a SQLite database
    from knowledge_base import db

    work = Path(tempfile.mkdtemp())
    db.upgrade(f"sqlite:///{work / 'records.db'}")
    servers = Servers(work, records_url=f"sqlite:///{work / 'records.db'}").start()
    try:
        conversation(servers, "warmup", 1)
        rows = []
        for senders, rounds, one in ((1, 10, False), (1, 10, True), (20, 3, False)):
            t = time.perf_counter()
            with cf.ThreadPoolExecutor(senders) as pool:
                names = [f"bench-{senders}-{one}-{i}" for i in range(senders)]
                results = list(pool.map(conversation, [servers] * senders, names, [rounds] * senders, [one] * senders))
            wall = time.perf_counter() - t
            lat = [x for r in results for x in r]
            p50, p95 = np.percentile(lat, [50, 95])
            rows.append([senders, "one of 80 turns" if one else "8 turns each", len(lat), f"{p50:.0f}", f"{p95:.0f}",
                         f"{len(lat) / wall:.1f}"])
        print(table(rows, ["senders", "conversations", "turns", "p50 ms", "p95 ms", "turns/s"]))
        print(f"\nresident memory: action server {rss_mb(servers.procs[0].pid):.0f} MB, "
              f"Rasa server {rss_mb(servers.procs[1].pid):.0f} MB")
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
