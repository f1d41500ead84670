"""docker/entrypoints/rasa_serve.py, the launcher every Rasa process uses: its cuts give Rasa's own answers."""

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


VALIDATOR_SCRIPT = r'''
import copy, importlib.util, json, sys
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

spec_ = importlib.util.spec_from_file_location("rasa_serve", sys.argv[1])
serve = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(serve)
from jsonschema.validators import validator_for
spec = RemoteAction.action_response_format_spec()
quick = serve.event_by_event_check(spec, validator_for(spec))
assert quick is not None

user = {"event": "user", "timestamp": 1.0, "text": "hỏi", "parse_data": {"intent": {"name": "ask_fee", "confidence": 0.9},
        "entities": [{"entity": "aspect", "value": "lệ phí", "start": 0, "end": 6}], "text": "hỏi"}}
good = {"events": [user, {"event": "action", "name": "action_answer", "policy": None, "confidence": 1.0},
                   {"event": "slot", "name": "current_procedure", "value": "1.001193", "timestamp": None},
                   {"event": "bot", "text": "trả lời", "data": {"custom": {"x": [1, 2]}}, "metadata": {}},
                   {"event": "session_started"}, {"event": "active_loop", "name": None}, {"event": "followup", "name": "a"},
                   {"event": "entities", "entities": [{"entity": "e", "value": 1}]}, {"event": "reset_slots"}],
        "responses": [{"text": "x"}, {"custom": {}}]}
cases = [good, {}, {"events": []}, {"responses": []}]
bad_edits = [
    lambda r: r["events"].append({"event": "slot", "name": "x"}),            # slot without value
    lambda r: r["events"].append({"event": "no_such_event"}),                 # no alternative
    lambda r: r["events"].append({"name": "x"}),                              # no "event"
    lambda r: r["events"].append({"event": 3}),                               # event not a string
    lambda r: r["events"].append({"event": "user", "text": 5}),               # a user field of the wrong type
    lambda r: r["events"][0]["parse_data"]["entities"][0].pop("value"),       # an entity without value
    lambda r: r["events"].append({"event": "action", "hide_rule_turn": "no"}),
    lambda r: r["events"].append({"event": "bot", "timestamp": "now"}),       # the common part
    lambda r: r["events"].append({"event": "bot", "metadata": []}),
    lambda r: r["events"].append("user"),                                     # not an object
    lambda r: r.__setitem__("events", {"event": "user"}),                     # not an array
    lambda r: r.__setitem__("responses", [1]),
    lambda r: r.__setitem__("responses", {}),
    lambda r: r["events"][0].__setitem__("parse_data", {"response_selector": {}}),  # both of its oneOf match
]
for edit in bad_edits:
    case = copy.deepcopy(good)
    edit(case)
    cases.append(case)
cases += [[], "x", None]
agree = 0
for case in cases:
    try:
        validate(case, spec)
        full = True
    except ValidationError:
        full = False
    assert quick(case) == full, (json.dumps(case, ensure_ascii=False)[:300], full)
    agree += 1
assert sum(1 for c in cases if quick(c)) == 4  # the four valid ones; every edited one is invalid

serve.validate_action_results_with_one_validator()  # installed: valid passes, invalid raises Rasa's error
action = RemoteAction("action_answer", None)
assert action._validate_action_result(good) is True
try:
    action._validate_action_result(cases[4])
    raise SystemExit("an invalid response passed")
except ValidationError as exc:
    assert "Failed to validate Action server response" in exc.message
print("OK", agree)
'''


def test_served_action_response_check_answers_as_the_schema() -> None:
    """rasa_serve.py checks each returned event against its own type's schema: the same verdict as
    ``jsonschema.validate`` with Rasa's whole schema, for valid responses and for each way to break one."""
    env = {"PYTHONPATH": str(REPO / "bot"), "PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"}
    out = subprocess.run([str(REPO / ".venv-rasa/bin/python"), "-c", VALIDATOR_SCRIPT,
                          str(REPO / "docker" / "entrypoints" / "rasa_serve.py")], cwd=REPO / "bot",
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout[-2000:] + out.stderr[-4000:]
