"""Throughput of the production topology: turns/s at p95 <= 300 ms for 1, 2 and 4 Rasa processes.

Starts scripts/prod_up.sh on free ports in a temporary folder (PostgreSQL tracker store, Redis lock
store, nginx, ``max(--processes)`` Rasa servers and ``--actions`` action servers), then for each
process count drives Locust headless (benchmarks/load/locustfile.py: multi-turn conversations of
the suite, every reply checked) round robin across that many Rasa ports, stepping the number of
simulated citizens up until p95 passes the bound. Prints one row per step, the best step per
process count, a 1-sender run, resident memory per Rasa and action server process (/proc), and the
load averages of the machine (other programs share its cores: the figures are only as clean as the
machine was idle).

    .venv-ml/bin/python benchmarks/load_throughput.py [--processes 1 2 4] [--users 1 2 4 8 12 16]
                                                      [--duration 20] [--actions 2]
                                                      [--tracker-store sql]

About 10–15 minutes on 2 cores (starting four Rasa servers takes most of 4 minutes).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import table  # noqa: E402
from benchmarks.load.scenarios import answered_right, follow_up_conversations  # noqa: E402
from tests.servers import free_port  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = REPO / "benchmarks" / "load" / "locustfile.py"
P95_BOUND_MS = 300.0


def load_averages() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Topology:
    """scripts/prod_up.sh on free ports, in a temporary PROD_DIR."""

    def __init__(self, rasa: int, actions: int, tracker_store: str | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tthc-load-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.rasa_ports = [free_port() for _ in range(rasa)]
        self.actions_ports = [free_port() for _ in range(actions)]
        self.http_port = free_port()
        secrets = ("DB_PASSWORD", "REDIS_PASSWORD", "ACTION_SERVER_TOKEN", "RASA_AUTH_TOKEN")
        self.env = {k: v for k, v in os.environ.items() if k not in ("KB_DATA_DIR", *secrets)}
        self.env.update(PROD_DIR=str(self.dir), PROD_HTTP_PORT=str(self.http_port), PROD_PG_PORT=str(free_port()),
                        PROD_REDIS_PORT=str(free_port()), PROD_ACTIONS_LB_PORT=str(free_port()),
                        PROD_RASA_PORTS=" ".join(map(str, self.rasa_ports)),
                        PROD_ACTIONS_PORTS=" ".join(map(str, self.actions_ports)),
                        WEBHOOK_RATE="10000r/s", WEBHOOK_BURST="10000", HOTLINE="1022")
        if tracker_store:  # bot/endpoints.prod.yml with another tracker store type (A/B of stores)
            endpoints = self.dir / "endpoints.yml"
            text = (REPO / "bot" / "endpoints.prod.yml").read_text(encoding="utf-8")
            head, sep, rest = text.partition("tracker_store:\n  type: ")
            assert sep, "endpoints.prod.yml: tracker_store type not found"
            endpoints.write_text(head + sep + tracker_store + "\n" + rest.split("\n", 1)[1], encoding="utf-8")
            self.env["RASA_ENDPOINTS"] = str(endpoints)  # docker/entrypoints/rasa.sh

    def up(self) -> None:
        t0 = time.monotonic()
        proc = subprocess.run(["bash", "scripts/prod_up.sh"], cwd=REPO, env=self.env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"prod_up.sh failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        print(f"topology up in {time.monotonic() - t0:.0f}s: {len(self.rasa_ports)} Rasa, "
              f"{len(self.actions_ports)} action servers ({load_averages()})")

    def down(self) -> None:
        subprocess.run(["bash", "scripts/prod_down.sh"], cwd=REPO, env=self.env, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def pids(self, prefix: str) -> dict[str, int]:
        return {p.stem: int(p.read_text()) for p in sorted((self.dir / "pids").glob(f"{prefix}*.pid"))}

    def warm_up(self) -> None:
        """One conversation on every Rasa instance, and enough turns that each action server has
        loaded its search index (the first question it answers loads it)."""
        conv = follow_up_conversations()[0]
        for i, port in enumerate(self.rasa_ports * 2):
            for turn in conv.turns:
                body = json.dumps({"sender": f"warm-{i}", "message": turn.text}).encode()
                req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body,
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=120) as resp:
                    resp.read()


def locust(targets: list[str], users: int, duration: int, workdir: Path) -> dict:
    """One headless Locust run; the aggregated row of its CSV statistics."""
    prefix = workdir / f"u{users}-{len(targets)}"
    env = dict(os.environ, LOAD_TARGETS=" ".join(targets))
    # LOCUST: another locust executable (requirements/test.lock's, when .venv-ml lacks the test packages)
    cmd = [os.environ.get("LOCUST", str(REPO / ".venv-ml/bin/locust")), "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users),
           "-t", f"{duration}s", "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR",
           "--stop-timeout", "10", "--exit-code-on-error", "0"]
    subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=duration + 120)
    with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    return {"users": users, "turns": int(row["Request Count"]), "failures": int(row["Failure Count"]),
            "rps": float(row["Requests/s"]), "p50": float(row["50%"]), "p95": float(row["95%"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 2, 4, 8, 12, 16])
    parser.add_argument("--duration", type=int, default=20, help="seconds per step")
    parser.add_argument("--actions", type=int, default=2, help="action servers")
    parser.add_argument("--single-duration", type=int, default=40, help="seconds of the 1-sender run")
    parser.add_argument("--tracker-store", help="tracker store type instead of bot/endpoints.prod.yml's "
                        "(\"sql\": Rasa's SQLTrackerStore), same database keys")
    args = parser.parse_args()

    topo = Topology(max(args.processes), args.actions, args.tracker_store)
    work = Path(tempfile.mkdtemp(prefix="tthc-locust-"))
    rows, best = [], []
    try:
        topo.up()
        topo.warm_up()
        convs = follow_up_conversations()
        good = answered_right(f"http://127.0.0.1:{topo.rasa_ports[0]}/webhooks/rest/webhook", convs)
        print(f"{len(good)} of {len(convs)} follow-up conversations answered right when played alone: "
              "only those are replayed, so a wrong citation under load counts as a failure", flush=True)
        os.environ["LOAD_CONVERSATION_IDS"] = " ".join(c.id for c in good)
        single = locust([f"http://127.0.0.1:{topo.rasa_ports[0]}"], 1, args.single_duration, work)
        print(f"1 sender, 1 Rasa process, {args.single_duration}s: p50 {single['p50']:.0f} ms, "
              f"p95 {single['p95']:.0f} ms, {single['rps']:.1f} turns/s, failures {single['failures']} "
              f"({load_averages()})")
        for n in sorted(args.processes):
            targets = [f"http://127.0.0.1:{p}" for p in topo.rasa_ports[:n]]
            ok = None
            for users in args.users:
                r = locust(targets, users, args.duration, work)
                rows.append([n, users, f"{r['rps']:.1f}", f"{r['p50']:.0f}", f"{r['p95']:.0f}", r["failures"],
                             load_averages()])
                print(" | ".join(map(str, rows[-1])), flush=True)
                if r["p95"] <= P95_BOUND_MS and r["failures"] == 0 and (ok is None or r["rps"] > ok["rps"]):
                    ok = r
                if r["p95"] > P95_BOUND_MS:
                    break
            best.append([n, ok["users"] if ok else "-", f"{ok['rps']:.1f}" if ok else "< 1 user",
                         f"{ok['p50']:.0f}" if ok else "-", f"{ok['p95']:.0f}" if ok else "-"])
        rasa_rss = {k: round(rss_mb(v)) for k, v in topo.pids("rasa").items()}
        actions_rss = {k: round(rss_mb(v)) for k, v in topo.pids("actions").items()}
    finally:
        topo.down()
        shutil.rmtree(work, ignore_errors=True)

    print("\nEvery step (Locust, closed loop, round robin across the Rasa ports; ms):")
    print(table(rows, ["Rasa processes", "users", "turns/s", "p50", "p95", "failures", "machine"]))
    print(f"\nHighest turns/s with p95 <= {P95_BOUND_MS:.0f} ms and no failure:")
    print(table(best, ["Rasa processes", "users", "turns/s", "p50 ms", "p95 ms"]))
    print(f"\n1 sender: p50 {single['p50']:.0f} ms, p95 {single['p95']:.0f} ms")
    print(f"RSS per Rasa process (MB): {rasa_rss}")
    print(f"RSS per action server process (MB): {actions_rss}")
    print(f"tracker store: {args.tracker_store or 'as in bot/endpoints.prod.yml'}")
    print(f"{load_averages()} (2 cores shared with other programs: figures taken under contention)")


if __name__ == "__main__":
    main()
