"""Where one text turn's CPU goes, end to end: NLU, policies, tracker store, action call, search.

Two profiles with cProfile (the standard library's; no extra dependency):

* the Rasa side, in .venv-rasa: the trained model (models/rasa/latest.tar.gz) in an in-process
  ``Agent`` with a SQL tracker store (SQLite file: the same SQLTrackerStore code path as PostgreSQL,
  without a server) and the real action server (``python -m actions.server``, started here)
  behind its HTTP endpoint, answering the suite's follow-up conversations;
* the action side, in .venv-ml: the action calls the Rasa side sent, recorded, replayed through
  rasa-sdk's executor in-process.

Each table gives milliseconds per turn (cumulative time of the stage's function, divided by the
number of turns; cProfile's own overhead inflates Python-heavy stages, so read the shares, and
the unprofiled wall time printed above each table). Async stages count their running time only,
not their waits (the action call's wait on the action server is in the second table).

    .venv-ml/bin/python benchmarks/profile_turn.py [--conversations 8] [--stock-rasa]

By default the Rasa side runs with the cuts docker/entrypoints/rasa_serve.py makes in production
(``--stock-rasa``: without them, to see what they save).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bot"))
from benchmarks.common import table  # noqa: E402
from benchmarks.load.scenarios import follow_up_conversations  # noqa: E402


def stage_table(stats: pstats.Stats, stages: list[tuple[str, Callable]], turns: int) -> list[list]:
    """Rows of (stage, ms per turn, calls per turn) from the cumulative time of each function."""
    by_code = {(f, line, name): v for (f, line, name), v in stats.stats.items()}  # type: ignore[attr-defined]
    rows = []
    for label, fn in stages:
        code = getattr(fn, "__code__", None)
        if code is None:
            continue
        entry = by_code.get((code.co_filename, code.co_firstlineno, code.co_name))
        if entry is None:
            rows.append([label, "-", 0])
            continue
        _cc, ncalls, _tt, ct, _callers = entry
        rows.append([label, f"{ct * 1000 / turns:.1f}", f"{ncalls / turns:.1f}"])
    return rows


def top_functions(stats: pstats.Stats, turns: int, n: int = 12) -> list[list]:
    """The functions with the most own time (where the CPU actually is)."""
    items = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]  # type: ignore[attr-defined]
    return [[f"{Path(f).name}:{line} {name}", f"{v[2] * 1000 / turns:.2f}"] for (f, line, name), v in items]


# --------------------------------------------------------------------------- Rasa side (.venv-rasa)


def served_cuts() -> None:
    """What docker/entrypoints/rasa_serve.py changes in a served Rasa (no jax, the action response
    schema checked once), applied here too so that the profile is the production process's."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("rasa_serve", REPO / "docker" / "entrypoints" / "rasa_serve.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.block_jax()
    module.validate_action_results_with_one_validator()


