"""The admin's command line, end to end in a temporary data directory."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "portal_sample.jsonl"


def kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KB_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "knowledge_base", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=600)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("kbcli")
    res = kb(d, "import", str(FIXTURE))
    assert res.returncode == 0, res.stderr
    return d


def test_import_reports_and_builds(data_dir):
    assert (data_dir / "imported.jsonl").exists()
    assert (data_dir / "current" / "manifest.json").exists()
    manifest = json.loads((data_dir / "current" / "manifest.json").read_text())
    assert manifest["n_procedures"] > manifest["n_curated"] >= 60


def test_search_json(data_dir):
    res = kb(data_dir, "search", "lam so do het bao nhieu tien", "--k", "3", "--json")
    assert res.returncode == 0, res.stderr
    hits = json.loads(res.stdout)
    assert len(hits) == 3 and set(hits[0]) == {"code", "name", "score"}
    assert "đất" in hits[0]["name"].lower()


def test_bad_file_leaves_live_catalogue_untouched(data_dir, tmp_path):
    before = (data_dir / "imported.jsonl").read_bytes()
    current = (data_dir / "current").resolve()
    bad = tmp_path / "bad.jsonl"
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    bad.write_text(lines[0] + "\n{broken json\n", encoding="utf-8")
    res = kb(data_dir, "import", str(bad))
    assert res.returncode == 2
    assert re.search(r"(dòng|line)\W*2\b", res.stdout + res.stderr, re.IGNORECASE), res.stdout + res.stderr
    assert (data_dir / "imported.jsonl").read_bytes() == before
    assert (data_dir / "current").resolve() == current


def test_eval_prints_metrics(data_dir, tmp_path):
    qs = tmp_path / "q.jsonl"
    qs.write_text(json.dumps({"question": "làm giấy khai sinh cho con", "codes": ["1.001193"]}, ensure_ascii=False) + "\n")
    res = kb(data_dir, "eval", str(qs), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"n", "hit@1", "hit@3", "mrr"} and out["n"] == 1


def test_eval_rejects_bad_file(data_dir, tmp_path):
    qs = tmp_path / "q.jsonl"
    qs.write_text('{"question": 1}\n')
    res = kb(data_dir, "eval", str(qs))
    assert res.returncode != 0
