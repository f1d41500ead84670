"""The production deployment (issue 13): docker/compose.yml, the Dockerfiles, bot/endpoints.prod.yml,
and a live run of scripts/prod_up.sh — PostgreSQL, Redis, nginx, two Rasa servers and two action
servers on loopback — with conversations that cross instances, refused API paths, body and rate
limits, and one Rasa instance killed mid-conversation.

The compose file is validated with ``docker compose config`` where the compose plugin exists, else
with Debian's docker-compose 1.29.2 (scripts/compose_check.sh installs it), which checks it against
the Compose specification's schema. Containers are not run here (no images can be pulled).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests.servers import free_port

REPO = Path(__file__).resolve().parent.parent
DOCKER = REPO / "docker"
SECRETS = {"DB_PASSWORD": "pw-db", "REDIS_PASSWORD": "pw-redis", "ACTION_SERVER_TOKEN": "tok-actions",
           "RASA_AUTH_TOKEN": "tok-rasa", "DESK_SECRET": "pw-desk"}


# --------------------------------------------------------------------------- static checks


def compose_config(env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(env_extra or {})
    return subprocess.run(["bash", "scripts/compose_check.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_compose_file_is_valid_and_complete():
    proc = compose_config(SECRETS)
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    services = config["services"]
    assert {"postgres", "redis", "nginx", "rasa1", "rasa2", "actions1", "actions2", "admin", "voice"} <= set(services)
    for name, svc in services.items():
        assert svc.get("restart") == "unless-stopped", name
        assert "healthcheck" in svc, name
        if name != "nginx":
            assert not svc.get("ports"), f"{name} must not publish a port (only nginx does)"
    assert services["nginx"]["ports"], "nginx publishes the public port"
    for name in ("rasa1", "rasa2"):
        env = services[name]["environment"]
        assert env["DB_PASSWORD"] == "pw-db" and env["REDIS_PASSWORD"] == "pw-redis"
        assert env["ACTION_ENDPOINT_URL"] == "http://nginx:5055/webhook"
        assert services[name]["build"]["dockerfile"] == "docker/rasa.Dockerfile"
    for name in ("actions1", "actions2"):
        assert services[name]["build"]["target"] == "actions"
    volumes = {v.split(":")[0] if isinstance(v, str) else v["source"]
               for s in ("postgres", "redis") for v in services[s]["volumes"]}
    assert volumes == {"pgdata", "redisdata"}, "databases keep their data in named volumes"
    assert config["networks"]["data"].get("internal") is True


def test_compose_file_refuses_to_run_without_secrets():
    proc = compose_config({k: v for k, v in SECRETS.items() if k != "DB_PASSWORD"})
    assert proc.returncode != 0
    assert "DB_PASSWORD" in proc.stderr
    proc = compose_config({k: v for k, v in SECRETS.items() if k != "DESK_SECRET"})
    assert proc.returncode != 0
    assert "DESK_SECRET" in proc.stderr


def test_compose_file_wires_the_live_agent_desk():
    """docs/desk.md: the action servers hand off to the admin app's hook and pause the bot; the admin
    app talks to Rasa's HTTP API on the private network (nginx does not expose it)."""
    services = yaml.safe_load(compose_config(SECRETS).stdout)["services"]
    for name in ("actions1", "actions2"):
        env = services[name]["environment"]
        assert (env["AGENT_DESK_URL"], env["DESK_SECRET"], str(env["HANDOFF_PAUSE"])) == (
            "http://admin:8090/admin/desk/api", "pw-desk", "1"), env
    admin = services["admin"]["environment"]
    assert (admin["DESK_SECRET"], admin["RASA_URL"], admin["RASA_AUTH_TOKEN"]) == (
        "pw-desk", "http://rasa1:5005", "tok-rasa"), admin
    assert "app" in services["admin"]["networks"] and "app" in services["rasa1"]["networks"]
    # cross-instance delivery: every Rasa instance gets the Redis it shares (docker/entrypoints/rasa.sh)
    rasa_sh = (DOCKER / "entrypoints" / "rasa.sh").read_text(encoding="utf-8")
    assert 'CHANNEL_REDIS_URL="${CHANNEL_REDIS_URL-redis://$REDIS_HOST:$REDIS_PORT/$REDIS_DB}"' in rasa_sh


