"""Catalogue versions for admins: seed, drafts, review diff, validation, publish, rollback, history, audit.

Why this shape:

* Admins never edit the live catalogue.  Every change (a form, a portal
  import) goes into the one open *draft*, which starts as a copy of the live
  version.  A publisher reviews the draft as a diff and publishes it.
* Publishing validates every procedure first; a publish that fails changes
  nothing.  Then it builds the new search index next to the live one and only
  then moves the ``live_version`` row and the ``models/kb/current`` link,
  under the build lock, so a citizen is answered from the old version or the
  new one, never from a mix.
* Every change is audited field by field (who, when, which procedure, which
  field, old and new value), and rolling back to any published version is
  one call.

The web app (``admin/``) and ``python -m knowledge_base publish|rollback|history``
both call these functions.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.orm import Session

from knowledge_base import db, store
from knowledge_base.schema import UNIT_NAMES, Channel, Currency, Fee, FeeKind, Procedure

Progress = Callable[[int, str], None]

# Share of procedures a publish may change and still reuse the live index's encoder and vectors.
INCREMENTAL_MAX_SHARE = float(os.environ.get("KB_INCREMENTAL_MAX_SHARE", "0.05"))

FIELD_LABELS = {
    "code": "Mã thủ tục",
    "name": "Tên thủ tục",
    "aliases": "Tên gọi khác",
    "field": "Lĩnh vực",
    "levels": "Cấp thực hiện",
    "audience": "Đối tượng",
    "agency": "Cơ quan thực hiện",
    "where_to_submit": "Nơi nộp hồ sơ",
    "channels": "Hình thức nộp, thời hạn, lệ phí",
    "documents": "Thành phần hồ sơ",
    "steps": "Trình tự thực hiện",
    "conditions": "Yêu cầu, điều kiện",
    "result": "Kết quả",
    "legal_basis": "Căn cứ pháp lý",
    "source_url": "Liên kết nguồn",
    "last_verified": "Ngày kiểm tra",
    "curated": "Biên soạn",
    "citizen_priority": "Mức ưu tiên công dân",
}
CHANNEL_LABELS = {Channel.TRUC_TIEP: "Trực tiếp", Channel.TRUC_TUYEN: "Trực tuyến", Channel.BUU_CHINH: "Bưu chính"}


class PublishError(Exception):
    """Publishing or rolling back was refused; nothing changed.  ``problems`` lists every reason."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class StaleFormError(Exception):
    """The form was opened on a version or procedure that someone else changed since."""


# --------------------------------------------------------------------------
# Readable values (the diff and the audit log show these, not raw JSON)
# --------------------------------------------------------------------------
def _money(amount: float | None, currency: Currency) -> str:
    if amount is None:
        return "?"
    if currency == Currency.USD:
        return f"{amount:g} USD"
    return f"{int(round(amount)):,}".replace(",", ".") + " đồng"


def fee_text(fee: Fee) -> str:
    """One fee as an admin reads it: "200.000 đồng", "Miễn phí", "HĐND tỉnh quyết định (…)"."""
    note = f" ({fee.note})" if fee.note else ""
    if fee.kind == FeeKind.FREE:
        return "Miễn phí" + note
    if fee.kind == FeeKind.FIXED:
        return _money(fee.amount, fee.currency) + note
    if fee.kind == FeeKind.RANGE:
        return f"{_money(fee.min_amount, fee.currency)} – {_money(fee.max_amount, fee.currency)}{note}"
    if fee.kind == FeeKind.PROVINCIAL:
        return "Do HĐND tỉnh quyết định" + note
    return "Chưa rõ" + note


