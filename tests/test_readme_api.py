"""The Python API exactly as README.md shows it, in a fresh interpreter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.conftest import REPO


def test_readme_python_api_runs_as_documented():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(from knowledge_base import search\n.*?)```", readme, re.S)
    assert block, "README no longer documents `from knowledge_base import search`"
    code = block.group(1).strip().splitlines()
    script = "\n".join([*code[:-1], "import json", f"hits = {code[-1].split('#')[0].strip()}",
                        "print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False))"])
    env = {k: v for k, v in os.environ.items() if k != "KB_DATA_DIR"}  # the live catalogue, as a user has it
    res = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    hits = json.loads(res.stdout.strip().splitlines()[-1])
    assert 1 <= len(hits) <= 5
    assert {"code", "name", "score", "confidence", "matched_fields"} <= set(hits[0])
    assert any("căn cước" in h["name"].lower() for h in hits[:3])


def test_search_stays_a_function_after_the_module_is_imported():
    import knowledge_base
    import knowledge_base.retrieval  # noqa: F401 - importing the implementation must not shadow the API

    assert callable(knowledge_base.search) and knowledge_base.search.__module__ == "knowledge_base"