def rasa_side(actions_url: str, token: str, conversations: int, out: Path, stock: bool = False) -> None:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    if not stock:
        served_cuts()
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent, load_agent
    from rasa.core.channels.channel import UserMessage
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils import endpoints as rasa_endpoints

    from components.gibberish import NotVietnameseGuard
    from components.tokenizer import UndertheseaTokenizer

    recorded: list[dict] = []
    original = rasa_endpoints.EndpointConfig.request

    async def recording_request(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if kwargs.get("json") and "next_action" in kwargs["json"]:
            recorded.append(kwargs["json"])
        return await original(self, *args, **kwargs)

    rasa_endpoints.EndpointConfig.request = recording_request  # type: ignore[method-assign]
    db = out / "tracker.db"
    endpoints = AvailableEndpoints(
        action=rasa_endpoints.EndpointConfig(actions_url, token=token),
        tracker_store=rasa_endpoints.EndpointConfig(type="sql", dialect="sqlite", db=str(db)),
    )
    t0 = time.perf_counter()
    agent: Agent = asyncio.run(load_agent(model_path=str(REPO / "models/rasa/latest.tar.gz"), endpoints=endpoints))
    store = getattr(agent.tracker_store, "_tracker_store", agent.tracker_store)  # inside FailSafeTrackerStore
    assert isinstance(store, SQLTrackerStore), store
    print(f"Rasa: model loaded in {time.perf_counter() - t0:.1f}s")
    convs = follow_up_conversations()

    async def run(first: int, count: int, tag: str) -> tuple[int, list[float]]:
        walls = []
        for c in range(first, first + count):
            conv = convs[c % len(convs)]
            for turn in conv.turns:
                t = time.perf_counter()
                await agent.handle_message(UserMessage(turn.text, sender_id=f"{tag}-{c}"))
                walls.append(time.perf_counter() - t)
        return len(walls), walls

    asyncio.run(run(0, 2, "warm"))
    n, walls = asyncio.run(run(2, conversations, "plain"))
    walls.sort()
    print(f"Rasa: {n} turns unprofiled: wall p50 {walls[len(walls) // 2] * 1000:.0f} ms, "
          f"p95 {walls[int(0.95 * len(walls))] * 1000:.0f} ms per turn (action server included)")
    recorded.clear()
    prof = cProfile.Profile()
    prof.enable()
    n, _ = asyncio.run(run(2, conversations, "prof"))
    prof.disable()
    stats = pstats.Stats(prof)
    stages = [
        ("whole turn (Agent.handle_message)", Agent.handle_message),
        ("tracker: fetch from the SQL store", MessageProcessor.fetch_tracker_and_update_session),
        ("NLU: parse_message (whole pipeline)", MessageProcessor.parse_message),
        ("  UndertheseaTokenizer", UndertheseaTokenizer.process),
        ("  RegexFeaturizer", RegexFeaturizer.process),
        ("  CountVectorsFeaturizer (x3)", CountVectorsFeaturizer.process),
        ("  DIETClassifier", DIETClassifier.process),
        ("  FallbackClassifier", FallbackClassifier.process),
        ("  NotVietnameseGuard", NotVietnameseGuard.process),
        ("policies: _predict_next_with_tracker", MessageProcessor._predict_next_with_tracker),
        ("  RulePolicy", RulePolicy.predict_action_probabilities),
        ("  MemoizationPolicy", MemoizationPolicy.predict_action_probabilities),
        ("  tracker replay (DialogueStateTracker.past_states)", DialogueStateTracker.past_states),
        ("action call, Rasa's share (RemoteAction.run)", RemoteAction.run),
        ("tracker: save to the SQL store", MessageProcessor.save_tracker),
    ]
    print("\nRasa side, cProfile, ms per turn:")
    print(table(stage_table(stats, stages, n), ["stage", "ms/turn", "calls/turn"]))
    print("\nRasa side, most own time:")
    print(table(top_functions(stats, n), ["function", "ms/turn"]))
    (out / "action_calls.json").write_text(json.dumps(recorded, ensure_ascii=False))


# --------------------------------------------------------------------------- action side (.venv-ml)


def action_side(calls_path: Path) -> None:
    from rasa_sdk.executor import ActionExecutor

    import actions.actions as acts
    from actions import resolver
    from knowledge_base import retrieval
    from knowledge_base.encoder import Encoder

    calls = json.loads(calls_path.read_text())
    executor = ActionExecutor()
    executor.register_package("actions")

    async def replay() -> list[float]:
        walls = []
        for call in calls:
            t = time.perf_counter()
            await executor.run(call)
            walls.append(time.perf_counter() - t)
        return walls

    asyncio.run(replay())  # warm: index loaded, caches filled
    walls = sorted(asyncio.run(replay()))
    print(f"\nActions: {len(calls)} action calls unprofiled: p50 {walls[len(walls) // 2] * 1000:.1f} ms, "
          f"p95 {walls[int(0.95 * len(walls))] * 1000:.1f} ms each")
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(replay())
    prof.disable()
    stats = pstats.Stats(prof)
    stages = [
        ("whole action call (ActionExecutor.run)", ActionExecutor.run),
        ("ActionAnswer.run", acts.ActionAnswer.run),
        ("  resolver.resolve", resolver.resolve),
        ("    search (Searcher.search)", retrieval.Searcher.search),
        ("      dense: encoder + faiss (Searcher._dense)", retrieval.Searcher._dense),
        ("        Encoder.encode", Encoder.encode),
        ("      lexical: BM25 (Searcher._lexical)", retrieval.Searcher._lexical),
        ("  carry_out (answer text + payload)", acts.carry_out),
    ]
    print("\nAction side, cProfile, ms per action call:")
    print(table(stage_table(stats, stages, len(calls)), ["stage", "ms/call", "calls/call"]))
    print("\nAction side, most own time:")
    print(table(top_functions(stats, len(calls)), ["function", "ms/call"]))


# --------------------------------------------------------------------------- both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--side", choices=["both", "rasa", "actions"], default="both")
    parser.add_argument("--actions-url")
    parser.add_argument("--token", default="")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--stock-rasa", action="store_true",
                        help="profile Rasa as installed, without docker/entrypoints/rasa_serve.py's cuts")
    args = parser.parse_args()
    if args.side == "rasa":
        rasa_side(args.actions_url, args.token, args.conversations, args.out, args.stock_rasa)
        return
    if args.side == "actions":
        action_side(args.out / "action_calls.json")
        return

    from tests.servers import channel_env_defaults, free_port, wait_http

    out = Path(tempfile.mkdtemp(prefix="tthc-profile-"))
    port, token = free_port(), "profile-token"
    env = dict(channel_env_defaults(), **{k: v for k, v in os.environ.items() if k != "KB_DATA_DIR"})
    env.update(PYTHONPATH=f"{REPO}:{REPO / 'bot'}", RASA_TELEMETRY_ENABLED="false", ACTION_SERVER_TOKEN=token,
               HOTLINE="1022")
    log = out / "actions.log"
    server = subprocess.Popen([str(REPO / ".venv-ml/bin/python"), "-m", "actions.server", "--port", str(port)],
                              cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", server, 120, log)
        subprocess.run([str(REPO / ".venv-rasa/bin/python"), __file__, "--side", "rasa", "--out", str(out),
                        "--actions-url", f"http://127.0.0.1:{port}/webhook", "--token", token,
                        "--conversations", str(args.conversations), *(["--stock-rasa"] if args.stock_rasa else [])],
                       cwd=REPO / "bot", env=env, check=True)
        action_side(out / "action_calls.json")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(out, ignore_errors=True)
    print("\n" + " ".join(["load average", *Path("/proc/loadavg").read_text().split()[:3]])
          + " (2 cores shared with other programs: figures taken under contention)")


if __name__ == "__main__":
    main()
