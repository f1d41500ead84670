"""``python -m admin``: serve the admin web app, or create an admin account.

    python -m admin create-admin USER [--role publisher|editor|viewer|operator]   # asks for the password
    python -m admin serve [--host 127.0.0.1] [--port 8090]
    python -m admin purge-records [--days N]   # delete conversation records older than N days (RECORDS_RETENTION_DAYS, 90)
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m admin", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create-admin", help="tạo tài khoản quản trị (hoặc đặt lại mật khẩu)")
    c.add_argument("username")
    c.add_argument("--role", default="publisher", choices=["publisher", "editor", "viewer", "operator"])
    c.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ stdin (cho kịch bản)")
    s = sub.add_parser("serve", help="chạy trang quản trị")
    s.add_argument("--host", default=os.environ.get("ADMIN_HOST", "127.0.0.1"))
    s.add_argument("--port", type=int, default=int(os.environ.get("ADMIN_PORT", "8090")))
    p = sub.add_parser("purge-records", help="xoá bản ghi hội thoại cũ hơn thời hạn lưu (docs/analytics.md)")
    p.add_argument("--days", type=int, default=None, help="thời hạn lưu, ngày (mặc định RECORDS_RETENTION_DAYS hoặc 90)")
    args = parser.parse_args(argv)

    from knowledge_base import publish

    if args.cmd == "purge-records":
        from admin import analytics_store

        days = args.days if args.days is not None else analytics_store.retention_days()
        print(f"Đã xoá {analytics_store.purge(days)} lượt hỏi cũ hơn {days} ngày.")
        return 0
    if args.cmd == "create-admin":
        from admin import auth

        publish.ensure_db("system")
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Mật khẩu (ít nhất 10 ký tự): ")
            if getpass.getpass("Nhập lại mật khẩu: ") != password:
                print("Lỗi: hai lần nhập không khớp.", file=sys.stderr)
                return 2
        try:
            auth.create_user(args.username, password, args.role)
        except ValueError as exc:
            print(f"Lỗi: {exc}", file=sys.stderr)
            return 2
        print(f"Đã tạo tài khoản {args.username} ({auth.ROLE_NAMES[args.role]}).")
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from admin.app import create_app

    app = create_app()
    print(f"Trang quản trị: http://{args.host}:{args.port}/admin/", flush=True)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