def field_lines(proc: Procedure, name: str) -> list[str]:
    """A procedure field as lines of text, for the review diff and the audit log."""
    value = getattr(proc, name)
    if name == "channels":
        lines = []
        for ch in value:
            dur = "thời hạn chưa rõ"
            if ch.duration is not None:
                d = ch.duration
                unit = UNIT_NAMES[d.unit]
                num = "" if d.value is None else f"{d.value:g}" + (f"–{d.max_value:g}" if d.max_value is not None else "") + " "
                dur = f"{num}{unit}" + (f" ({d.note})" if d.note else "")
            fees = "; ".join(fee_text(f) for f in ch.fees) or "lệ phí chưa rõ"
            lines.append(f"{CHANNEL_LABELS[ch.channel]}: {dur}; lệ phí: {fees}" + (f" — {ch.note}" if ch.note else ""))
        return lines
    if name == "documents":
        out = []
        for d in value:
            extra = ", ".join(x for x in [f"{d.copies} bản" if d.copies else None, d.copy_type, d.template and f"mẫu {d.template}", d.note] if x)
            out.append(d.name + (f" ({extra})" if extra else ""))
        return out
    if name == "legal_basis":
        return [f"{lb.number}: {lb.title}" for lb in value]
    if isinstance(value, list):
        return [str(v) for v in value]
    if value is None:
        return []
    if isinstance(value, bool):
        return ["có" if value else "không"]
    return [str(value)]


@dataclass
class FieldChange:
    """One changed field of one procedure, with readable old and new lines and a line diff."""

    field: str
    label: str
    old: list[str]
    new: list[str]

    def diff(self) -> list[tuple[str, str]]:
        """(op, line) pairs: ``-`` removed, ``+`` added, `` `` unchanged context."""
        out: list[tuple[str, str]] = []
        for line in difflib.ndiff(self.old, self.new):
            if line.startswith(("- ", "+ ", "  ")):
                out.append((line[0], line[2:]))
        return out


@dataclass
class ProcedureChange:
    """A procedure added, removed or changed between two versions."""

    code: str
    name: str
    kind: str  # added | removed | changed
    fields: list[FieldChange] = field(default_factory=list)


def changed_fields(old: Procedure | None, new: Procedure | None) -> list[FieldChange]:
    """Fields whose value differs (all fields of an added or removed procedure)."""
    names = list(Procedure.model_fields)
    out = []
    for name in names:
        a = field_lines(old, name) if old is not None else []
        b = field_lines(new, name) if new is not None else []
        if old is not None and new is not None and getattr(old, name) == getattr(new, name):
            continue
        if a == b and old is not None and new is not None:
            continue
        if not a and not b:
            continue
        out.append(FieldChange(name, FIELD_LABELS.get(name, name), a, b))
    return out


def diff_catalogues(old: dict[str, Procedure], new: dict[str, Procedure]) -> list[ProcedureChange]:
    """Every procedure that differs between two catalogues, by code."""
    changes = []
    for code in sorted(set(old) | set(new)):
        a, b = old.get(code), new.get(code)
        if a is not None and b is not None and a == b:
            continue
        kind = "added" if a is None else "removed" if b is None else "changed"
        ref = b or a
        assert ref is not None
        changes.append(ProcedureChange(code, ref.name, kind, changed_fields(a, b)))
    return changes


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """A procedure that may not be published as it is: which, which field, why."""

    code: str
    name: str
    field: str
    message: str

    def format(self) -> str:
        return f"[{self.code}] {self.name}: {FIELD_LABELS.get(self.field, self.field)} — {self.message}"


def validate_procedure(p: Procedure) -> list[Problem]:
    """What a citizen needs before the bot may answer about a procedure."""
    out = []

    def bad(fld: str, msg: str) -> None:
        out.append(Problem(p.code, p.name, fld, msg))

    if not p.documents:
        bad("documents", "chưa có thành phần hồ sơ")
    fees = [f for ch in p.channels for f in ch.fees]
    if not p.channels:
        bad("channels", "chưa có hình thức nộp (kèm thời hạn và lệ phí)")
    elif not any(f.kind != FeeKind.UNKNOWN for f in fees):
        bad("channels", "chưa có lệ phí: ghi số tiền, hoặc chọn rõ «miễn phí» hay «HĐND tỉnh quyết định»")
    if p.channels and not any(ch.duration is not None for ch in p.channels):
        bad("channels", "chưa có thời hạn giải quyết")
    if not p.agency.strip():
        bad("agency", "chưa có cơ quan thực hiện")
    if not p.source_url.startswith(("https://", "http://")):
        bad("source_url", "chưa có liên kết nguồn (http/https)")
    return out