def _dockerfile_entrypoints() -> dict[str, str]:
    """``{"rasa.Dockerfile[:target]": "rasa.sh"}`` from every ENTRYPOINT of docker/*.Dockerfile."""
    found = {}
    for path in sorted(DOCKER.glob("*.Dockerfile")):
        target = None
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
            if m:
                target = m.group(1)
            m = re.match(r'ENTRYPOINT\s+\["/app/docker/entrypoints/([\w.-]+\.sh)"', line)
            if m:
                found[f"{path.name}:{target}" if target else path.name] = m.group(1)
    return found


def test_dockerfiles_and_prod_up_call_the_same_entrypoints():
    in_images = set(_dockerfile_entrypoints().values())
    prod_up = (REPO / "scripts" / "prod_up.sh").read_text(encoding="utf-8")
    native = set(re.findall(r"(?:^\s*|then\s+)start\s+(?:\"[^\"]*\"|\S+)\s+([\w.-]+\.sh)\b", prod_up, re.M))
    assert in_images == {"rasa.sh", "actions.sh", "voice.sh", "admin.sh", "nginx.sh"}, in_images
    assert native == in_images, (native, in_images)
    for script in in_images:
        path = DOCKER / "entrypoints" / script
        assert path.exists() and os.access(path, os.X_OK), path
    # every image built by compose exists as a Dockerfile (and target) with an entry point
    compose = yaml.safe_load((DOCKER / "compose.yml").read_text(encoding="utf-8"))
    by_image = _dockerfile_entrypoints()
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if build:
            key = Path(build["dockerfile"]).name + (f":{build['target']}" if build.get("target") else "")
            assert key in by_image, f"{name}: {key} has no ENTRYPOINT"
    # the Rasa entry point uses the production endpoints file
    assert "endpoints.prod.yml" in (DOCKER / "entrypoints" / "rasa.sh").read_text(encoding="utf-8")


def test_endpoints_prod_resolves_to_postgres_and_redis():
    """Read bot/endpoints.prod.yml with Rasa's own reader: every ${VAR} substituted (a quoted
    "${VAR}" would stay literal), SQL tracker store on PostgreSQL, Redis lock store."""
    env = dict(os.environ, ACTION_ENDPOINT_URL="http://127.0.0.1:1/webhook", ACTION_SERVER_TOKEN="tok",
               DB_HOST="db.internal", DB_PORT="5432", DB_NAME="tthc", DB_USER="tthc", DB_PASSWORD="pw",
               REDIS_HOST="redis.internal", REDIS_PORT="6379", REDIS_PASSWORD="rpw", REDIS_DB="1",
               RASA_TELEMETRY_ENABLED="false")
    code = (
        "import json\n"
        "from rasa.utils.endpoints import read_endpoint_config as r\n"
        "f='endpoints.prod.yml'\n"
        "out={k: (lambda e: {'url': e.url, 'type': e.type, 'token': e.token, **e.kwargs})(r(f, k))\n"
        "     for k in ('action_endpoint', 'tracker_store', 'lock_store')}\n"
        "print('RESULT' + json.dumps(out, default=str))\n"
    )
    proc = subprocess.run([str(REPO / ".venv-rasa/bin/python"), "-c", code], cwd=REPO / "bot", env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert "${" not in json.dumps(result), result
    assert result["action_endpoint"]["token"] == "tok"
    ts = result["tracker_store"]
    assert (ts["type"], ts["dialect"], ts["url"], str(ts["port"]), ts["db"], ts["username"], ts["password"]) == (
        "brokers.tracker_store.StreamingSQLTrackerStore", "postgresql", "db.internal", "5432", "tthc", "tthc", "pw")
    ls = result["lock_store"]
    assert (ls["type"], ls["url"], str(ls["port"]), ls["password"]) == ("redis", "redis.internal", "6379", "rpw")


# --------------------------------------------------------------------------- the live topology


class Prod:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.ports = {"http": free_port(), "pg": free_port(), "redis": free_port(), "lb": free_port(),
                      "rasa": [free_port(), free_port()], "actions": [free_port(), free_port()]}
        self.env = {k: v for k, v in os.environ.items() if k not in ("KB_DATA_DIR", *SECRETS)}
        self.env.update(
            PROD_DIR=str(workdir), PROD_HTTP_PORT=str(self.ports["http"]), PROD_PG_PORT=str(self.ports["pg"]),
            PROD_REDIS_PORT=str(self.ports["redis"]), PROD_ACTIONS_LB_PORT=str(self.ports["lb"]),
            PROD_RASA_PORTS=" ".join(map(str, self.ports["rasa"])),
            PROD_ACTIONS_PORTS=" ".join(map(str, self.ports["actions"])), HOTLINE="1022",
        )
        self.url = f"http://127.0.0.1:{self.ports['http']}"

    def up(self) -> None:
        proc = subprocess.run(["bash", "scripts/prod_up.sh"], cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=420)
        if proc.returncode != 0:
            logs = "".join(f"\n--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
                           for p in sorted((self.dir / "logs").glob("*.log")))
            raise RuntimeError(f"prod_up.sh failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}{logs}")

    def down(self) -> None:
        subprocess.run(["bash", "scripts/prod_down.sh"], cwd=REPO, env=self.env, capture_output=True, timeout=120)

    def secrets(self) -> dict[str, str]:
        lines = (self.dir / "secrets.env").read_text().split()
        return dict(line.split("=", 1) for line in lines)

    def pid(self, name: str) -> int:
        return int((self.dir / "pids" / f"{name}.pid").read_text())

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = 90) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def say(self, sender: str, text: str) -> tuple[dict, str]:
        """One REST turn through nginx: the first message's ``custom`` and the instance that answered."""
        before = len(self.access_lines("/webhooks/rest/webhook"))
        status, body = self.request("POST", "/webhooks/rest/webhook",
                                    json.dumps({"sender": sender, "message": text}).encode())
        assert status == 200, (status, body[:300])
        messages = json.loads(body)
        assert messages, f"no reply to {text!r}"
        # nginx writes the access line just after the response: wait for it
        deadline = time.monotonic() + 5
        while len(lines := self.access_lines("/webhooks/rest/webhook")) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(lines) == before + 1, lines[-3:]
        return messages[0]["custom"], lines[-1].rsplit("upstream=", 1)[1]

    def access_lines(self, path: str) -> list[str]:
        log = (self.dir / "logs" / "nginx-access.log").read_text()
        return [ln for ln in log.splitlines() if f" {path}\"" in ln]

    def psql(self, sql: str) -> str:
        env = dict(self.env, PGPASSWORD=self.secrets()["DB_PASSWORD"])
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.ports["pg"]), "-U", "tthc", "-d", "tthc",
                               "-tA", "-c", sql], env=env, capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.fixture(scope="module")
