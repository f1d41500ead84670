"""Where one text turn's CPU goes, end to end: NLU, policies, tracker store, action call, search.

Two profiles with cProfile (the standard library's; no extra dependency):

* the Rasa side, in .venv-rasa: the trained model (models/rasa/latest.tar.gz) in an in-process
  ``Agent`` configured as in production (bot/endpoints.prod.yml): the SQL tracker store it names
  (PostgreSQL 15 from scripts/pg_test.sh by default, ``--db sqlite`` for a file) and the
  recording event broker (brokers.recording.ConversationRecorder, into the same database, schema
  by Alembic), and the real action server (``python -m actions.server``, started here) behind its
  HTTP endpoint, answering the suite's follow-up conversations;
* the action side, in .venv-ml: the action calls the Rasa side sent, recorded, replayed through
  rasa-sdk's executor in-process.

``--stores sql brokers.tracker_store.StreamingSQLTrackerStore`` compares tracker stores A/B in
one Rasa process: one model, conversations alternating between the stores (so a busy machine
hits both alike), each store's CPU time per turn (``time.process_time``: the whole Rasa process,
its broker thread included; read it before wall time on a shared machine), then a profile per
store.  The default is the store bot/endpoints.prod.yml configures.

Each table gives milliseconds per turn (cumulative time of the stage's function, divided by the
number of turns; cProfile's own overhead inflates Python-heavy stages, so read the shares, and
the unprofiled figures printed above each table). Async stages count their running time only,
not their waits (the action call's wait on the action server is in the second table).

    .venv-ml/bin/python benchmarks/profile_turn.py [--conversations 8] [--stock-rasa]
        [--db postgresql|sqlite] [--stores sql brokers.tracker_store.StreamingSQLTrackerStore]
        [--no-broker]

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


def production_store_type() -> str:
    """The tracker store type bot/endpoints.prod.yml configures ("sql" or a module path)."""
    import yaml

    config = yaml.safe_load((REPO / "bot" / "endpoints.prod.yml").read_text(encoding="utf-8"))
    return str(config["tracker_store"]["type"])


def response_check_timings(responses: list[dict]) -> None:
    """Unprofiled CPU per action response of the schema check: Rasa's (validator built per call),
    one validator built once, and rasa_serve.py's event-by-event check (same verdict)."""
    import importlib.util

    from jsonschema import validate
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    if not responses:
        return
    spec_ = importlib.util.spec_from_file_location("rasa_serve_", REPO / "docker" / "entrypoints" / "rasa_serve.py")
    serve = importlib.util.module_from_spec(spec_)  # type: ignore[arg-type]
    spec_.loader.exec_module(serve)  # type: ignore[union-attr]
    spec = RemoteAction.action_response_format_spec()
    validator = validator_for(spec)(spec)
    quick = serve.event_by_event_check(spec, validator_for(spec))
    checks = {"Rasa's (jsonschema.validate)": lambda r: validate(r, spec),
              "one validator (best_match(iter_errors))": lambda r: best_match(validator.iter_errors(r)),
              "event by event (rasa_serve.py)": quick}
    rows = []
    for label, check in checks.items():
        t = time.process_time()
        for r in responses:
            check(r)
        rows.append([label, f"{(time.process_time() - t) * 1000 / len(responses):.2f}"])
    print(f"\naction response check, {len(responses)} recorded responses, unprofiled:")
    print(table(rows, ["check", "CPU ms per response"]))


