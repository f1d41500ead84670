"""Messages sent outside a turn (the live-agent desk) reach a citizen held by another Rasa process.

bot/channels/out_of_turn.py, with a real redis-server (Debian's package; installed when missing, as
scripts/prod_up.sh does) and each side in its own .venv-rasa process, as two Rasa servers are:

* the REST channel's queue: what one process's ``output_channel=rest`` queues, another process's
  ``OUT_OF_TURN`` hands out, once, in order, trimmed to the newest 50, expiring;
* socket.io: with ``CHANNEL_REDIS_URL`` the widget's server uses python-socketio's Redis manager,
  and a desk-style send (``get_output_channel().send_response``) in one process arrives as an emit
  to the session's room in the other; without it, the default in-memory manager (``make run``).

The same across real servers behind nginx: tests/test_production.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.servers import free_port

REPO = Path(__file__).resolve().parent.parent
RASA_PY = REPO / ".venv-rasa" / "bin" / "python"
PASSWORD = "pw-out-of-turn"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if not shutil.which("redis-server"):
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=False, capture_output=True, timeout=300)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "redis-server"], check=False, capture_output=True,
                       timeout=600, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing and could not be installed (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--requirepass", PASSWORD,
                             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True,
                                  env=dict(os.environ, REDISCLI_AUTH=PASSWORD))
            if "PONG" in ping.stdout:
                break
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.2)
        # no password in the URL: it comes from REDIS_PASSWORD, as docker/entrypoints/rasa.sh passes it
        yield f"redis://127.0.0.1:{port}/1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def rasa_env(url: str | None, **extra: str) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{REPO / 'bot'}", "RASA_TELEMETRY_ENABLED": "false",
           "REDIS_PASSWORD": PASSWORD, **extra}
    if url is not None:
        env["CHANNEL_REDIS_URL"] = url
    return env


def run_rasa(script: str, env: dict[str, str], timeout: float = 180) -> dict:
    """Run ``script`` in .venv-rasa (one "Rasa process"); it prints ``RESULT<json>``."""
    proc = subprocess.run([str(RASA_PY), "-c", script], cwd=REPO / "bot", env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0 and "RESULT" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(proc.stdout.split("RESULT", 1)[1])


PUT = r'''
import asyncio, json
from channels.rest import OUT_OF_TURN, QueuedRestOutput

async def main():
    out = QueuedRestOutput()  # what Rasa's output_channel=rest gives the desk's call
    for i in range(3):
        await out.send_response("dan", {"text": f"Tổng đài viên: {i}"})
    for i in range(60):
        await OUT_OF_TURN.put("many", {"i": i})
    await OUT_OF_TURN.put("ttl", {"i": 0})
    ttl = await OUT_OF_TURN._client().ttl(OUT_OF_TURN.key("ttl")) if hasattr(OUT_OF_TURN, "key") else None
    print("RESULT" + json.dumps({"backend": type(OUT_OF_TURN).__name__, "ttl": ttl}))

asyncio.run(main())
'''

TAKE = r'''
import asyncio, json
from channels.rest import OUT_OF_TURN

async def main():
    got = {"dan": await OUT_OF_TURN.take("dan"), "again": await OUT_OF_TURN.take("dan"),
           "many": await OUT_OF_TURN.take("many"), "nobody": await OUT_OF_TURN.take("nobody")}
    print("RESULT" + json.dumps({"backend": type(OUT_OF_TURN).__name__, **got}))

asyncio.run(main())
'''


def test_rest_queue_is_shared_by_processes_through_redis(redis_url):
    put = run_rasa(PUT, rasa_env(redis_url, OUT_OF_TURN_TTL_S="600"))
    assert put["backend"] == "RedisQueue"
    assert 0 < put["ttl"] <= 600, put
    got = run_rasa(TAKE, rasa_env(redis_url))  # another process
    assert [m["text"] for m in got["dan"]] == ["Tổng đài viên: 0", "Tổng đài viên: 1", "Tổng đài viên: 2"], got
    assert all(m["recipient_id"] == "dan" and "custom" in m for m in got["dan"]), got["dan"]
    assert got["again"] == [] and got["nobody"] == [], "taken once"
    assert [m["i"] for m in got["many"]] == list(range(10, 60)), "the newest 50"


def test_rest_queue_expires(redis_url):
    script = PUT.replace('await OUT_OF_TURN.put("ttl"', 'await OUT_OF_TURN.put("gone"')
    run_rasa(script, rasa_env(redis_url, OUT_OF_TURN_TTL_S="1"))
    time.sleep(2.2)
    got = run_rasa(TAKE.replace('take("nobody")', 'take("gone")'), rasa_env(redis_url))
    assert got["dan"] == [] and got["nobody"] == [], got


def test_rest_queue_without_redis_stays_in_the_process(redis_url):
    """make run: no CHANNEL_REDIS_URL, the queue is the process's own (another process sees nothing)."""
    put = run_rasa(PUT, rasa_env(None))
    assert put["backend"] == "MemoryQueue"
    got = run_rasa(TAKE, rasa_env(None))
    assert got["backend"] == "MemoryQueue" and got["dan"] == []