def prod():
    if not (REPO / "models" / "rasa" / "latest.tar.gz").exists():
        pytest.fail("no trained model at models/rasa/latest.tar.gz: run scripts/train_bot.sh (make test does)")
    # Not pytest's tmp_path (private parents): PostgreSQL and Redis run as their own users and
    # must reach the folder; /tmp is reachable wherever the checkout lives.
    workdir = Path(tempfile.mkdtemp(prefix="tthc-prod-test-", dir="/tmp"))
    workdir.chmod(0o755)
    p = Prod(workdir)
    try:
        p.up()
        yield p
    finally:
        p.down()
        # keep the logs of the last run for a look after a failure
        kept = REPO / "test-artifacts" / "prod-logs"
        shutil.rmtree(kept, ignore_errors=True)
        if (workdir / "logs").is_dir():
            shutil.copytree(workdir / "logs", kept)
        shutil.rmtree(workdir, ignore_errors=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_conversation_keeps_its_procedure_across_instances(prod: Prod):
    sender = f"prod-{uuid.uuid4().hex[:8]}"
    first, up1 = prod.say(sender, "làm căn cước cần giấy tờ gì")
    code = first["procedure_code"]
    assert code and first["aspect"] == "documents", first
    follow, up2 = prod.say(sender, "còn lệ phí thì sao?")
    assert up1 != up2, f"both turns went to {up1}: round robin expected the other instance"
    assert follow["procedure_code"] == code and follow["aspect"] == "fee", follow
    third, up3 = prod.say(sender, "mất bao lâu?")
    assert third["procedure_code"] == code and third["aspect"] == "duration", third
    assert {up1, up2, up3} == {f"127.0.0.1:{p}" for p in prod.ports["rasa"]}
    # the conversation is in PostgreSQL (Rasa's SQLTrackerStore), not in either process
    intents = prod.psql(f"SELECT intent_name FROM events WHERE sender_id = '{sender}' AND type_name = 'user' ORDER BY id")
    assert intents.split() == ["ask_documents", "ask_fee", "ask_duration"], intents
    # memory per process, for docs/deploy.md (each action server has answered at least once now)
    figures = {name: round(rss_mb(prod.pid(name))) for name in ("rasa1", "rasa2", "actions1", "actions2")}
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "prod_rss_mb.json").write_text(json.dumps(figures, indent=1))
    assert all(200 < mb < 3000 for mb in figures.values()), figures


