"""Shared fixtures: a knowledge-base index built from the project's own mini catalogue."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))


def shared_path(rel: str, env: str) -> Path:
    """Path of a shared data file; fails loudly when missing unless ALLOW_MISSING_SHARED=1."""
    path = Path(os.environ.get(env, SHARED / rel))
    if not path.exists():
        msg = f"shared data missing: {path} (set {env} or put ../shared next to the checkout)"
        if os.environ.get("ALLOW_MISSING_SHARED") == "1":
            pytest.skip(msg)
        pytest.fail(msg)
    return path


@pytest.fixture(scope="session")
def mini_index(tmp_path_factory: pytest.TempPathFactory):
    """Build an index of tests/fixtures/catalogue in a temporary KB_DATA_DIR."""
    from knowledge_base import index as kb_index
    from knowledge_base import store

    data = tmp_path_factory.mktemp("kb")
    old = os.environ.get("KB_DATA_DIR")
    os.environ["KB_DATA_DIR"] = str(data)
    procs = store.load_curated(FIXTURES / "catalogue")
    path = kb_index.build(procs, log=lambda *_: None)
    yield path, procs
    if old is None:
        os.environ.pop("KB_DATA_DIR", None)
    else:
        os.environ["KB_DATA_DIR"] = old


WIDGET_API_TOKEN = "widget-test-token"
CROSS_ORIGIN = "http://127.0.0.1:5999"  # a page host the widget servers are told to allow


@pytest.fixture(scope="session")
def widget_servers(tmp_path_factory: pytest.TempPathFactory):
    """The real action server and Rasa server with bot/credentials.yml, as `make run` starts them,
    plus the HTTP API (token-protected) so tests can read trackers; shared by the widget tests."""
    from tests.servers import Servers

    servers = Servers(
        tmp_path_factory.mktemp("widget-servers"),
        env={"WIDGET_ALLOWED_ORIGINS": CROSS_ORIGIN},
        rasa_args=["--enable-api", "--auth-token", WIDGET_API_TOKEN],
    ).start()
    yield servers
    servers.stop()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def artifacts_dir(name: str) -> Path:
    """Where a browser suite saves its screenshots (git-ignored; ARTIFACTS_DIR overrides the root)."""
    path = Path(os.environ.get("ARTIFACTS_DIR", REPO / "test-artifacts")) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless chromium driven by Playwright; fails (never skips) when it is missing."""
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed: run scripts/setup_test_env.sh (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """PostgreSQL 15 as the storage tests start it (scripts/pg_test.sh); ``KB_TEST_POSTGRES_URL`` names another."""
    url = os.environ.get("KB_TEST_POSTGRES_URL")
    if url:
        return url
    res = subprocess.run(["bash", str(REPO / "scripts" / "pg_test.sh"), "start"], capture_output=True, text=True,
                         timeout=600)
    if res.returncode != 0:
        pytest.fail(f"PostgreSQL 15 could not be started by scripts/pg_test.sh:\n{res.stdout}\n{res.stderr}")
    return res.stdout.strip().splitlines()[-1]
