"""``python -m knowledge_base``: build, search, import and evaluate from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge_base import store


def _cmd_import(path: Path, dry_run: bool) -> int:
    from knowledge_base.importer import ImportRejected, import_file

    commit = None if dry_run else store.write_imported
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
    args = parser.parse_args(argv)

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
            rc = _cmd_import(args.file, args.dry_run)
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