@dataclass
class Validation:
    """Blocking problems (new or changed procedures) and known gaps already live (not made worse)."""

    errors: list[Problem]
    warnings: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate(draft: dict[str, Procedure], live: dict[str, Procedure]) -> Validation:
    """Validate every procedure of ``draft``.

    A problem in a procedure that is new or changed in the draft blocks the
    publish.  The same problem in a procedure identical to the live one is a
    warning: the portal's own gaps (about a quarter of its records give no
    fee) are already live and this publish does not make them worse.
    """
    errors, warnings = [], []
    for code, proc in sorted(draft.items()):
        problems = validate_procedure(proc)
        if not problems:
            continue
        (warnings if live.get(code) == proc else errors).extend(problems)
    return Validation(errors, warnings)


# --------------------------------------------------------------------------
# Storage helpers
# --------------------------------------------------------------------------
def _blob(proc: Procedure) -> tuple[str, str]:
    data = proc.model_dump_json()
    return hashlib.sha256(data.encode("utf-8")).hexdigest(), data


def _store_blobs(s: Session, procs: Iterable[Procedure]) -> dict[str, str]:
    """Insert missing blobs; returns code → sha."""
    by_sha: dict[str, str] = {}
    codes: dict[str, str] = {}
    for p in procs:
        sha, data = _blob(p)
        by_sha[sha] = data
        codes[p.code] = sha
    shas = list(by_sha)
    have: set[str] = set()
    for start in range(0, len(shas), 500):
        chunk = shas[start : start + 500]
        have.update(s.scalars(select(db.Blob.sha).where(db.Blob.sha.in_(chunk))))
    new = [{"sha": sha, "data": data} for sha, data in by_sha.items() if sha not in have]
    for start in range(0, len(new), 1000):
        s.execute(db.Blob.__table__.insert(), new[start : start + 1000])
    return codes


def _insert_items(s: Session, version_id: int, procs: list[Procedure]) -> None:
    codes = _store_blobs(s, procs)
    rows = [
        {"version_id": version_id, "code": p.code, "blob_sha": codes[p.code], "name": p.name, "curated": p.curated}
        for p in procs
    ]
    for start in range(0, len(rows), 1000):
        s.execute(db.VersionItem.__table__.insert(), rows[start : start + 1000])


def _audit(s: Session, actor: str, action: str, version_id: int | None, code: str | None = None,
           fld: str | None = None, old: Any = None, new: Any = None, detail: str | None = None) -> None:
    s.add(db.Audit(actor=actor, action=action, version_id=version_id, code=code, field=fld,
                   old_value=None if old is None else json.dumps(old, ensure_ascii=False),
                   new_value=None if new is None else json.dumps(new, ensure_ascii=False), detail=detail))


def _audit_changes(s: Session, actor: str, action: str, version_id: int, old: Procedure | None, new: Procedure | None) -> None:
    code = (new or old).code  # type: ignore[union-attr]
    for ch in changed_fields(old, new):
        _audit(s, actor, action, version_id, code, ch.field, ch.old, ch.new)


def version_procedures(s: Session, version_id: int) -> dict[str, Procedure]:
    """All procedures of a version, by code."""
    rows = s.execute(
        select(db.VersionItem.code, db.Blob.data)
        .join(db.Blob, db.Blob.sha == db.VersionItem.blob_sha)
        .where(db.VersionItem.version_id == version_id)
    )
    return {code: Procedure.model_validate_json(data) for code, data in rows}


def _sha_map(s: Session, version_id: int) -> dict[str, str]:
    """code → content hash of every procedure of a version (no JSON parsed)."""
    return dict(s.execute(select(db.VersionItem.code, db.VersionItem.blob_sha).where(db.VersionItem.version_id == version_id)).all())


