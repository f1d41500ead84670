"""Versioned catalogue storage against both databases: SQLite (embedded default) and PostgreSQL 15.

PostgreSQL comes from Debian's package, started on loopback by
``scripts/pg_test.sh`` (``KB_TEST_POSTGRES_URL`` points at another server).
When it cannot be started the PostgreSQL cases fail with the reason; they
never skip.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from knowledge_base import db, publish, store
from knowledge_base.schema import Fee, FeeKind
from tests.admin.support import REPO, prepare_data_dir

CODE = "1.001193"


@pytest.fixture(scope="session")
def postgres_url(pg_server_url: str) -> str:
    return pg_server_url


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    """A data directory with an index of the curated catalogue (copied from models/kb when it matches)."""
    return prepare_data_dir(tmp_path_factory.mktemp("storage") / "template")


@pytest.fixture(params=["sqlite", "postgresql"])
def kb(request, tmp_path, monkeypatch, index_dir):  # noqa: ANN001, ANN201
    """A fresh data directory and an empty database of each kind, as KB_DATA_DIR / KB_DATABASE_URL."""
    import shutil

    data = tmp_path / "kb"
    data.mkdir()
    target = next(p for p in index_dir.iterdir() if p.name.startswith("index-") and p.is_dir())
    shutil.copytree(target, data / target.name)
    (data / "current").symlink_to(target.name)
    monkeypatch.setenv("KB_DATA_DIR", str(data))
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        from sqlalchemy import create_engine, text

        eng = create_engine(url)
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        eng.dispose()
        monkeypatch.setenv("KB_DATABASE_URL", url)
    else:
        monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    db.dispose_all()
    yield data
    db.dispose_all()


def _live_proc(code: str = CODE):  # noqa: ANN202
    with db.session() as s:
        live = publish.live_version_id(s)
        proc, sha = publish.procedure_in(s, live, code)
    return live, proc, sha


def _with_fee(proc, amount: float):  # noqa: ANN001, ANN202
    p = proc.model_copy(deep=True)
    p.channels[0].fees = [Fee(kind=FeeKind.FIXED, amount=amount)]
    return p


def test_seed_version_one_from_curated_yaml(kb):
    live = publish.ensure_db("tester")
    curated = store.load_curated()
    with db.session() as s:
        procs = publish.version_procedures(s, live)
        v = s.get(db.Version, live)
        from sqlalchemy import text

        head = s.execute(text("SELECT version_num FROM alembic_version")).scalar()
    from alembic.script import ScriptDirectory

    assert live == 1 and head == ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    assert set(procs) == {p.code for p in curated} and procs[CODE] == next(p for p in curated if p.code == CODE)
    assert v.content_hash == store.catalogue_version(curated) and v.status == "published"
    assert publish.ensure_db("tester") == 1  # idempotent: no second seed
    assert [a.action for a in publish.audit_log()] == ["seed"]


def test_edit_goes_to_draft_and_is_audited_field_by_field(kb):
    publish.ensure_db("tester")
    live, proc, sha = _live_proc()
    draft = publish.save_procedure("bientap", _with_fee(proc, 77000), live, sha)
    assert draft != live
    with db.session() as s:
        assert publish.procedure_in(s, live, CODE)[0] == proc, "the live version must not change"
        assert publish.procedure_in(s, draft, CODE)[0].channels[0].fees[0].amount == 77000
    rows = [a for a in publish.audit_log(CODE) if a.action == "edit"]
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor, row.field, row.version_id) == ("bientap", "channels", draft)
    assert "77.000 đồng" in json.loads(row.new_value)[0] and "Miễn phí" in json.loads(row.old_value)[0]
    assert row.at is not None


def test_stale_forms_are_refused(kb):
    publish.ensure_db("tester")
    live, proc, sha = _live_proc()
    publish.save_procedure("a", _with_fee(proc, 1000), live, sha)
    with pytest.raises(publish.StaleFormError, match="người khác sửa"):
        publish.save_procedure("b", _with_fee(proc, 2000), live, sha)  # opened before a's save
    with pytest.raises(publish.StaleFormError, match="phiên bản đang dùng đã đổi"):
        publish.save_procedure("b", _with_fee(proc, 2000), live + 10, sha)
    with db.session() as s:
        d = publish.draft_of(s)
        assert publish.procedure_in(s, d.id, CODE)[0].channels[0].fees[0].amount == 1000


def test_import_writes_a_draft_not_the_live_version(kb):
    from knowledge_base.importer import import_file

    publish.ensure_db("tester")
    report = import_file(REPO / "tests" / "fixtures" / "portal_sample.jsonl", commit=None)
    draft, n = publish.import_into_draft("importer", report.procedures, "portal_sample.jsonl")
    with db.session() as s:
        live = publish.live_version_id(s)
        live_procs = publish.version_procedures(s, live)
        draft_procs = publish.version_procedures(s, draft)
    assert live == 1 and all(p.curated for p in live_procs.values())
    curated = {c for c, p in live_procs.items()}
    imported = {p.code for p in report.procedures}
    assert set(draft_procs) == curated | imported and n == len(imported - curated)
    assert all(draft_procs[c] == live_procs[c] for c in curated), "curated entries win over the portal"
    assert any(a.action == "import" and a.detail and "portal_sample" in a.detail for a in publish.audit_log())


def test_publish_validation_lists_every_problem_and_changes_nothing(kb):
    publish.ensure_db("tester")
    live, proc, sha = _live_proc()
    bad1 = proc.model_copy(update={"documents": []}, deep=True)
    for ch in bad1.channels:
        ch.fees = [Fee(kind=FeeKind.UNKNOWN)]
    publish.save_procedure("ed", bad1, live, sha)
    _, other, other_sha = _live_proc("1.000110") if _has("1.000110") else _live_proc(_another_code())
    publish.save_procedure("ed", other.model_copy(update={"source_url": "chua-co"}), live, other_sha)
    current = (kb / "current").resolve()
    with pytest.raises(publish.PublishError) as exc:
        publish.publish("pub")
    fields = {(p.code, p.field) for p in exc.value.problems}
    assert (CODE, "documents") in fields and (CODE, "channels") in fields and (other.code, "source_url") in fields
    with db.session() as s:
        assert publish.live_version_id(s) == live and publish.draft_of(s) is not None
    assert (kb / "current").resolve() == current


def _has(code: str) -> bool:
    return any(p.code == code for p in store.load_curated())


def _another_code() -> str:
    return next(p.code for p in store.load_curated() if p.code != CODE)


def test_publish_then_rollback_switches_index_atomically(kb):
    publish.ensure_db("tester")
    live, proc, sha = _live_proc()
    old_index = (kb / "current").resolve()
    publish.save_procedure("ed", _with_fee(proc, 88000), live, sha)
    steps: list[int] = []
    res = publish.publish("pub", progress=lambda pct, _msg: steps.append(pct))
    assert res.version_id == 2 and res.incremental and res.n_changed == 1
    new_index = (kb / "current").resolve()
    assert new_index != old_index and new_index == res.index_path
    manifest = json.loads((new_index / "manifest.json").read_text())
    with db.session() as s:
        assert publish.live_version_id(s) == 2 and publish.draft_of(s) is None
        procs = sorted(publish.version_procedures(s, 2).values(), key=lambda p: p.code)
    assert manifest["catalogue_version"] == store.catalogue_version(procs)
    assert [p for p in steps if p >= 0] == sorted(p for p in steps if p >= 0) and max(steps) >= 90
    from knowledge_base import index as kb_index

    loaded = kb_index.load(new_index)  # the live-catalogue check reads the database's live version
    assert next(p for p in loaded.procedures if p.code == CODE).channels[0].fees[0].amount == 88000
    assert old_index.exists(), "the previous index is kept for an instant rollback"

    res = publish.rollback("pub", 1)
    assert (kb / "current").resolve() == old_index and res.version_id == 1
    assert [v.id for v in publish.history() if v.live] == [1]
    actions = [a.action for a in publish.audit_log()]
    assert actions[:2] == ["rollback", "publish"]
    with pytest.raises(publish.PublishError):
        publish.rollback("pub", 99)


def test_build_lock_serialises_builds(kb):
    from knowledge_base import index as kb_index

    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with kb_index.build_lock():
            held.set()
            order.append("first-start")
            time.sleep(0.8)
            order.append("first-end")

    t = threading.Thread(target=first)
    t.start()
    held.wait(5)
    with pytest.raises(kb_index.StaleIndexError, match="đang chạy"):
        with kb_index.build_lock(timeout=0.2):
            pass
    with kb_index.build_lock():
        order.append("second")
    t.join()
    assert order == ["first-start", "first-end", "second"]


def test_switch_never_deletes_a_build_in_progress_or_recent_indexes(kb):
    from knowledge_base import index as kb_index

    current = (kb / "current").resolve()
    os.utime(current)  # the index just built is the newest
    building = kb / "index-feedfeedfeedfeed-1.building"
    building.mkdir()
    olds = []
    for i in range(6):
        d = kb / f"index-{i:016d}-{i}"
        d.mkdir()
        os.utime(d, (time.time() - 1000 + i, time.time() - 1000 + i))
        olds.append(d)
    kb_index._make_current(current)  # noqa: SLF001 - the switch itself, as every build ends
    assert building.exists(), "a switch deleted another build still in progress"
    kept = [d for d in olds if d.exists()]
    assert len(kept) == kb_index.KEEP_INDEXES - 1 and kept == olds[-len(kept):]
    assert (kb / "current").resolve() == current and current.exists()