# A widget server (the channel's own blueprint) that records what reaches its session rooms from
# other processes: the emit its Redis manager receives, before it goes to the room's sockets.
LISTEN = r'''
import asyncio, json, sys
from channels.socketio import WidgetSocketIOInput

async def main():
    channel = WidgetSocketIOInput.from_credentials({"session_persistence": True})
    channel.blueprint(lambda message: None)
    sio = channel.sio
    manager = sio.manager
    got = asyncio.get_running_loop().create_future()
    received = getattr(manager, "_handle_emit", None)  # only a pub/sub manager receives from elsewhere

    async def handle_emit(message):
        if not got.done():
            got.set_result(message)
        await received(message)

    if received is not None:
        manager._handle_emit = handle_emit
    sio.manager_initialized = True  # as the channel's after_server_start listener does
    manager.initialize()
    if type(manager).__name__ == "AsyncRedisManager":
        for _ in range(100):  # subscribed?
            await asyncio.sleep(0.05)
            if manager.pubsub is not None and manager.pubsub.subscribed:
                break
    print("READY", type(manager).__name__, flush=True)
    try:
        message = await asyncio.wait_for(got, float(sys.argv[1]))
    except asyncio.TimeoutError:
        message = None
    print("RESULT" + json.dumps({"manager": type(manager).__name__, "message": message}))

asyncio.run(main())
'''

SEND = r'''
import asyncio, json
from channels.socketio import WidgetSocketIOInput

async def main():
    channel = WidgetSocketIOInput.from_credentials({"session_persistence": True})
    channel.blueprint(lambda message: None)
    out = channel.get_output_channel()  # what Rasa's output_channel=socketio gives the desk's call
    await out.send_response("sess-42", {"text": "Tổng đài viên: xin chào"})
    print("RESULT" + json.dumps({"manager": type(channel.sio.manager).__name__,
                                 "channel": getattr(channel.sio.manager, "channel", None)}))

asyncio.run(main())
'''


def cross_process_emit(listen_env: dict[str, str], send_env: dict[str, str], wait_s: float) -> tuple[dict, dict]:
    listener = subprocess.Popen([str(RASA_PY), "-c", LISTEN, str(wait_s)], cwd=REPO / "bot", env=listen_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        while not (line := listener.stdout.readline()).startswith("READY"):  # structlog writes to stdout too
            seen += line
            assert line, seen[-2000:] + listener.stderr.read()[-3000:]
        sent = run_rasa(SEND, send_env)
        out, err = listener.communicate(timeout=wait_s + 60)
        assert listener.returncode == 0 and "RESULT" in out, out[-2000:] + err[-3000:]
        return json.loads(out.split("RESULT", 1)[1]), sent
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()


def test_socketio_emit_in_one_process_reaches_the_room_in_another(redis_url):
    got, sent = cross_process_emit(rasa_env(redis_url), rasa_env(redis_url), wait_s=20)
    assert got["manager"] == sent["manager"] == "AsyncRedisManager"
    assert sent["channel"] == "tthc:socketio"
    message = got["message"]
    assert message, "the other process's emit never arrived"
    assert (message["method"], message["event"], message["room"], message["namespace"]) == (
        "emit", "bot_uttered", "sess-42", "/")
    assert message["data"][0]["text"] == "Tổng đài viên: xin chào"
    assert "procedure_code" in message["data"][0]["custom"], "the structured payload travels with it"


def test_socketio_without_redis_uses_the_in_memory_manager(redis_url):
    """make run: one process, python-socketio's default manager; nothing crosses processes."""
    got, sent = cross_process_emit(rasa_env(None), rasa_env(None), wait_s=3)
    assert got["manager"] == sent["manager"] == "AsyncManager"
    assert got["message"] is None