def _procedures_by_code(s: Session, version_id: int, codes: set[str]) -> dict[str, Procedure]:
    out: dict[str, Procedure] = {}
    wanted = sorted(codes)
    for start in range(0, len(wanted), 500):
        rows = s.execute(
            select(db.VersionItem.code, db.Blob.data)
            .join(db.Blob, db.Blob.sha == db.VersionItem.blob_sha)
            .where(db.VersionItem.version_id == version_id, db.VersionItem.code.in_(wanted[start : start + 500]))
        )
        out.update({code: Procedure.model_validate_json(data) for code, data in rows})
    return out


def procedure_in(s: Session, version_id: int, code: str) -> tuple[Procedure, str] | None:
    """One procedure of a version and its content hash (the form's staleness token)."""
    row = s.execute(
        select(db.Blob.data, db.Blob.sha)
        .join(db.VersionItem, db.Blob.sha == db.VersionItem.blob_sha)
        .where(db.VersionItem.version_id == version_id, db.VersionItem.code == code)
    ).first()
    return (Procedure.model_validate_json(row[0]), row[1]) if row else None


def live_row(s: Session) -> db.Live | None:
    return s.get(db.Live, 1)


def live_version_id(s: Session) -> int | None:
    row = live_row(s)
    return row.version_id if row else None


def draft_of(s: Session) -> db.Version | None:
    """The open draft, if any (there is at most one)."""
    return s.scalars(select(db.Version).where(db.Version.status == "draft").order_by(db.Version.id.desc())).first()


# --------------------------------------------------------------------------
# Seeding and reading
# --------------------------------------------------------------------------
def ensure_db(actor: str = "system", procedures: list[Procedure] | None = None, url: str | None = None) -> int:
    """Create or upgrade the schema; seed version 1 from the curated YAML (and imported file) when empty.

    Returns the live version id.  Seeding is a publish without validation:
    the YAML is reviewed in the repository and is what the bot answers from
    today.
    """
    db.upgrade(url)
    with db.session(url) as s:
        live = live_version_id(s)
        if live is not None:
            return live
        procs = procedures if procedures is not None else store.load_all()
        now = db.utcnow()
        v = db.Version(status="published", base_id=None, note="Phiên bản đầu tiên, từ danh mục biên soạn (YAML)",
                       created_by=actor, created_at=now, published_by=actor, published_at=now,
                       content_hash=store.catalogue_version(procs), n_procedures=len(procs))
        s.add(v)
        s.flush()
        _insert_items(s, v.id, procs)
        s.add(db.Live(id=1, version_id=v.id, changed_at=now, changed_by=actor))
        _audit(s, actor, "seed", v.id, new=store.catalogue_version(procs), detail=f"{len(procs)} thủ tục từ knowledge_base/catalogue")
        return v.id


def sync_yaml(actor: str = "system") -> int | None:
    """Put curated YAML entries that changed since the last seed or sync into the draft; returns the draft id.

    Why: once a database exists it is the source of truth, so a developer's
    fix to ``knowledge_base/catalogue/*.yaml`` would otherwise be silently
    ignored.  It is never published by itself: it waits in the draft for a
    publisher, like any other change.
    """
    procs = store.load_all()
    yaml_hash = store.catalogue_version(procs)
    with db.session() as s:
        last = s.scalars(select(db.Audit).where(db.Audit.action.in_(["seed", "yaml_sync"])).order_by(db.Audit.id.desc())).first()
        if last is not None and last.new_value and json.loads(last.new_value) == yaml_hash:
            return None
        d = open_draft(s, actor)
        current = version_procedures(s, d.id)
        changed = [p for p in procs if p.curated and current.get(p.code) != p]
        for p in changed:
            old = current.get(p.code)
            sha = _store_blobs(s, [p])[p.code]
            if old is None:
                s.add(db.VersionItem(version_id=d.id, code=p.code, blob_sha=sha, name=p.name, curated=True))
                d.n_procedures += 1
            else:
                s.execute(update(db.VersionItem).where(db.VersionItem.version_id == d.id, db.VersionItem.code == p.code)
                          .values(blob_sha=sha, name=p.name, curated=True))
            _audit_changes(s, actor, "yaml_sync", d.id, old, p)
        _audit(s, actor, "yaml_sync", d.id, new=yaml_hash, detail=f"{len(changed)} thủ tục biên soạn đổi trong YAML")
        return d.id if changed else None


