"""Zalo webhook: acknowledgement time and reply delivery time, with 1 and with 50 concurrent users.

Starts the real action server and Rasa server (tests/servers.py) with the Zalo channel pointed
at the fake Zalo of tests/zalo_fake.py, sends signed ``user_send_text`` events over HTTP and
prints p50/p95 of
  * acknowledgement: webhook POST sent → HTTP 200 received (Zalo wants it under 2 s; target p95 < 100 ms);
  * delivery: webhook POST sent → first reply message received by the fake Zalo.
Run: PYTHONPATH=$PWD:$PWD/bot .venv-ml/bin/python benchmarks/zalo_webhook.py [--turns 300]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bot"))
from benchmarks.common import table  # noqa: E402
from channels.zalo_core import expected_signature  # noqa: E402
from tests.servers import Servers  # noqa: E402
from tests.zalo_fake import FakeZalo  # noqa: E402

APP_ID = "1234567890123456789"
OA_SECRET = "bench-oa-secret"
TURNS = ["làm căn cước cần giấy tờ gì?", "còn lệ phí thì sao?", "nộp ở đâu?", "mất mấy ngày?",
         "dang ky ket hon can gi", "lam so do het bao nhieu tien", "cho mình hỏi sang tên xe máy", "cảm ơn"]


def send(url: str, uid: str, text: str, n: int) -> float:
    """POST one signed event; returns the acknowledgement time in ms."""
    body = {"app_id": APP_ID, "event_name": "user_send_text", "timestamp": str(int(time.time() * 1000)),
            "sender": {"id": uid}, "recipient": {"id": "1"}, "message": {"msg_id": f"b-{uid}-{n}", "text": text}}
    raw = json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=raw, headers={
        "Content-Type": "application/json", "X-ZEvent-Signature": expected_signature(APP_ID, raw, body["timestamp"], OA_SECRET)})
    t = time.monotonic()
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        resp.read()
    return (time.monotonic() - t) * 1000


def user(url: str, fake: FakeZalo, uid: str, turns: int) -> tuple[list[float], list[float]]:
    """One citizen: send a turn, wait for its reply, next turn."""
    acks, deliveries = [], []
    for n in range(turns):
        before = len(fake.for_recipient(uid))
        t = time.monotonic()
        acks.append(send(url, uid, TURNS[n % len(TURNS)], n))
        if fake.wait_for(lambda b=before: len(fake._for(uid)) > b, timeout=60):
            deliveries.append((fake.for_recipient(uid)[before].at - t) * 1000)
        time.sleep(0.05)  # let a multi-part reply finish before the next turn
    return acks, deliveries


def run(url: str, fake: FakeZalo, users: int, turns: int) -> tuple[list[float], list[float], float]:
    t = time.monotonic()
    with cf.ThreadPoolExecutor(users) as pool:
        results = list(pool.map(lambda i: user(url, fake, f"{users}{i:04d}", turns), range(users)))
    wall = time.monotonic() - t
    return [a for r in results for a in r[0]], [d for r in results for d in r[1]], wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=300, help="signed events per scenario")
    parser.add_argument("--users", default="1,50", help="concurrent users per scenario, comma-separated")
    args = parser.parse_args()
    fake = FakeZalo(app_id=APP_ID).start()
    work = Path(tempfile.mkdtemp())
    env = {"ZALO_APP_ID": APP_ID, "ZALO_APP_SECRET": fake.app_secret, "ZALO_OA_SECRET_KEY": OA_SECRET,
           "ZALO_ACCESS_TOKEN": fake.access_token, "ZALO_REFRESH_TOKEN": fake.refresh_token,
           "ZALO_TOKEN_FILE": str(work / "zalo_token.json"), "ZALO_API_BASE": fake.url, "ZALO_OAUTH_BASE": fake.url}
    servers = Servers(work, credentials=Path(__file__).resolve().parent.parent / "tests/fixtures/credentials_channels.yml",
                      env=env).start()
    url = f"{servers.url}/webhooks/zalo/webhook"
    try:
        user(url, fake, "warmup", 8)
        rows = []
        for users in (int(u) for u in args.users.split(",")):
            acks, deliveries, wall = run(url, fake, users, max(1, args.turns // users))
            rows.append([f"{users}", f"{len(acks)}", f"{np.percentile(acks, 50):.1f}", f"{np.percentile(acks, 95):.1f}",
                         f"{np.percentile(deliveries, 50):.0f}" if deliveries else "-",
                         f"{np.percentile(deliveries, 95):.0f}" if deliveries else "-",
                         f"{len(deliveries)}/{len(acks)}", f"{wall:.1f}"])
        print(table(rows, ["users", "events", "ack p50 ms", "ack p95 ms", "delivery p50 ms", "delivery p95 ms", "delivered",
                           "wall s"]))
    finally:
        servers.stop()
        fake.stop()


if __name__ == "__main__":
    main()