def rasa_side(actions_url: str, token: str, conversations: int, out: Path, stock: bool = False,
              db_url: str = "", records_url: str | None = None, stores: list[str] | None = None) -> None:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    if not stock:
        served_cuts()
    # logging as `rasa run` sets it up (LOG_LEVEL, default INFO): unconfigured, structlog prints
    # every debug event of a turn (whole trackers and payloads), which a served process never does
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(None, None, warn_only_once=True, filter_repeated_logs=True)
    configure_structlog(None)
    from brokers.recording import ConversationRecorder
    from brokers.tracker_store import StreamingSQLTrackerStore
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent, load_agent
    from rasa.core.channels.channel import UserMessage
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, TrackerStore
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
    responses: list[dict] = []
    original = rasa_endpoints.EndpointConfig.request

    async def recording_request(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        response = await original(self, *args, **kwargs)
        if kwargs.get("json") and "next_action" in kwargs["json"]:
            recorded.append(kwargs["json"])
            if isinstance(response, dict) and len(responses) < 200:
                responses.append(response)
        return response

    rasa_endpoints.EndpointConfig.request = recording_request  # type: ignore[method-assign]
    endpoints = AvailableEndpoints(action=rasa_endpoints.EndpointConfig(actions_url, token=token))
    t0 = time.perf_counter()
    agent: Agent = asyncio.run(load_agent(model_path=str(REPO / "models/rasa/latest.tar.gz"), endpoints=endpoints))
    print(f"Rasa: model loaded in {time.perf_counter() - t0:.1f}s; tracker database "
          f"{db_url.split('@')[-1]}, event broker: {'ConversationRecorder' if records_url else 'none'}")
    broker = ConversationRecorder(url=records_url) if records_url else None
    by_kind: dict[str, FailSafeTrackerStore] = {}
    for kind in stores or [production_store_type()]:
        store = TrackerStore.create(rasa_endpoints.EndpointConfig(url=db_url, type=kind), domain=agent.domain,
                                    event_broker=broker)
        assert isinstance(store, SQLTrackerStore), store
        by_kind[kind] = FailSafeTrackerStore(store)
    convs = follow_up_conversations()

    def use(kind: str) -> None:
        agent.tracker_store = agent.processor.tracker_store = by_kind[kind]  # type: ignore[union-attr]

    async def run(first: int, count: int, tag: str, kinds: list[str]) -> dict[str, list[float]]:
        """Conversations first.. first+count-1, each through every store in turn; CPU seconds per turn."""
        cpu: dict[str, list[float]] = {k: [] for k in kinds}
        wall: dict[str, list[float]] = {k: [] for k in kinds}
        for c in range(first, first + count):
            conv = convs[c % len(convs)]
            for kind in kinds[c % len(kinds):] + kinds[: c % len(kinds)]:  # alternate who goes first
                use(kind)
                for turn in conv.turns:
                    w, t = time.perf_counter(), time.process_time()
                    await agent.handle_message(UserMessage(turn.text, sender_id=f"{tag}-{c}-{kind[-12:]}"))
                    cpu[kind].append(time.process_time() - t)
                    wall[kind].append(time.perf_counter() - w)
        return {"cpu": cpu, "wall": wall}  # type: ignore[dict-item]

    kinds = list(by_kind)
    asyncio.run(run(0, 2, "warm", kinds))
    res = asyncio.run(run(2, conversations, "plain", kinds))
    if broker is not None:
        broker.flush()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    rows = []
    for kind in kinds:
        cpu, walls = sorted(res["cpu"][kind]), sorted(res["wall"][kind])
        rows.append([kind, len(walls), f"{1000 * sum(cpu) / len(cpu):.1f}", f"{cpu[len(cpu) // 2] * 1000:.1f}",
                     f"{walls[len(walls) // 2] * 1000:.0f}", f"{walls[int(0.95 * len(walls))] * 1000:.0f}"])
    print(f"\nRasa side, unprofiled, stores interleaved (load average {load}):")
    print(table(rows, ["tracker store", "turns", "CPU ms/turn (mean)", "CPU p50", "wall p50 ms", "wall p95 ms"]))
    for kind in kinds:
        use(kind)
        recorded.clear()
        prof = cProfile.Profile()
        prof.enable()
        n = sum(len(convs[c % len(convs)].turns) for c in range(2, 2 + conversations))
        asyncio.run(run(2, conversations, "prof", [kind]))
        prof.disable()
        stats = pstats.Stats(prof)
        if os.environ.get("PROFILE_TURN_PSTATS"):  # for a closer look: python -m pstats FILE
            stats.dump_stats(f"{os.environ['PROFILE_TURN_PSTATS']}-{kind.rsplit('.', 1)[-1]}.pstats")
        stages = [
            ("whole turn (Agent.handle_message)", Agent.handle_message),
            ("tracker: fetch from the SQL store", MessageProcessor.fetch_tracker_and_update_session),
            ("  SQLTrackerStore._retrieve", SQLTrackerStore._retrieve),
            ("  StreamingSQLTrackerStore._retrieve", StreamingSQLTrackerStore._retrieve),
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
            ("  response check (RemoteAction._validate_action_result)", RemoteAction._validate_action_result),
            ("tracker: save to the SQL store", MessageProcessor.save_tracker),
            ("  SQLTrackerStore.save", SQLTrackerStore.save),
            ("  StreamingSQLTrackerStore.save", StreamingSQLTrackerStore.save),
            ("    TrackerStore.stream_events (a second retrieve)", TrackerStore.stream_events),
            ("    SQLTrackerStore._additional_events (count query)", SQLTrackerStore._additional_events),
        ]
        print(f"\nRasa side, {kind}, cProfile, ms per turn:")
        print(table(stage_table(stats, stages, n), ["stage", "ms/turn", "calls/turn"]))
        print(f"\nRasa side, {kind}, most own time:")
        print(table(top_functions(stats, n), ["function", "ms/turn"]))
    if broker is not None:
        broker.flush()
        print(f"\nconversation records written: {broker.written}, dropped: {broker.dropped}")
    response_check_timings(responses)
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


def tracker_database(kind: str, out: Path) -> str:
    """A fresh database for the tracker store and the recorder (Alembic schema); its SQLAlchemy URL."""
    import sqlalchemy as sa

    from knowledge_base import db

    if kind == "sqlite":
        url = f"sqlite:///{out / 'tracker.db'}"
    else:
        res = subprocess.run(["bash", str(REPO / "scripts" / "pg_test.sh"), "start"], capture_output=True, text=True,
                             timeout=600, check=True)
        server = sa.engine.make_url(os.environ.get("KB_TEST_POSTGRES_URL") or res.stdout.strip().splitlines()[-1])
        admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text('DROP DATABASE IF EXISTS "tthc_profile" WITH (FORCE)'))
            conn.execute(sa.text('CREATE DATABASE "tthc_profile"'))
        admin.dispose()
        url = server.set(database="tthc_profile").render_as_string(hide_password=False)
    db.upgrade(url)  # conversation_turn and its roll-ups, as `knowledge_base db upgrade` before Rasa starts
    db.dispose_all()
    # Rasa's venv: SQLAlchemy 1.4 with psycopg2
    return url.replace("postgresql+psycopg://", "postgresql+psycopg2://")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--side", choices=["both", "rasa", "actions"], default="both")
    parser.add_argument("--actions-url")
    parser.add_argument("--token", default="")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql",
                        help="the tracker store's (and the recorder's) database")
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--stores", nargs="+", help="tracker store types to compare (\"sql\" is Rasa's); "
                        "default: the one bot/endpoints.prod.yml configures")
    parser.add_argument("--no-broker", action="store_true", help="without the recording event broker")
    parser.add_argument("--stock-rasa", action="store_true",
                        help="profile Rasa as installed, without docker/entrypoints/rasa_serve.py's cuts")
    args = parser.parse_args()
    if args.side == "rasa":
        rasa_side(args.actions_url, args.token, args.conversations, args.out, args.stock_rasa, args.db_url,
                  None if args.no_broker else args.db_url, args.stores)
        return
    if args.side == "actions":
        action_side(args.out / "action_calls.json")
        return

    from tests.servers import channel_env_defaults, free_port, wait_http

    out = Path(tempfile.mkdtemp(prefix="tthc-profile-"))
    db_url = tracker_database(args.db, out)
    port, token = free_port(), "profile-token"
    env = dict(channel_env_defaults(), **{k: v for k, v in os.environ.items() if k != "KB_DATA_DIR"})
    env.update(PYTHONPATH=f"{REPO}:{REPO / 'bot'}", RASA_TELEMETRY_ENABLED="false", ACTION_SERVER_TOKEN=token,
               HOTLINE="1022", SQLALCHEMY_SILENCE_UBER_WARNING="1")
    log = out / "actions.log"
    server = subprocess.Popen([str(REPO / ".venv-ml/bin/python"), "-m", "actions.server", "--port", str(port)],
                              cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", server, 120, log)
        subprocess.run([str(REPO / ".venv-rasa/bin/python"), __file__, "--side", "rasa", "--out", str(out),
                        "--actions-url", f"http://127.0.0.1:{port}/webhook", "--token", token,
                        "--conversations", str(args.conversations), "--db-url", db_url,
                        *(["--stores", *args.stores] if args.stores else []),
                        *(["--no-broker"] if args.no_broker else []),
                        *(["--stock-rasa"] if args.stock_rasa else [])],
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