def database_exists() -> bool:
    """True when a catalogue database is configured (``KB_DATABASE_URL``) or the SQLite file exists."""
    if os.environ.get("KB_DATABASE_URL"):
        return True
    return (store.data_dir() / "catalogue.db").exists()


def live_catalogue() -> tuple[int, list[Procedure]] | None:
    """(version id, procedures) of the live version, or None when there is no database yet."""
    if not database_exists():
        return None
    db.upgrade()
    with db.session() as s:
        vid = live_version_id(s)
        if vid is None:
            return None
        return vid, sorted(version_procedures(s, vid).values(), key=lambda p: p.code)


def live_content_hash() -> str | None:
    """The live version's catalogue hash (what its index must have been built from); None without a database."""
    if not database_exists():
        return None
    db.upgrade()
    with db.session() as s:
        vid = live_version_id(s)
        v = s.get(db.Version, vid) if vid is not None else None
        return v.content_hash if v else None


# --------------------------------------------------------------------------
# Drafts
# --------------------------------------------------------------------------
def open_draft(s: Session, actor: str) -> db.Version:
    """The open draft, created as a copy of the live version when there is none."""
    d = draft_of(s)
    if d is not None:
        return d
    live = live_version_id(s)
    if live is None:
        raise PublishError("Chưa có phiên bản nào: hãy chạy python -m knowledge_base db init")
    n = s.scalar(select(func.count()).select_from(db.VersionItem).where(db.VersionItem.version_id == live)) or 0
    d = db.Version(status="draft", base_id=live, note="", created_by=actor, n_procedures=n)
    s.add(d)
    s.flush()
    s.execute(
        db.VersionItem.__table__.insert().from_select(
            ["version_id", "code", "blob_sha", "name", "curated"],
            select(literal(d.id), db.VersionItem.code, db.VersionItem.blob_sha, db.VersionItem.name,
                   db.VersionItem.curated).where(db.VersionItem.version_id == live),
        )
    )
    _audit(s, actor, "draft_open", d.id, detail=f"bản nháp từ phiên bản {live}")
    return d


def save_procedure(actor: str, proc: Procedure, base_live: int, orig_sha: str | None) -> int:
    """Write one edited procedure into the draft, auditing each changed field; returns the draft id.

    ``base_live`` is the live version and ``orig_sha`` the procedure's content
    hash when the form was opened (None for a new procedure): when either
    changed since, someone else published or edited in between and the form
    is refused rather than silently overwriting their work.
    """
    with db.session() as s:
        live = live_version_id(s)
        if live != base_live:
            raise StaleFormError(
                f"Biểu mẫu mở trên phiên bản {base_live}, nhưng sau đó phiên bản đang dùng đã đổi thành {live} "
                "(có người xuất bản hoặc quay lui). Hãy mở lại thủ tục để sửa trên nội dung mới nhất."
            )
        d = open_draft(s, actor)
        cur = procedure_in(s, d.id, proc.code)
        cur_sha = cur[1] if cur else None
        if cur_sha != orig_sha:
            raise StaleFormError(
                "Thủ tục này đã được người khác sửa trong bản nháp sau khi Anh/Chị mở biểu mẫu. Hãy mở lại để xem nội dung mới."
            )
        old = cur[0] if cur else None
        if old == proc:
            return d.id
        sha = _store_blobs(s, [proc])[proc.code]
        if cur is None:
            s.add(db.VersionItem(version_id=d.id, code=proc.code, blob_sha=sha, name=proc.name, curated=proc.curated))
            d.n_procedures += 1
        else:
            s.execute(update(db.VersionItem).where(db.VersionItem.version_id == d.id, db.VersionItem.code == proc.code)
                      .values(blob_sha=sha, name=proc.name, curated=proc.curated))
        _audit_changes(s, actor, "edit", d.id, old, proc)
        return d.id


