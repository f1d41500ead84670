"""Start the real action server and Rasa server on loopback for integration tests."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early ({proc.returncode}); log tail:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    raise RuntimeError(f"{url} not up after {timeout}s; log tail:\n{log.read_text()[-3000:]}")


def channel_env_defaults() -> dict[str, str]:
    """Empty values for the variables bot/credentials.yml reads (scripts/run.sh sets the same):
    Rasa refuses to start when a ``${VAR}`` in credentials.yml is not set at all."""
    names = (REPO / "scripts" / "channel_env.txt").read_text(encoding="utf-8").split()
    return {name: "" for name in names if name and not name.startswith("#")}


class Servers:
    """Both servers as subprocesses, exactly as `make run` starts them."""

    def __init__(self, workdir: Path, credentials: Path | None = None, env: dict[str, str] | None = None,
                 rasa_args: list[str] | None = None, records_url: str | None = None) -> None:
        """``credentials``: a credentials.yml other than bot/credentials.yml; ``env``: extra
        environment for both servers; ``rasa_args``: extra ``rasa run`` arguments (e.g. --cors);
        ``records_url``: record turns there with the event broker (bot/brokers/recording.py)."""
        self.records_url = records_url
        self.workdir = workdir
        self.rasa_port = free_port()
        self.actions_port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.credentials = credentials or REPO / "bot" / "credentials.yml"
        self.extra_env = env or {}
        self.rasa_args = rasa_args or []
        self.rasa_starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def start(self) -> Servers:
        model = REPO / "models" / "rasa" / "latest.tar.gz"
        if not model.exists():
            raise RuntimeError(f"no trained model at {model}: run scripts/train_bot.sh (make test does)")
        # The servers answer from the live catalogue (models/kb/current), never from a test
        # fixture's temporary KB_DATA_DIR that an earlier test left in this process's environment.
        self.env = dict(channel_env_defaults(), **{k: v for k, v in os.environ.items() if k != "KB_DATA_DIR"})
        self.env.update(PYTHONPATH=f"{REPO}:{REPO / 'bot'}", RASA_TELEMETRY_ENABLED="false", HOTLINE="1022",
                        **self.extra_env)
        self.endpoints = self.workdir / "endpoints.yml"
        self.env.setdefault("ACTION_SERVER_TOKEN", secrets.token_urlsafe(16))
        self.endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n'
                                  f'  token: "{self.env["ACTION_SERVER_TOKEN"]}"\n')
        if self.records_url:
            with self.endpoints.open("a") as f:
                f.write(f'event_broker:\n  type: brokers.recording.ConversationRecorder\n  url: "{self.records_url}"\n'
                        'tracker_store:\n  type: brokers.tracker_store.StreamingInMemoryTrackerStore\n')
        alog = self.workdir / "actions.log"
        self.procs.append(subprocess.Popen(
            [str(REPO / ".venv-ml/bin/python"), "-m", "actions.server", "--port", str(self.actions_port)],
            cwd=REPO, env=self.env, stdout=alog.open("w"), stderr=subprocess.STDOUT,
        ))
        self.procs.append(self._spawn_rasa(model))
        wait_http(f"http://127.0.0.1:{self.actions_port}/health", self.procs[0], 180, alog)
        self.wait_rasa()
        return self

    @property
    def rasa_log(self) -> Path:
        return self.workdir / f"rasa-{self.rasa_starts}.log"

    def _spawn_rasa(self, model: Path | None = None) -> subprocess.Popen:
        model = model or REPO / "models" / "rasa" / "latest.tar.gz"
        self.rasa_starts += 1
        return subprocess.Popen(
            # "rasa run" through the launcher that make run and the containers use
            [str(REPO / ".venv-rasa/bin/python"), str(REPO / "docker/entrypoints/rasa_serve.py"), "run", "--model", str(model), "-i", "127.0.0.1", "-p", str(self.rasa_port),
             "--credentials", str(self.credentials), "--endpoints", str(self.endpoints), *self.rasa_args],
            cwd=REPO / "bot", env=self.env, stdout=self.rasa_log.open("w"), stderr=subprocess.STDOUT,
        )

    def wait_rasa(self, timeout: float = 240) -> None:
        wait_http(f"{self.url}/webhooks/rest/", self.procs[1], timeout, self.rasa_log)

    def stop_rasa(self) -> None:
        """Stop only the Rasa server (the action server keeps running)."""
        proc = self.procs[1]
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start_rasa(self) -> None:
        """Start the Rasa server again on the same port (after ``stop_rasa``)."""
        self.procs[1] = self._spawn_rasa()
        self.wait_rasa()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def post(self, body: bytes | dict, timeout: float = 30) -> tuple[int, object]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook", data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def say(self, sender: str, text: str) -> list[dict]:
        status, messages = self.post({"sender": sender, "message": text})
        assert status == 200, (status, messages)
        assert isinstance(messages, list) and messages, f"no reply to {text!r}"
        return messages
