"""Widget transport: first-message round trip over socket.io, with 1 and 50 concurrent clients.

Starts the real action server and Rasa server on loopback (tests/servers.py) with
bot/credentials.yml, and drives them with browser-less python-socketio clients that speak
the widget's events. "First message" = connect + session_request/session_confirm, then the
first question, until its first bot_uttered arrives; the question's own round trip is
reported separately. Prints p50/p95; no assertions (targets are read, not enforced).
"""

from __future__ import annotations

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
from tests.servers import Servers  # noqa: E402

QUESTIONS = [
    "làm căn cước cần giấy tờ gì?", "dang ky ket hon can gi", "làm hộ chiếu mất bao lâu",
    "lệ phí đăng ký khai sinh", "sang tên xe máy nộp ở đâu", "cấp phiếu lý lịch tư pháp cần gì",
]


async def one_client(url: str, question: str, transport: str) -> tuple[float, float]:
    """(ms from connect to the first answer, ms of the question's round trip)."""
    sio = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    answered: asyncio.Future = asyncio.get_running_loop().create_future()
    sio.on("session_confirm", lambda data: confirmed.done() or confirmed.set_result(data))
    sio.on("bot_uttered", lambda data: answered.done() or answered.set_result(data))
    session = uuid.uuid4().hex
    t0 = time.perf_counter()
    await sio.connect(url, transports=[transport], wait_timeout=30)
    await sio.emit("session_request", {"session_id": session})
    await asyncio.wait_for(confirmed, 30)
    t1 = time.perf_counter()
    await sio.emit("user_uttered", {"message": question, "session_id": session})
    await asyncio.wait_for(answered, 120)
    t2 = time.perf_counter()
    await sio.disconnect()
    return (t2 - t0) * 1000, (t2 - t1) * 1000


async def wave(url: str, clients: int, transport: str) -> list[tuple[float, float]]:
    return await asyncio.gather(*(one_client(url, QUESTIONS[i % len(QUESTIONS)], transport) for i in range(clients)))


def main() -> None:
    servers = Servers(Path(tempfile.mkdtemp())).start()
    try:
        asyncio.run(wave(servers.url, 3, "websocket"))  # warm-up
        rows = []
        for transport in ("websocket", "polling"):
            for clients, rounds in ((1, 20), (50, 2)):
                results: list[tuple[float, float]] = []
                for _ in range(rounds):
                    results += asyncio.run(wave(servers.url, clients, transport))
                first = [r[0] for r in results]
                turn = [r[1] for r in results]
                rows.append([transport, clients, len(results), *(f"{x:.0f}" for x in np.percentile(first, [50, 95])),
                             *(f"{x:.0f}" for x in np.percentile(turn, [50, 95]))])
        print(table(rows, ["transport", "clients", "samples", "first msg p50 ms", "first msg p95 ms",
                           "question p50 ms", "question p95 ms"]))
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