def import_into_draft(actor: str, imported: list[Procedure], source: str) -> tuple[int, int]:
    """Replace the draft's imported (non-curated) procedures by a portal import; curated entries win.

    Returns (draft id, number of procedures added, changed or removed).
    The live version is untouched: an import is reviewed and published like
    any other change.
    """
    with db.session() as s:
        d = open_draft(s, actor)
        current = version_procedures(s, d.id)
        curated_codes = {c for c, p in current.items() if p.curated}
        new = {c: p for c, p in current.items() if p.curated}
        new.update({p.code: p for p in imported if p.code not in curated_codes})
        changes = diff_catalogues(current, new)
        s.execute(delete(db.VersionItem).where(db.VersionItem.version_id == d.id))
        _insert_items(s, d.id, list(new.values()))
        d.n_procedures = len(new)
        for ch in changes:
            _audit_changes(s, actor, "import", d.id, current.get(ch.code), new.get(ch.code))
        _audit(s, actor, "import", d.id, detail=f"{source}: {len(imported)} bản ghi, {len(changes)} thay đổi")
        return d.id, len(changes)


def discard_draft(actor: str) -> int | None:
    """Throw the open draft away (audited); returns its id."""
    with db.session() as s:
        d = draft_of(s)
        if d is None:
            return None
        d.status = "discarded"
        s.execute(delete(db.VersionItem).where(db.VersionItem.version_id == d.id))
        _audit(s, actor, "discard", d.id)
        return d.id


def draft_changes() -> tuple[int | None, int | None, list[ProcedureChange]]:
    """(draft id, live id, changes of the draft against the live version)."""
    with db.session() as s:
        d = draft_of(s)
        live = live_version_id(s)
        if d is None or live is None:
            return (d.id if d else None), live, []
        return d.id, live, diff_catalogues(version_procedures(s, live), version_procedures(s, d.id))


# --------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------
@dataclass
class PublishResult:
    version_id: int
    index_path: Path
    n_procedures: int
    n_changed: int
    seconds: float
    warnings: list[Problem]
    incremental: bool


def _job_progress(job_id: int | None, progress: Progress | None) -> Progress:
    def report(pct: int, msg: str) -> None:
        """``pct`` < 0: a log line without a new percentage."""
        if progress is not None:
            progress(pct, msg)
        if job_id is not None:
            values: dict[str, Any] = {"message": msg[:500]}
            if pct >= 0:
                values["progress"] = pct
            with db.session() as s:
                s.execute(update(db.Job).where(db.Job.id == job_id).values(**values))

    return report


def _finish_job(job_id: int | None, status: str, msg: str) -> None:
    if job_id is None:
        return
    with db.session() as s:
        s.execute(update(db.Job).where(db.Job.id == job_id)
                  .values(status=status, message=msg, finished_at=db.utcnow(), progress=100 if status == "done" else db.Job.progress))


def start_job(kind: str, version_id: int, actor: str) -> int:
    """Record a build job (shown with its progress in the web app)."""
    with db.session() as s:
        j = db.Job(kind=kind, version_id=version_id, status="running", progress=0, message="đang chờ khóa lập chỉ mục",
                   actor=actor)
        s.add(j)
        s.flush()
        return j.id


def _build_for(procs: list[Procedure], report: Progress, live_index: Path | None, n_changed: int) -> tuple[Path, bool]:
    from knowledge_base import index as kb_index

    reuse = None
    if live_index is not None and live_index.exists() and procs and n_changed <= INCREMENTAL_MAX_SHARE * len(procs):
        reuse = live_index
    path = kb_index.build(procs, log=lambda msg: report(-1, msg), reuse=reuse, make_current=False, progress=report,
                          lock=False)
    return path, reuse is not None