def test_widget_socketio_session_sticks_to_one_instance(prod: Prod):
    """socket.io through nginx, long-polling then WebSocket: every request of the session reaches
    the same Rasa instance (ip_hash), and the follow-up keeps its procedure."""
    from tests.test_widget_socketio import Client

    async def run():
        async with Client(prod.url, ["polling", "websocket"]) as c:
            first = (await c.ask("làm căn cước cần giấy tờ gì?", timeout=90))[-1]["custom"]
            follow = (await c.ask("còn lệ phí thì sao?", timeout=90))[-1]["custom"]
            return first, follow, c.sio.transport()

    first, follow, transport = asyncio.run(run())
    assert transport == "websocket"
    assert first["aspect"] == "documents" and first["procedure_code"], first
    assert follow["procedure_code"] == first["procedure_code"] and follow["aspect"] == "fee", follow
    time.sleep(0.5)
    # the polling handshake and the WebSocket upgrade (101) of its sid: on two different instances
    # the upgrade would be refused as an unknown session
    lines = prod.access_lines("/socket.io/")
    assert len(lines) >= 2 and any('" 101 ' in ln for ln in lines), lines
    assert len({ln.rsplit("upstream=", 1)[1] for ln in lines}) == 1, lines


def process_env(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def test_prod_up_wires_the_live_agent_desk(prod: Prod):
    secrets = prod.secrets()
    assert secrets.get("DESK_SECRET"), "prod_up.sh generates DESK_SECRET with the other secrets"
    for name in ("actions1", "actions2"):
        env = process_env(prod.pid(name))
        assert env.get("AGENT_DESK_URL", "").endswith("/admin/desk/api"), env.get("AGENT_DESK_URL")
        assert env.get("DESK_SECRET") == secrets["DESK_SECRET"] and env.get("HANDOFF_PAUSE") == "1"
    for name in ("rasa1", "rasa2"):
        assert process_env(prod.pid(name)).get("CHANNEL_REDIS_URL") == f"redis://127.0.0.1:{prod.ports['redis']}/1"


def rasa_direct(prod: Prod, port: int, method: str, path: str, body: object = None) -> tuple[int, object]:
    """Rasa's own port, not nginx: the desk (the admin app) calls an instance's internal address."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:500]


def desk_says(prod: Prod, port: int, sender: str, channel: str, text: str) -> None:
    """What admin/desk_rasa.py's append() sends: an operator's BotUttered, delivered on the channel."""
    token = prod.secrets()["RASA_AUTH_TOKEN"]
    query = f"output_channel={channel}&execute_side_effects=true&token={token}"
    status, body = rasa_direct(prod, port, "POST", f"/conversations/{sender}/tracker/events?{query}",
                               [{"event": "bot", "text": text, "metadata": {"desk_operator": True}}])
    assert status == 200, (status, body)


def test_desk_reply_reaches_a_widget_held_by_the_other_instance(prod: Prod):
    """A widget connected through nginx holds its socket.io session on instance A (ip_hash); the
    desk's events POST goes to instance B's own port. B's emit to the session's room crosses to A
    through Redis (python-socketio's Redis manager) and reaches the widget. Timed for docs/desk.md."""
    from tests.test_widget_socketio import Client

    ports = prod.ports["rasa"]
    before = len(prod.access_lines("/socket.io/"))

    async def run():
        async with Client(prod.url, ["polling", "websocket"]) as c:
            await asyncio.sleep(0.5)  # the WebSocket upgrade
            lines = prod.access_lines("/socket.io/")[before:]
            holder = {ln.rsplit("upstream=", 1)[1] for ln in lines}
            assert len(holder) == 1, lines
            port_a = int(holder.pop().rsplit(":", 1)[1])
            port_b = next(p for p in ports if p != port_a)
            samples = []
            for i in range(12):
                text = f"Tổng đài viên: trả lời số {i}"
                start = time.perf_counter()
                await asyncio.to_thread(desk_says, prod, port_b, c.session_id, "socketio", text)
                got = await asyncio.wait_for(c.replies.get(), 15)
                samples.append((time.perf_counter() - start) * 1000)
                assert got["text"] == text, got
                assert "procedure_code" in got["custom"], got
            return port_a, port_b, samples, c.sio.transport()

    port_a, port_b, samples, transport = asyncio.run(run())
    assert port_a != port_b and transport == "websocket"
    samples.sort()
    figures = {"samples_ms": [round(x, 1) for x in samples], "p50_ms": round(samples[len(samples) // 2], 1),
               "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 1)}
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "desk_cross_instance_latency.json").write_text(json.dumps(figures, indent=1))


def test_rest_out_of_turn_message_crosses_instances(prod: Prod):
    """An operator's reply queued by instance B (output_channel=rest) is handed out by instance A with
    the citizen's next request (the REST queue in Redis), once."""
    port_a, port_b = prod.ports["rasa"]
    sender = f"prod-desk-rest-{uuid.uuid4().hex[:8]}"
    desk_says(prod, port_b, sender, "rest", "Tổng đài viên: hồ sơ của anh đã nhận")
    status, messages = rasa_direct(prod, port_a, "POST", "/webhooks/rest/webhook", {"sender": sender, "message": ""})
    assert status == 200 and [m.get("text") for m in messages] == ["Tổng đài viên: hồ sơ của anh đã nhận"], messages
    assert messages[0]["recipient_id"] == sender and "procedure_code" in messages[0]["custom"]
    status, again = rasa_direct(prod, port_b, "POST", "/webhooks/rest/webhook", {"sender": sender, "message": ""})
    assert status == 200 and "Tổng đài viên" not in json.dumps(again, ensure_ascii=False), again


def test_rasa_api_and_internal_paths_are_not_exposed(prod: Prod):
    token = prod.secrets()["RASA_AUTH_TOKEN"]
    for path in ("/conversations/x/tracker", f"/conversations/x/tracker?token={token}", "/model", "/status",
                 "/", "/webhook", "/health", "/metrics"):
        status, _ = prod.request("GET", path)
        assert status == 404, (path, status)
    status, _ = prod.request("POST", f"/model/parse?token={token}", b'{"text": "xin chao"}')
    assert status == 404
    # dot segments and encoded slashes are normalised by nginx before routing
    for raw in ("/webhooks/../conversations/x/tracker", "/webhooks/rest/..%2F..%2Fconversations/x/tracker",
                "/widget/%2e%2e/model"):
        conn = http.client.HTTPConnection("127.0.0.1", prod.ports["http"], timeout=10)
        conn.request("GET", raw)
        status = conn.getresponse().status
        conn.close()
        assert status in (400, 404), (raw, status)


def test_oversized_body_is_refused(prod: Prod):
    status, _ = prod.request("POST", "/webhooks/rest/webhook", b'{"sender":"big","message":"' + b"a" * 400_000 + b'"}')
    assert status == 413


def test_public_webhooks_are_rate_limited_per_address(prod: Prod):
    codes = [prod.request("GET", "/webhooks/rest/")[0] for _ in range(45)]
    assert codes.count(429) > 0 and codes[0] == 200, codes
    time.sleep(3)  # let the bucket refill for the next test


def test_a_killed_rasa_instance_loses_no_conversation(prod: Prod):
    sender = f"prod-kill-{uuid.uuid4().hex[:8]}"
    first, up1 = prod.say(sender, "làm hộ chiếu cần giấy tờ gì")
    code = first["procedure_code"]
    assert code, first
    victim = {f"127.0.0.1:{p}": f"rasa{i + 1}" for i, p in enumerate(prod.ports["rasa"])}[up1]
    os.kill(prod.pid(victim), signal.SIGKILL)
    # until the kernel has closed its socket, a connection can still be accepted into the dead
    # process's backlog and then reset: that turn was "sent" and nginx rightly does not resend it
    port = int(up1.rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(0.05)
        except OSError:
            break
    # the next turns: the dead instance refuses the connection, nginx passes the turn on
    for text, aspect in (("còn lệ phí thì sao?", "fee"), ("mất bao lâu?", "duration")):
        custom, upstream = prod.say(sender, text)
        assert upstream.split(", ")[-1] != up1, upstream
        assert custom["procedure_code"] == code and custom["aspect"] == aspect, custom
