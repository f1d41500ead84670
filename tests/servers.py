"""Start the real action server and Rasa server on loopback for integration tests."""

from __future__ import annotations

import json
import os
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


class Servers:
    """Both servers as subprocesses, exactly as `make run` starts them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.rasa_port = free_port()
        self.actions_port = free_port()
        self.procs: list[subprocess.Popen] = []

    def start(self) -> Servers:
        model = REPO / "models" / "rasa" / "latest.tar.gz"
        if not model.exists():
            raise RuntimeError(f"no trained model at {model}: run scripts/train_bot.sh (make test does)")
        env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'bot'}", RASA_TELEMETRY_ENABLED="false", HOTLINE="1022")
        endpoints = self.workdir / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n')
        alog, rlog = self.workdir / "actions.log", self.workdir / "rasa.log"
        self.procs.append(subprocess.Popen(
            [str(REPO / ".venv-ml/bin/python"), "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.actions_port)],
            cwd=REPO, env=env, stdout=alog.open("w"), stderr=subprocess.STDOUT,
        ))
        self.procs.append(subprocess.Popen(
            [str(REPO / ".venv-rasa/bin/rasa"), "run", "--model", str(model), "-i", "127.0.0.1", "-p", str(self.rasa_port),
             "--credentials", "credentials.yml", "--endpoints", str(endpoints)],
            cwd=REPO / "bot", env=env, stdout=rlog.open("w"), stderr=subprocess.STDOUT,
        ))
        wait_http(f"http://127.0.0.1:{self.actions_port}/health", self.procs[0], 180, alog)
        wait_http(f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/", self.procs[1], 240, rlog)
        return self

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
