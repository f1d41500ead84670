"""The Rasa test stories (bot/tests/test_stories.yml) against the trained model."""

from __future__ import annotations

import os
import subprocess

from tests.servers import REPO


def test_stories_pass(tmp_path):
    model = REPO / "models" / "rasa" / "latest.tar.gz"
    assert model.exists(), "no trained model: run scripts/train_bot.sh (make test does)"
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'bot'}", RASA_TELEMETRY_ENABLED="false")
    res = subprocess.run(
        [str(REPO / ".venv-rasa/bin/rasa"), "test", "core", "--model", str(model), "--stories", "tests/test_stories.yml",
         "--out", str(tmp_path), "--fail-on-prediction-errors"],
        cwd=REPO / "bot", env=env, capture_output=True, text=True, timeout=900,
    )
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text()[:4000] if failed.exists() else res.stdout[-3000:] + res.stderr[-3000:]
    assert res.returncode == 0, detail
