"""``python -m knowledge_base``: build, search, import, evaluate, and publish versions from the command line.

With a catalogue database (``db init``; see docs/admin.md) changes go
through versions: ``import --draft`` writes a draft, ``diff`` shows it,
``publish`` validates, indexes and makes it live, ``rollback VERSION`` makes an
earlier version live again and ``history`` lists versions (``--audit``: who
changed which field).  Without a database, ``import`` keeps its original
behaviour (write the imported catalogue, rebuild the index).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from knowledge_base import store


def _cmd_import(path: Path, dry_run: bool, draft: bool = False, actor: str = "cli") -> int:
    from knowledge_base.importer import ImportRejected, import_file

    commit = None if dry_run else store.write_imported
    if draft and not dry_run:
        from knowledge_base import publish

        publish.ensure_db(actor)

        def commit(procs, sha):  # noqa: ANN001, ANN202 - importer's CommitFn
            draft_id, n = publish.import_into_draft(actor, procs, f"{path.name} (sha256 {sha[:12]})")
            print(f"[kb] đã ghi vào bản nháp #{draft_id}: {n} thủ tục thay đổi (chưa xuất bản)")
    try:
        report = import_file(path, commit=commit)
    except ImportRejected as exc:
        print(exc.report.format() if getattr(exc, "report", None) else str(exc))
        print(f"\nTừ chối nhập {path}: danh mục đang dùng giữ nguyên.", file=sys.stderr)
        return 2
    print(report.format())
    if dry_run:
        print("\n(--dry-run: chỉ kiểm tra, không thay đổi danh mục)")
    return 0


def _cmd_verify(portal: Path | None, catalogue: Path | None, as_json: bool, today: str | None) -> int:
    """Compare the curated catalogue with the portal's records; print differences, change nothing."""
    import datetime as dt

    from knowledge_base import verify as kb_verify

    try:
        day = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError:
        print(f"Lỗi: --today phải có dạng YYYY-MM-DD, không phải {today!r}", file=sys.stderr)
        return 2
    path = portal or kb_verify.default_portal_path()
    try:
        records = kb_verify.load_portal(path)
        curated = store.load_curated(catalogue)
    except (kb_verify.PortalFileError, store.CatalogueError) as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    result = kb_verify.verify(curated, records, day, str(path))
    if as_json:
        print(json.dumps([d.to_dict() for d in result.differences], ensure_ascii=False, indent=2))
    else:
        print(kb_verify.format_report(result))
    return 0


def _print_changes(changes: list) -> None:  # noqa: ANN001 - list[publish.ProcedureChange]
    marks = {"added": "+ thêm", "removed": "- xóa", "changed": "~ sửa"}
    for ch in changes:
        print(f"{marks[ch.kind]} [{ch.code}] {ch.name}")
        if ch.kind != "changed":
            continue
        for fc in ch.fields:
            print(f"    {fc.label}:")
            for op, line in fc.diff():
                if op != " ":
                    print(f"      {op} {line}")