def publish(actor: str, expected_draft: int | None = None, progress: Progress | None = None,
            job_id: int | None = None) -> PublishResult:
    """Validate, index and make the open draft live.  Nothing changes when any step fails.

    ``expected_draft`` (the draft the publisher reviewed) guards against
    publishing a draft that changed or was replaced after the review.
    """
    import time

    from knowledge_base import index as kb_index

    t0 = time.perf_counter()
    report = _job_progress(job_id, progress)
    try:
        with kb_index.build_lock():
            report(2, "đã có khóa lập chỉ mục; đang kiểm tra bản nháp")
            with db.session() as s:
                d = draft_of(s)
                live = live_version_id(s)
                if d is None:
                    raise PublishError("Không có bản nháp nào để xuất bản.")
                if expected_draft is not None and d.id != expected_draft:
                    raise PublishError(f"Bản nháp đã thay đổi (đang là #{d.id}, Anh/Chị xem #{expected_draft}): hãy xem lại.")
                if d.base_id != live:
                    raise PublishError(
                        f"Bản nháp #{d.id} được lập từ phiên bản {d.base_id}, nhưng phiên bản đang dùng là {live} "
                        "(có người đã xuất bản hoặc quay lui). Hãy hủy bản nháp và sửa lại trên phiên bản mới."
                    )
                draft_id = d.id
                # which procedures changed, from content hashes: only those are read twice
                draft_map, live_map = _sha_map(s, draft_id), _sha_map(s, live) if live is not None else {}
                changed = {c for c in set(draft_map) | set(live_map) if draft_map.get(c) != live_map.get(c)}
                new = version_procedures(s, draft_id)
                old = _procedures_by_code(s, live, changed) if live is not None else {}
                live_v = s.get(db.Version, live) if live is not None else None
                live_index = Path(live_v.index_path) if live_v and live_v.index_path else None
            if not changed:
                raise PublishError("Bản nháp không khác phiên bản đang dùng: không có gì để xuất bản.")
            changes = sorted(changed)
            # unchanged procedures are the live ones: their known gaps are warnings, not blockers
            checked = validate(new, {**{c: p for c, p in new.items() if c not in changed}, **old})
            if not checked.ok:
                raise PublishError(f"Không xuất bản: {len(checked.errors)} lỗi cần sửa.", checked.errors)
            report(5, f"hợp lệ: {len(new)} thủ tục, {len(changes)} thay đổi; đang lập chỉ mục")
            if live_index is None or not live_index.exists():
                cur = kb_index.current_dir()
                live_index = cur.resolve() if cur.exists() else None
            procs = sorted(new.values(), key=lambda p: p.code)
            path, incremental = _build_for(procs, report, live_index, len(changes))
            report(95, "đã lập chỉ mục; đang chuyển phiên bản")
            with db.session() as s:
                row = s.execute(select(db.Live).where(db.Live.id == 1).with_for_update()).scalar_one()
                if row.version_id != live:
                    raise PublishError("Phiên bản đang dùng vừa thay đổi trong lúc lập chỉ mục: không xuất bản.")
                v = s.get(db.Version, draft_id)
                assert v is not None
                now = db.utcnow()
                v.status, v.published_by, v.published_at = "published", actor, now
                manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
                v.content_hash, v.n_procedures, v.index_path = manifest["catalogue_version"], len(procs), str(path)
                row.version_id, row.changed_at, row.changed_by = draft_id, now, actor
                _audit(s, actor, "publish", draft_id, detail=f"từ phiên bản {live}: {len(changes)} thủ tục thay đổi; chỉ mục {path.name}")
            kb_index.make_current(path)
        seconds = time.perf_counter() - t0
        _finish_job(job_id, "done", f"đã xuất bản phiên bản {draft_id} ({seconds:.1f}s)")
        return PublishResult(draft_id, path, len(procs), len(changes), seconds, checked.warnings, incremental)
    except PublishError as exc:
        _finish_job(job_id, "failed", str(exc))
        raise
    except Exception as exc:
        _finish_job(job_id, "failed", f"lỗi khi lập chỉ mục: {exc}")
        raise


