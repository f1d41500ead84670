"""Event-recording overhead on text-turn latency: 1 sender over REST, without and with the broker.

Starts two real stacks (tests/servers.py: action server + Rasa server each), one without an
event broker and one with ``event_broker: brokers.recording.ConversationRecorder`` writing to a
temporary SQLite database (schema by Alembic), and sends the same conversation to both, turn by
turn in alternation (A, B, A, B…), so that the machine's changing load hits both settings
alike.  Each round is a new citizen's 8-turn conversation (``--one-conversation``: one sender
throughout).  Prints p50/p95 per setting, the difference, and how many turns were recorded.

Where the overhead comes from: with any event broker, Rasa's tracker store (``stream_events``)
retrieves the stored tracker again on every save to find the new events, so the cost grows
with the conversation's length; ``publish`` itself only queues (microseconds).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import table  # noqa: E402
from benchmarks.dialogue_latency import TURNS  # noqa: E402
from tests.servers import Servers  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=10, help="rounds of the 8-turn conversation")
    ap.add_argument("--one-conversation", action="store_true",
                    help="one sender for every round (a conversation of 8 x rounds turns) instead of one per round")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-records-"))
    db_path = work / "records.db"
    url = f"sqlite:///{db_path}"
    from knowledge_base import db

    db.upgrade(url)
    (work / "plain").mkdir()
    (work / "recorded").mkdir()
    stacks = {"without broker": Servers(work / "plain"), "with broker": Servers(work / "recorded", records_url=url)}
    try:
        for servers in stacks.values():  # one after the other: two Rasa start-ups at once would starve both
            servers.start()
        lat: dict[str, list[float]] = {name: [] for name in stacks}
        for name, servers in stacks.items():
            servers.say(f"warmup-{name[:4]}", TURNS[0])
        for r in range(args.rounds):
            for text in TURNS:
                for name, servers in stacks.items():
                    sender = f"bench-{name[:4]}" if args.one_conversation else f"bench-{name[:4]}-{r}"
                    t = time.perf_counter()
                    servers.say(sender, text)
                    lat[name].append((time.perf_counter() - t) * 1000)
        time.sleep(2)
        con = sqlite3.connect(db_path)
        recorded = con.execute("SELECT COUNT(*) FROM conversation_turn WHERE sender_id LIKE 'bench-with%'").fetchone()[0]
        con.close()
        rows = [[name, len(v), f"{np.percentile(v, 50):.0f}", f"{np.percentile(v, 95):.0f}", f"{max(v):.0f}"]
                for name, v in lat.items()]
        print(table(rows, ["setting", "turns", "p50 ms", "p95 ms", "max ms"]))
        a, b = lat["without broker"], lat["with broker"]
        diffs = [y - x for x, y in zip(a, b, strict=True)]
        print(f"\noverhead (with - without): p50 {np.percentile(b, 50) - np.percentile(a, 50):+.0f} ms, "
              f"p95 {np.percentile(b, 95) - np.percentile(a, 95):+.0f} ms; median of paired differences "
              f"{np.median(diffs):+.0f} ms; turns recorded: {recorded} of {len(b)}")
    finally:
        for servers in stacks.values():
            servers.stop()


if __name__ == "__main__":
    main()
