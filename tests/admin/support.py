"""Shared helpers for the admin tests: a data directory with a seeded database, the admin server, users.

Why copy the live index instead of building one: a full build trains the
dense encoder (30 s or more on 2 cores); the live ``models/kb/current`` was
built from the same curated YAML that seeds version 1, which the copy
checks, and it falls back to a real build when they differ.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
PY = str(REPO / ".venv-ml" / "bin" / "python")
PASSWORD = "mat-khau-thu-nghiem-1"
USERS = {"bientap": "editor", "xuatban": "publisher", "chixem": "viewer", "nannhan": "editor"}


def kb_env(data: Path, url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"KB_DATA_DIR", "KB_DATABASE_URL"}}
    env.update(KB_DATA_DIR=str(data), PYTHONPATH=f"{REPO}:{REPO / 'bot'}", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    if url:
        env["KB_DATABASE_URL"] = url
    return env


def run(args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([PY, *args], env=env, cwd=REPO, capture_output=True, text=True, input=stdin, timeout=timeout)


def prepare_data_dir(data: Path) -> Path:
    """A data directory whose ``current`` index matches the curated YAML (copied from models/kb when it does)."""
    from knowledge_base import store

    data.mkdir(parents=True, exist_ok=True)
    want = store.catalogue_version(store.load_all(imported=data / "imported.jsonl"))
    live = REPO / "models" / "kb" / "current"
    manifest = live / "manifest.json"
    if manifest.exists() and f'"catalogue_version": "{want}"' in manifest.read_text(encoding="utf-8"):
        target = data / live.resolve().name
        shutil.copytree(live.resolve(), target)
        (data / "current").symlink_to(target.name)
    else:
        res = run(["-m", "knowledge_base", "build"], kb_env(data))
        assert res.returncode == 0, res.stdout + res.stderr
    return data


def seed(env: dict[str, str]) -> None:
    res = run(["-m", "knowledge_base", "db", "init", "--actor", "test"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    for user, role in USERS.items():
        res = run(["-m", "admin", "create-admin", user, "--role", role, "--password-stdin"], env, stdin=PASSWORD + "\n")
        assert res.returncode == 0, res.stdout + res.stderr


class AdminServer:
    """``python -m admin serve`` as a subprocess on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AdminServer:
        self.proc = subprocess.Popen([PY, "-m", "admin", "serve", "--port", str(self.port)], env=self.env, cwd=REPO,
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"admin server exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        raise RuntimeError(f"admin server not up: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def python_exe() -> str:
    return sys.executable


def to_cp1258(text: str) -> bytes:
    """Encode as Windows-1258 writes Vietnamese: precomposed letters where the code page has them, else base + tone mark."""
    import unicodedata

    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            nfd = unicodedata.normalize("NFD", ch)
            tones = "".join(c for c in nfd if c in "\u0300\u0301\u0303\u0309\u0323")
            base = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in tones))
            out += (base + tones).encode("cp1258")
    return bytes(out)
