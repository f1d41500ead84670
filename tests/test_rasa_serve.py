"""docker/entrypoints/rasa_serve.py's cut of Rasa's debug-log deep copies (the launcher every Rasa process uses)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = r'''
import ast, inspect, sys
sys.path.insert(0, sys.argv[1])
import rasa_serve
from rasa.core import processor

tree = ast.parse(inspect.getsource(processor))
parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
copies = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "copy.deepcopy"]
assert len(copies) == 6, len(copies)
for call in copies:  # each is the value of a keyword argument of a structlogger.debug call
    kw = parents[call]
    log = parents[kw]
    assert isinstance(kw, ast.keyword) and ast.unparse(log.func) == "structlogger.debug", ast.unparse(log)

assert rasa_serve.no_deep_copies_for_debug_logs() is True
events = [{"event": "user"}]
assert processor.copy.deepcopy(events) is events
print("OK")
'''


def test_debug_log_arguments_are_passed_uncopied_and_nothing_else_is_touched() -> None:
    """Every deep copy in Rasa's processor is a debug-log argument; the launcher passes those uncopied."""
    assert sys.version_info >= (3, 11)
    out = subprocess.run([str(REPO / ".venv-rasa/bin/python"), "-c", SCRIPT, str(REPO / "docker" / "entrypoints")],
                         cwd=REPO / "bot", capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"})
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout[-2000:] + out.stderr[-4000:]
