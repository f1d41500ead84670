"""``python -m knowledge_base`` db init / import (to the draft) / diff / publish / rollback / history, end to end."""

from __future__ import annotations

import json

import pytest

from tests.admin.support import REPO, kb_env, prepare_data_dir, run

FIXTURE = REPO / "tests" / "fixtures" / "portal_sample.jsonl"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    data = prepare_data_dir(tmp_path_factory.mktemp("cli-versions") / "kb")
    return kb_env(data)


def kb(env: dict[str, str], *args: str):  # noqa: ANN201
    return run(["-m", "knowledge_base", *args], env)


def test_versions_from_the_command_line(env, tmp_path):
    from pathlib import Path

    data = Path(env["KB_DATA_DIR"])
    res = kb(env, "db", "init", "--actor", "ops")
    assert res.returncode == 0 and "phiên bản đang dùng: 1" in res.stdout, res.stdout + res.stderr
    current = (data / "current").resolve()

    # a file with invalid records goes to the draft; publishing it lists every problem and changes nothing
    res = kb(env, "import", str(FIXTURE), "--actor", "ops")
    assert res.returncode == 0 and "bản nháp" in res.stdout, res.stdout + res.stderr
    assert not (data / "imported.jsonl").exists(), "with a database the import must not touch the live catalogue"
    res = kb(env, "diff")
    assert res.returncode == 0 and "+ thêm [9.900002]" in res.stdout, res.stdout
    res = kb(env, "publish", "--actor", "ops")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "[9.900002]" in res.stderr and "[9.900003]" in res.stderr and "Không có gì thay đổi" in res.stderr
    assert (data / "current").resolve() == current
    assert kb(env, "discard").returncode == 0

    # a valid one publishes, incrementally, and rolls back
    good = tmp_path / "good.jsonl"
    line = next(x for x in FIXTURE.read_text(encoding="utf-8").splitlines() if json.loads(x)["ma_thu_tuc"] == "9.900001")
    good.write_text(line + "\n", encoding="utf-8")
    assert kb(env, "import", str(good), "--actor", "ops").returncode == 0
    res = kb(env, "publish", "--actor", "pub")
    assert res.returncode == 0 and "Đã xuất bản phiên bản #" in res.stdout, res.stdout + res.stderr
    assert "tăng dần" in res.stdout  # one new procedure out of 80: the live index is reused
    assert (data / "current").resolve() != current
    res = kb(env, "history")
    lines = res.stdout.splitlines()
    assert "đang dùng" in lines[0] and "published" in lines[0] and lines[-1].startswith("#1 ")
    res = kb(env, "search", "9.900001 thu tuc thu nghiem", "--json")
    assert res.returncode == 0
    res = kb(env, "rollback", "1", "--actor", "pub")
    assert res.returncode == 0 and "#1" in res.stdout, res.stdout + res.stderr
    assert (data / "current").resolve() == current
    res = kb(env, "history", "--audit", "--limit", "500")
    text = res.stdout
    for action in ("seed", "import", "discard", "publish", "rollback"):
        assert f" {action} " in text, text
    assert "pub rollback" in text and "ops import v" in text
    res = kb(env, "rollback", "42")
    assert res.returncode == 2 and "không tồn tại" in res.stderr
