"""Analytics pages at 1,000,000 recorded turns: render time of each page (target: under 2 s).

Fills a temporary SQLite database (schema by Alembic, migration 0002) with ``--turns`` turns
and their daily roll-ups
spread over 90 days (the default retention): five channels, procedures drawn from the live
catalogue with a long tail, about 12 % fallback or low-confidence turns phrased in a few
thousand distinct ways.  Then starts the real admin app (tests/admin/support.py: a seeded
catalogue and users) with RECORDS_DATABASE_URL pointing at it, logs in and times each page
over HTTP, the first (cold) request and the median of the next ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import table  # noqa: E402

CHANNELS = (("socketio", 0.55), ("zalo", 0.25), ("rest", 0.08), ("phone", 0.12))
ASPECTS = ("documents", "fee", "duration", "where", "steps", "online", "overview", "legal_basis")
SUBJECTS = ("vé tàu", "vé máy bay", "tiền điện", "tiền nước", "bảo hiểm xe", "lương hưu", "học bổng", "vay vốn",
            "thuế thu nhập", "đăng kiểm ô tô", "thẻ ngân hàng", "sim điện thoại", "giá vàng", "thời tiết", "xổ số",
            "điểm thi", "lịch cắt điện", "giấy phép karaoke", "đổi tiền", "mã bưu chính")
FORMS = ("cho hỏi {s} ở đâu", "{s} bao nhiêu tiền", "làm {s} thế nào", "{s} cần gì", "muốn hỏi về {s} {n}",
         "{s} hết hạn thì sao", "ai lo {s}", "{s} mất bao lâu", "tra cứu {s} {n}", "{s} ở {p} có không")
PLACES = ("Hà Nội", "Huế", "Đà Nẵng", "Cần Thơ", "Nghệ An", "Lâm Đồng", "quận 3", "huyện Gia Lâm")


def fold(text: str) -> str:
    from vntext.normalize import fold_accents

    return re.sub(r"\s+", " ", re.sub(r"[^\w\[\]* ]+", " ", fold_accents(text))).strip()


def generate(db_path: Path, n: int, codes: list[str], days: int = 90, seed: int = 7) -> float:
    """Insert ``n`` turns and their daily roll-ups in one transaction; returns the seconds it took."""
    rng = random.Random(seed)
    phrasings = [FORMS[i % len(FORMS)].format(s=s, n=k, p=PLACES[k % len(PLACES)])
                 for i, s in enumerate(SUBJECTS) for k in range(150)]
    weights = [1 / (i + 1) for i in range(len(codes))]
    chan_names, chan_w = zip(*CHANNELS, strict=True)
    end = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    sql = ("INSERT INTO conversation_turn (at, day, sender_id, channel, text, text_key, intent, intent_confidence, kind, "
           "procedure_code, aspect, confidence, answered, fallback, low_confidence, unanswered, new_conversation, "
           "bot_messages) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
    batch = []
    picks_codes = rng.choices(codes, weights, k=n)
    picks_chan = rng.choices(chan_names, chan_w, k=n)
    for i in range(n):
        at = end - dt.timedelta(seconds=rng.random() * days * 86400)
        day = (at + dt.timedelta(hours=7)).date().isoformat()
        r = rng.random()
        sender = f"s{i // 4}"
        if r < 0.09:  # fallback
            text = rng.choice(phrasings)
            row = (text, fold(text), "nlu_fallback", 0.3, "fallback", None, None, None, 0, 1, 0, 1)
        elif r < 0.12:  # low-confidence answer
            text = rng.choice(phrasings)
            row = (text, fold(text), "ask_procedure", 0.6, "answer", picks_codes[i], rng.choice(ASPECTS), 0.65, 1, 0, 1, 1)
        else:
            text = f"hỏi thủ tục {picks_codes[i]}"
            row = (text, fold(text), "ask_documents", 0.95, "answer", picks_codes[i], rng.choice(ASPECTS), 0.9, 1, 0, 0, 0)
        t, k, intent, iconf, kind, code, aspect, conf, answered, fb, low, un = row
        batch.append((at.strftime("%Y-%m-%d %H:%M:%S.%f"), day, sender, picks_chan[i], t, k, intent, iconf, kind, code,
                      aspect, conf, answered, fb, low, un, int(i % 4 == 0), 1))
        if len(batch) >= 50_000:
            con.executemany(sql, batch)
            batch = []
    con.executemany(sql, batch)
    # the daily roll-ups the broker keeps turn by turn (bot/brokers/recording.py), here in one pass
    con.execute("INSERT INTO turn_daily_channel SELECT day, channel, COUNT(*), SUM(new_conversation), SUM(fallback), "
                "SUM(unanswered) FROM conversation_turn GROUP BY day, channel")
    con.execute("INSERT INTO turn_daily_topic SELECT day, COALESCE(procedure_code, ''), COALESCE(aspect, ''), COUNT(*) "
                "FROM conversation_turn WHERE procedure_code IS NOT NULL OR aspect IS NOT NULL GROUP BY 1, 2, 3")
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - t0


def timed(client, path: str, repeat: int) -> tuple[float, float, int]:  # noqa: ANN001 - AdminClient
    times = []
    size = 0
    for _ in range(repeat + 1):
        t = time.perf_counter()
        status, _, body = client.request("GET", path)
        times.append(time.perf_counter() - t)
        assert status == 200, (path, status, body[:300])
        size = len(body)
    return times[0], statistics.median(times[1:]), size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from knowledge_base import db, store
    from tests.admin.support import AdminServer, kb_env, prepare_data_dir, seed
    from tests.analytics.support import AdminClient

    work = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    records = work / "records.db"
    db.upgrade(f"sqlite:///{records}")
    codes = sorted(p.code for p in store.load_all())
    took = generate(records, args.turns, codes)
    print(f"generated {args.turns:,} turns in {took:.1f} s ({records.stat().st_size / 2**20:.0f} MB)")

    data = prepare_data_dir(work / "kb")
    env = kb_env(data, RECORDS_DATABASE_URL=f"sqlite:///{records}")
    seed(env)
    admin = AdminServer(env, work / "admin.log").start()
    try:
        deadline = time.monotonic() + 300  # the admin app warms its search model in the background: let it finish
        while "warm-up done" not in (work / "admin.log").read_text() and time.monotonic() < deadline:
            time.sleep(1)
        viewer, editor = AdminClient(admin.url, "chixem"), AdminClient(admin.url, "bientap")
        rows = []
        for label, client, path in (
            ("overview, 30 days", viewer, "/admin/analytics?days=30"),
            ("overview, 90 days", viewer, "/admin/analytics?days=90"),
            ("overview, 365 days", viewer, "/admin/analytics?days=365"),
            ("unanswered groups, 30 days", viewer, "/admin/analytics/unanswered?days=30"),
            ("unanswered groups, 90 days", viewer, "/admin/analytics/unanswered?days=90"),
            ("unanswered groups + editor's forms, 90 days", editor, "/admin/analytics/unanswered?days=90"),
            ("CSV per day and channel, 90 days", viewer, "/admin/analytics/export.csv?kind=daily&days=90"),
            ("CSV procedures, 90 days", viewer, "/admin/analytics/export.csv?kind=procedures&days=90"),
            ("CSV unanswered, 90 days", viewer, "/admin/analytics/export.csv?kind=unanswered&days=90"),
        ):
            first, median, size = timed(client, path, args.repeat)
            rows.append([label, f"{first * 1000:.0f}", f"{median * 1000:.0f}", f"{size / 1024:.0f}",
                         "yes" if max(first, median) < 2 else "NO"])
        print(table(rows, ["page", "first ms", f"median of {args.repeat} ms", "KiB", "< 2 s"]))
    finally:
        admin.stop()


if __name__ == "__main__":
    main()
