"""Terminal chat with the running assistant over the REST channel."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid


def send(url: str, sender: str, text: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text}).encode("utf-8")
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read().decode("utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5005)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}/webhooks/rest/webhook"
    sender = f"terminal-{uuid.uuid4().hex[:8]}"
    print("Nhập câu hỏi (ví dụ: làm căn cước cần giấy tờ gì?). Gõ /thoat để thoát.")
    while True:
        try:
            text = input("Bạn: ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if text in {"/thoat", "/quit", "/exit"}:
            return 0
        try:
            messages = send(url, sender, text)
        except (urllib.error.URLError, OSError) as exc:
            print(f"(không kết nối được trợ lý tại {url}: {exc}; hãy chạy make run)", file=sys.stderr)
            continue
        for msg in messages:
            if msg.get("text"):
                print("Trợ lý: " + msg["text"].replace("\n", "\n        "))
            for _i, button in enumerate(msg.get("buttons") or [], 1):
                print(f"        [{button.get('title')}]")


if __name__ == "__main__":
    sys.exit(main())
