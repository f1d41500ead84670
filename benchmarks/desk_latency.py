"""Live-agent desk: operator reply → citizen's widget latency (p50/p95).

Starts the real stack of the desk tests (tests/desk/support.py: admin app with the desk,
action server, Rasa server with the widget's socket.io channel).  A browser-less
python-socketio client plays the citizen's widget: it asks for a person, an operator
(logged in over HTTP with a session cookie and CSRF token, as the desk page's script does)
takes the conversation and sends N replies, one at a time.  Each latency runs from just
before the operator's POST to the moment the reply's ``bot_uttered`` arrives at the
citizen; the POST's own round trip (admin app → Rasa's HTTP API → socket.io emit) is
reported separately.  Prints a table; no assertions (targets are read, not enforced).

    .venv-ml/bin/python benchmarks/desk_latency.py [--replies 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import table  # noqa: E402
from tests.desk.support import DeskStack, OperatorClient  # noqa: E402


async def run(stack: DeskStack, replies: int) -> tuple[list[float], list[float]]:
    op = OperatorClient(stack.admin.url)
    op.duty(True)
    sio = socketio.AsyncClient(reconnection=False)
    inbox: asyncio.Queue = asyncio.Queue()
    confirmed = asyncio.get_running_loop().create_future()
    sio.on("session_confirm", lambda data: confirmed.done() or confirmed.set_result(data))
    sio.on("bot_uttered", lambda data: inbox.put_nowait((time.perf_counter(), data.get("text") or "")))
    session = uuid.uuid4().hex

    async def wait_text(fragment: str, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while True:
            at, text = await asyncio.wait_for(inbox.get(), max(0.1, deadline - time.monotonic()))
            if fragment in text:
                return at

    await sio.connect(stack.bot.url, transports=["websocket"], wait_timeout=30)
    await sio.emit("session_request", {"session_id": session})
    await asyncio.wait_for(confirmed, 30)
    await sio.emit("user_uttered", {"message": "cho tôi gặp tổng đài viên", "session_id": session})
    await wait_text("đang chuyển")
    queue = await asyncio.to_thread(op.get_json, "/admin/desk/queue.json")
    ticket = next(t["id"] for t in queue["open"] if t["status"] == "waiting" and t["channel"] == "socketio")
    await asyncio.to_thread(op.post, f"/admin/desk/c/{ticket}/take")
    await wait_text("đã nhận")
    latencies, posts = [], []
    for i in range(replies):
        marker = f"[{i}]"
        t0 = time.perf_counter()
        res = await asyncio.to_thread(op.post, f"/admin/desk/c/{ticket}/reply", text=f"Câu trả lời thử {marker}")
        t1 = time.perf_counter()
        assert res["ok"], res
        arrived = await wait_text(marker)
        latencies.append((arrived - t0) * 1000)
        posts.append((t1 - t0) * 1000)
    await asyncio.to_thread(op.post, f"/admin/desk/c/{ticket}/close")
    await wait_text("kết thúc")
    await sio.disconnect()
    return latencies, posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=50)
    args = parser.parse_args()
    stack = DeskStack(Path(tempfile.mkdtemp(prefix="desk-bench-")), wait_s=600).start()
    try:
        latencies, posts = asyncio.run(run(stack, args.replies))
    finally:
        stack.stop()
    rows = [
        ["operator reply → widget bot_uttered", len(latencies), f"{np.percentile(latencies, 50):.0f}",
         f"{np.percentile(latencies, 95):.0f}", f"{max(latencies):.0f}"],
        ["operator POST round trip (admin → Rasa → emit)", len(posts), f"{np.percentile(posts, 50):.0f}",
         f"{np.percentile(posts, 95):.0f}", f"{max(posts):.0f}"],
    ]
    print(table(rows, ["measure", "n", "p50 ms", "p95 ms", "max ms"]))


if __name__ == "__main__":
    main()