def _cmd_versions(args: argparse.Namespace) -> int:
    """db / diff / discard / publish / rollback / history."""
    from knowledge_base import publish

    actor = args.actor
    try:
        if args.cmd == "db":
            live = publish.ensure_db(actor)
            print(f"[kb] cơ sở dữ liệu sẵn sàng; phiên bản đang dùng: {live}")
            draft = publish.sync_yaml(actor)
            if draft is not None:
                print(f"[kb] danh mục YAML biên soạn đã đổi: các thay đổi nằm trong bản nháp #{draft}, "
                      "chờ xem lại và xuất bản (python -m knowledge_base diff / publish, hoặc trang quản trị)")
            return 0
        publish.ensure_db(actor)
        if args.cmd == "history":
            if args.audit:
                for a in publish.audit_log(args.code, args.limit):
                    what = f" {a.code}.{a.field}" if a.code else ""
                    change = f": {a.old_value} → {a.new_value}" if a.field else ""
                    print(f"{a.at:%Y-%m-%d %H:%M:%S} {a.actor} {a.action} v{a.version_id}{what}{change}"
                          + (f" ({a.detail})" if a.detail else ""))
                return 0
            for v in publish.history(args.limit):
                live = " ← đang dùng" if v.live else ""
                when = v.published_at or v.created_at
                who = v.published_by or v.created_by
                print(f"#{v.id:<4} {v.status:<10} {v.n_procedures:>6} thủ tục  {when}  {who}{live}")
            return 0
        if args.cmd == "diff":
            draft, live, changes = publish.draft_changes()
            if draft is None:
                print("Không có bản nháp.")
                return 0
            print(f"Bản nháp #{draft} so với phiên bản đang dùng #{live}: {len(changes)} thủ tục khác")
            _print_changes(changes)
            return 0
        if args.cmd == "discard":
            gone = publish.discard_draft(actor)
            print(f"Đã hủy bản nháp #{gone}." if gone else "Không có bản nháp.")
            return 0
        if args.cmd == "publish":
            res = publish.publish(actor, progress=lambda pct, msg: print(f"[{pct:>3}%] {msg}" if pct >= 0 else f"       {msg}"))
            print(f"Đã xuất bản phiên bản #{res.version_id}: {res.n_changed} thủ tục thay đổi, {res.n_procedures} thủ tục, "
                  f"{res.seconds:.1f}s ({'lập chỉ mục tăng dần' if res.incremental else 'lập chỉ mục đầy đủ'}).")
            if res.warnings:
                print(f"Lưu ý: {len(res.warnings)} thiếu sót đã có sẵn trong phiên bản trước (không chặn xuất bản), ví dụ:")
                for p in res.warnings[:10]:
                    print(f"  ! {p.format()}")
            return 0
        if args.cmd == "rollback":
            res = publish.rollback(actor, args.version)
            print(f"Đã quay lui: phiên bản #{res.version_id} đang được dùng ({res.seconds:.1f}s).")
            return 0
    except publish.PublishError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        for p in exc.problems:
            print(f"  ✗ {p.format()}", file=sys.stderr)
        print("Không có gì thay đổi.", file=sys.stderr)
        return 2
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge_base", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="lập chỉ mục tìm kiếm từ danh mục hiện tại")
    b.add_argument("--import", dest="import_file", type=Path, help="nhập tệp danh mục của Cổng DVC trước khi lập chỉ mục")
    b.add_argument("--if-stale", action="store_true", help="bỏ qua nếu chỉ mục hiện tại còn mới")
    s = sub.add_parser("search", help="tìm thủ tục")
    s.add_argument("query")
    s.add_argument("--k", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s.add_argument("--retriever", choices=["hybrid", "lexical", "dense"], default="hybrid")
    i = sub.add_parser("import", help="kiểm tra và nhập tệp danh mục của Cổng DVC (JSONL, có thể .gz)")
    i.add_argument("file", type=Path)
    i.add_argument("--dry-run", action="store_true", help="chỉ in báo cáo kiểm tra")
    i.add_argument("--no-build", action="store_true", help="không lập lại chỉ mục sau khi nhập")
    e = sub.add_parser("eval", help="đo hit@1, hit@3, MRR trên tệp câu hỏi có nhãn")
    e.add_argument("file", type=Path)
    e.add_argument("--retriever", choices=["hybrid", "lexical", "dense"], default="hybrid")
    e.add_argument("--json", action="store_true")
    v = sub.add_parser("verify", help="đối chiếu danh mục biên soạn với dữ liệu Cổng DVC (chỉ báo cáo, không sửa)")
    v.add_argument("--portal", type=Path, help="tệp xuất của Cổng DVC (mặc định: TTHC_SAMPLE hoặc ../shared/data/tthc/…)")
    v.add_argument("--catalogue", type=Path, help="thư mục danh mục biên soạn (mặc định: knowledge_base/catalogue)")
    v.add_argument("--json", action="store_true", help="in danh sách khác biệt dạng JSON")
    v.add_argument("--today", help="ngày đối chiếu YYYY-MM-DD (mặc định: hôm nay)")
    i.add_argument("--draft", action="store_true", help="ghi vào bản nháp trong cơ sở dữ liệu (mặc định khi đã có cơ sở dữ liệu)")
    d = sub.add_parser("db", help="tạo/nâng cấp cơ sở dữ liệu danh mục; phiên bản 1 lấy từ YAML biên soạn")
    d.add_argument("action", choices=["init", "upgrade"])
    sub.add_parser("diff", help="in khác biệt của bản nháp so với phiên bản đang dùng")
    sub.add_parser("discard", help="hủy bản nháp")
    sub.add_parser("publish", help="kiểm tra, lập chỉ mục và xuất bản bản nháp")
    r = sub.add_parser("rollback", help="quay lui về một phiên bản đã xuất bản")
    r.add_argument("version", type=int)
    h = sub.add_parser("history", help="lịch sử phiên bản (--audit: nhật ký thay đổi)")
    h.add_argument("--audit", action="store_true")
    h.add_argument("--code", help="chỉ nhật ký của một thủ tục")
    h.add_argument("--limit", type=int, default=50)
    for sp in (i, d, r, h, *[sub.choices[n] for n in ("diff", "discard", "publish")]):
        sp.add_argument("--actor", default=os.environ.get("USER") or "cli", help="tên người thực hiện, ghi vào nhật ký")
    args = parser.parse_args(argv)

    if args.cmd in {"build", "import", "publish", "rollback"}:
        # a background job: citizens' turns on the same cores go first (knowledge_base/priority.py)
        from knowledge_base.priority import lower_for_background_work

        lower_for_background_work()
    if args.cmd in {"db", "diff", "discard", "publish", "rollback", "history"}:
        return _cmd_versions(args)
    if args.cmd == "verify":
        return _cmd_verify(args.portal, args.catalogue, args.json, args.today)

    from knowledge_base import index as kb_index

    try:
        if args.cmd == "build":
            if args.import_file and _cmd_import(args.import_file, dry_run=False) != 0:
                return 2
            if args.if_stale:
                try:
                    kb_index.load()
                    print("[kb] chỉ mục còn mới, bỏ qua bước lập chỉ mục")
                    return 0
                except kb_index.StaleIndexError as exc:
                    print(f"[kb] {exc}")
            kb_index.build()
            return 0
        if args.cmd == "import":
            from knowledge_base.publish import database_exists

            draft = args.draft or database_exists()
            rc = _cmd_import(args.file, args.dry_run, draft=draft, actor=args.actor)
            if draft and rc == 0 and not args.dry_run:
                print("Xem lại bằng: python -m knowledge_base diff; xuất bản bằng: python -m knowledge_base publish")
                return rc
            if rc == 0 and not args.dry_run and not args.no_build:
                kb_index.build()
            return rc
        from knowledge_base.retrieval import Searcher

        searcher = Searcher(kb_index.load())
        if args.cmd == "search":
            hits = searcher.search(args.query, k=args.k, retriever=args.retriever)
            if args.json:
                print(json.dumps([{"code": h.code, "name": h.name, "score": round(h.score, 4)} for h in hits], ensure_ascii=False))
            else:
                if not hits:
                    print("Không tìm thấy thủ tục phù hợp.")
                for rank, h in enumerate(hits, 1):
                    print(f"{rank}. [{h.code}] {h.name}  (điểm {h.score:.4f}; khớp: {', '.join(h.matched_fields)})")
            return 0
        if args.cmd == "eval":
            from knowledge_base.evaluate import evaluate, load_questions

            result = evaluate(searcher, load_questions(args.file), retriever=args.retriever)
            summary = {key: result[key] for key in ("n", "hit@1", "hit@3", "mrr")}
            if args.json:
                print(json.dumps(summary))
            else:
                print(f"n={summary['n']}  hit@1={summary['hit@1']:.3f}  hit@3={summary['hit@3']:.3f}  MRR={summary['mrr']:.3f}")
            return 0
    except (kb_index.StaleIndexError, store.CatalogueError, ValueError) as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    return 1