def rollback(actor: str, version_id: int, progress: Progress | None = None, job_id: int | None = None) -> PublishResult:
    """Make an earlier published version live again (its index is reused when still on disk)."""
    import time

    from knowledge_base import index as kb_index

    t0 = time.perf_counter()
    report = _job_progress(job_id, progress)
    try:
        with kb_index.build_lock():
            with db.session() as s:
                v = s.get(db.Version, version_id)
                if v is None or v.status != "published":
                    raise PublishError(f"Phiên bản {version_id} không tồn tại hoặc chưa từng được xuất bản.")
                live = live_version_id(s)
                if live == version_id:
                    raise PublishError(f"Phiên bản {version_id} đang được dùng.")
                target = version_procedures(s, version_id)
                cur = version_procedures(s, live) if live is not None else {}
                live_v = s.get(db.Version, live) if live is not None else None
                live_index = Path(live_v.index_path) if live_v and live_v.index_path else None
                saved = Path(v.index_path) if v.index_path else None
                content_hash = v.content_hash
            procs = sorted(target.values(), key=lambda p: p.code)
            path = saved if saved is not None and _index_matches(saved, content_hash) else _existing_index(content_hash)
            incremental = False
            if path is None:
                report(5, "đang lập lại chỉ mục của phiên bản cũ")
                if live_index is None or not live_index.exists():
                    c = kb_index.current_dir()
                    live_index = c.resolve() if c.exists() else None
                path, incremental = _build_for(procs, report, live_index, len(diff_catalogues(cur, target)))
            report(95, "đang chuyển phiên bản")
            with db.session() as s:
                row = s.execute(select(db.Live).where(db.Live.id == 1).with_for_update()).scalar_one()
                previous = row.version_id
                row.version_id, row.changed_at, row.changed_by = version_id, db.utcnow(), actor
                v = s.get(db.Version, version_id)
                assert v is not None
                v.index_path = str(path)
                _audit(s, actor, "rollback", version_id, detail=f"từ phiên bản {previous} về phiên bản {version_id}")
                d = draft_of(s)
                if d is not None and d.base_id != version_id:
                    _audit(s, actor, "draft_stale", d.id, detail=f"bản nháp lập từ phiên bản {d.base_id}")
            kb_index.make_current(path)
        seconds = time.perf_counter() - t0
        _finish_job(job_id, "done", f"đã quay lui về phiên bản {version_id} ({seconds:.1f}s)")
        return PublishResult(version_id, path, len(procs), 0, seconds, [], incremental)
    except PublishError as exc:
        _finish_job(job_id, "failed", str(exc))
        raise
    except Exception as exc:
        _finish_job(job_id, "failed", f"lỗi khi quay lui: {exc}")
        raise


def _existing_index(content_hash: str | None) -> Path | None:
    """A finished index directory built from exactly this content, if one is still on disk."""
    if not content_hash:
        return None
    for path in sorted(store.data_dir().glob(f"index-{content_hash}-*"), reverse=True):
        if not path.name.endswith(".building") and _index_matches(path, content_hash):
            return path
    return None


def _index_matches(path: Path, content_hash: str | None) -> bool:
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("catalogue_version") == content_hash


# --------------------------------------------------------------------------
# History and audit
# --------------------------------------------------------------------------
@dataclass
class VersionInfo:
    id: int
    status: str
    live: bool
    base_id: int | None
    created_by: str
    created_at: str
    published_by: str | None
    published_at: str | None
    n_procedures: int
    note: str


def history(limit: int = 100) -> list[VersionInfo]:
    """Versions newest first, the live one marked."""
    with db.session() as s:
        live = live_version_id(s)
        rows = s.scalars(select(db.Version).where(db.Version.status != "discarded").order_by(db.Version.id.desc()).limit(limit))
        return [
            VersionInfo(v.id, v.status, v.id == live, v.base_id, v.created_by, f"{v.created_at:%Y-%m-%d %H:%M:%S}",
                        v.published_by, f"{v.published_at:%Y-%m-%d %H:%M:%S}" if v.published_at else None,
                        v.n_procedures, v.note)
            for v in rows
        ]


def audit_log(code: str | None = None, limit: int = 200) -> list[db.Audit]:
    """Newest audit rows first, optionally for one procedure."""
    with db.session() as s:
        q = select(db.Audit).order_by(db.Audit.id.desc()).limit(limit)
        if code:
            q = q.where(db.Audit.code == code)
        return list(s.scalars(q))
