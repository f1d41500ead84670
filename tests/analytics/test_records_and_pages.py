"""Turns sent to the real Rasa server are recorded masked, and the analytics pages count exactly them.

The expected figures come from what the test sent and from the structured payload of the
bot's own REST replies (``custom.kind``, ``procedure_code``, ``aspect``), never from the
database the pages read; the database is read directly only to check the masking.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.admin.support import PASSWORD, PY, REPO
from tests.analytics.support import AdminClient, AnalyticsStack
from tests.conftest import artifacts_dir

# (sender, text, metadata channel or None). Senders: a citizen on REST with two turns, one on the
# phone gateway's REST path (metadata channel "phone"), one who types personal data, one asking
# twice about something out of scope (train tickets), and one more out-of-scope asker.
PII = {"phone": "0912 345 678", "cccd": "001099012345", "email": "an.nguyen@gmail.com",
       "address": "số 12 ngõ 34 phố Huế"}
TURNS = [
    ("an-rest", "làm căn cước cần giấy tờ gì?", None),
    ("an-rest", "còn lệ phí thì sao?", None),
    ("binh-phone", "đăng ký khai sinh cần những giấy tờ gì", "phone"),
    ("cuong-pii", f"tôi ở {PII['address']}, sđt {PII['phone']}, cccd {PII['cccd']}, mail {PII['email']}, "
                  "muốn hỏi giá vé tàu hỏa đi Huế", None),
    ("dung-tau", "giá vé tàu hỏa đi Huế bao nhiêu tiền", None),
    ("dung-tau", "giá vé tàu hỏa đi Đà Nẵng bao nhiêu tiền", None),
    ("em-bong", "đội bóng nào vô địch giải bóng đá năm nay", None),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    s = AnalyticsStack(tmp_path_factory.mktemp("analytics")).start()
    replies = []
    for sender, text, channel in TURNS:
        body = {"sender": sender, "message": text}
        if channel:
            body["metadata"] = {"channel": channel}
        status, messages = s.bot.post(body)
        assert status == 200 and messages, (status, messages)
        replies.append(messages)
    s.replies = replies
    s.recorded = s.wait_turns(len(TURNS))
    yield s
    s.stop()


def kinds_of(messages: list[dict]) -> list[str]:
    return [(m.get("custom") or {}).get("kind") for m in messages if (m.get("custom") or {}).get("kind")]


def main_reply(messages: list[dict]) -> dict:
    """The reply that classifies the turn (an answer over a prompt), as the recorder picks it."""
    order = ("answer", "answer_all", "choice", "handoff", "hotline", "fallback", "rephrase", "invalid_choice", "prompt")
    customs = [m.get("custom") or {} for m in messages]
    for kind in order:
        for c in customs:
            if c.get("kind") == kind:
                return c
    return {}


def unanswered(messages: list[dict]) -> bool:
    """A fallback, or an answer below the low-confidence threshold (RECORDS_LOW_CONFIDENCE, 0.75)."""
    main = main_reply(messages)
    low = main.get("kind") in ("answer", "answer_all") and main.get("confidence") is not None and main["confidence"] < 0.75
    return "fallback" in kinds_of(messages) or low


def number(page: str, testid: str) -> int:
    m = re.search(rf'data-testid="{testid}">(\d+)<', page)
    assert m, f"{testid} not on the page"
    return int(m.group(1))


def test_every_turn_is_recorded_once_with_its_channel(stack) -> None:
    rows = stack.recorded
    assert len(rows) == len(TURNS)
    assert [r["sender_id"] for r in rows] == [s for s, _, _ in TURNS]
    assert Counter(r["channel"] for r in rows) == Counter({"rest": 6, "phone": 1})
    assert sum(r["new_conversation"] for r in rows) == len({s for s, _, _ in TURNS})
    for row, messages in zip(rows, stack.replies, strict=True):
        main = main_reply(messages)
        assert row["kind"] == main.get("kind")
        assert row["procedure_code"] == main.get("procedure_code")
        assert row["fallback"] == int("fallback" in kinds_of(messages))


def test_out_of_scope_questions_fell_back(stack) -> None:
    """The test's premise: the train-ticket and football questions end in the honest fallback."""
    for i in (4, 5, 6):
        assert "fallback" in kinds_of(stack.replies[i]), (TURNS[i][1], stack.replies[i])


def test_personal_data_never_reaches_the_database(stack) -> None:
    con = sqlite3.connect(stack.db_path)
    try:
        cells = [str(v) for table in ("conversation_turn", "unanswered_decision")
                 for row in con.execute(f"SELECT * FROM {table}") for v in row]  # noqa: S608 - fixed names
    finally:
        con.close()
    blob = "\n".join(cells)
    digits = re.sub(r"\D", "", blob)
    assert "0912345678" not in digits and "345678" not in re.sub(r"\s", "", blob)
    assert PII["cccd"] not in digits
    for secret in ("an.nguyen", "ngõ 34", "phố Huế", "ngo 34", "pho hue"):
        assert secret not in blob.lower(), secret
    row = stack.recorded[3]
    assert "[địa chỉ]" in row["text"] and "***@gmail.com" in row["text"] and "********78" in row["text"], row["text"]
    assert "giá vé tàu hỏa đi Huế" in row["text"]  # the question itself stays readable


def test_overview_counts_match_the_turns_sent(stack) -> None:
    viewer = AdminClient(stack.admin.url, "chixem")  # a viewer may read the analytics
    page = viewer.page("/admin/analytics?days=7")
    fallbacks = sum("fallback" in kinds_of(m) for m in stack.replies)
    assert number(page, "total-turns") == len(TURNS)
    assert number(page, "total-conversations") == 5
    assert number(page, "total-fallback") == fallbacks
    assert re.search(r'data-channel="phone"><td>Điện thoại</td><td>1</td>', page)
    assert re.search(r'data-channel="rest"><td>REST</td><td>6</td>', page)
    answered = Counter(main_reply(m).get("procedure_code") for m in stack.replies if main_reply(m).get("procedure_code"))
    assert answered, "the bot answered none of the procedure questions"
    for code, n in answered.items():
        assert re.search(rf">{re.escape(code)}</a></td><td>[^<]*</td><td>{n}</td>", page), code
    aspects = Counter(main_reply(m).get("aspect") for m in stack.replies if main_reply(m).get("aspect"))
    for aspect, n in aspects.items():
        assert re.search(rf'data-aspect="{aspect}"><td>[^<]+</td><td>{n}</td>', page), aspect
    for chart in ("chart-turns", "chart-conversations", "chart-fallback", "chart-procedures", "chart-aspects"):
        assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and f'data-testid="{chart}"' in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing from another host


def test_pages_in_a_browser(stack, browser) -> None:
    """Headless Chromium: the charts render, nothing is requested from another host; screenshots saved."""
    hosts: set[str] = set()
    context = browser.new_context(viewport={"width": 1280, "height": 1400}, locale="vi-VN")
    page = context.new_page()
    page.on("request", lambda r: hosts.add(re.sub(r"^(\w+://[^/]+).*$", r"\1", r.url)))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text
            else None)
    failed: list[str] = []  # the browser's own /favicon.ico probe is the one request allowed to miss
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400
            and not r.url.endswith("/favicon.ico") else None)
    page.goto(stack.admin.url + "/admin/login")
    page.fill('input[name="username"]', "bientap")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.click('[data-testid="nav-analytics"]')
    page.click('a[href="?days=7"]')
    assert page.inner_text('[data-testid="total-turns"]') == str(len(TURNS))
    box = page.locator('svg[data-testid="chart-turns"]').bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    assert page.locator('svg[data-testid="chart-turns"] rect').count() >= 3  # bars and legend
    shots = artifacts_dir("analytics")
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    page.click('[data-testid="link-unanswered"]')
    assert page.locator('[data-testid="group"]').count() >= 2
    page.screenshot(path=str(shots / "unanswered.png"), full_page=True)
    context.close()
    assert hosts == {stack.admin.url}, hosts
    assert not errors, errors  # no Content-Security-Policy violation
    assert not failed, failed  # no broken resource (the style sheet, the pages)


def groups_of(page: str) -> dict[str, tuple[int, list[str], list[str]]]:
    """group id -> (count, examples shown, the keys its forms carry)."""
    out = {}
    for m in re.finditer(r'<section class="group" id="g-(\w+)".*?data-count="(\d+)">(.*?)</section>', page, re.S):
        body = m.group(3)
        examples = [re.sub(r"\s*<span.*", "", e, flags=re.S).strip()
                    for e in re.findall(r'<li data-testid="example">(.*?)</li>', body, re.S)]
        keys = sorted(set(re.findall(r'name="key" value="([^"]*)"', body)))
        out[m.group(1)] = (int(m.group(2)), examples, keys)
    return out


def test_unanswered_groups_alias_draft_and_out_of_scope(stack) -> None:
    editor = AdminClient(stack.admin.url, "bientap")
    page = editor.page("/admin/analytics/unanswered?days=7")
    groups = groups_of(page)
    expected = sum(unanswered(m) for m in stack.replies)
    assert sum(c for c, _, _ in groups.values()) == number(page, "n-turns") == expected >= 3
    train = [g for g, (_, ex, _) in groups.items() if any("Đà Nẵng" in e for e in ex)]
    assert len(train) == 1
    count, examples, keys = groups[train[0]]
    assert count >= 2 and any("Huế bao nhiêu" in e for e in examples), examples  # similar questions together
    football = [g for g, (_, ex, _) in groups.items() if any("bóng đá" in e for e in ex)]
    assert len(football) == 1 and football[0] != train[0]

    # a viewer reads but may not act; a form without the session's CSRF token is refused
    viewer = AdminClient(stack.admin.url, "chixem")
    assert 'data-testid="alias-form"' not in viewer.page("/admin/analytics/unanswered?days=7")
    status, _, _ = viewer.request("POST", "/admin/analytics/unanswered/out-of-scope",
                                  [("csrf", viewer.csrf), ("key", groups[football[0]][2][0])])
    assert status == 403
    status, _, _ = editor.request("POST", "/admin/analytics/unanswered/out-of-scope",
                                  [("csrf", "forged"), ("key", groups[football[0]][2][0])])
    assert status == 403

    # (a) the train group's phrasing becomes an alias of a procedure, in the draft
    from knowledge_base import db, publish

    code = stack.recorded[0]["procedure_code"]
    assert code
    phrase = "giá vé tàu hỏa bao nhiêu tiền"
    fields = [("csrf", editor.csrf), ("days", "7"), ("phrase", phrase), ("procedure", f"{code} — tên bất kỳ")]
    status, headers, body = editor.request("POST", "/admin/analytics/unanswered/alias",
                                           fields + [("key", k) for k in keys])
    assert status == 302, body[:500]
    with db.session(stack.url) as s:
        draft = publish.draft_of(s)
        assert draft is not None
        proc, _ = publish.procedure_in(s, draft.id, code)
        live_proc, _ = publish.procedure_in(s, publish.live_version_id(s), code)
    assert phrase in proc.aliases and phrase not in live_proc.aliases  # a draft change, not live
    audit = [a for a in publish_audit(stack.url, code) if a.field == "aliases"]
    assert audit and audit[0].actor == "bientap"
    page = editor.page(headers["location"].replace(stack.admin.url, ""))
    assert "bản nháp" in page and train[0] not in groups_of(page)

    # (b) the football group is out of scope: it leaves the list, and the decision is kept
    status, headers, _ = editor.request("POST", "/admin/analytics/unanswered/out-of-scope",
                                        [("csrf", editor.csrf), ("days", "7")] + [("key", k) for k in groups[football[0]][2]])
    assert status == 302
    page = editor.page("/admin/analytics/unanswered?days=7")
    left = groups_of(page)
    assert football[0] not in left and train[0] not in left
    assert set(left) == set(groups) - {football[0], train[0]}
    assert number(page, "n-turns") == expected - count - groups[football[0]][0]
    decided = dict((r["text_key"], r["action"]) for r in stack.rows("SELECT text_key, action FROM unanswered_decision"))
    assert set(groups[football[0]][2]) <= {k for k, a in decided.items() if a == "out_of_scope"}
    assert set(keys) <= {k for k, a in decided.items() if a == "alias"}
    db.dispose_all()


def publish_audit(url: str, code: str) -> list:
    from sqlalchemy import select

    from knowledge_base import db

    with db.session(url) as s:
        return list(s.scalars(select(db.Audit).where(db.Audit.code == code).order_by(db.Audit.id.desc())))


def test_csv_export(stack) -> None:
    viewer = AdminClient(stack.admin.url, "chixem")
    status, headers, body = viewer.request("GET", "/admin/analytics/export.csv?kind=daily&days=7")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert sum(int(r["so_luot"]) for r in rows) == len(TURNS)
    assert {r["kenh"]: int(r["so_luot"]) for r in rows} == {"rest": 6, "phone": 1}
    status, _, body = viewer.request("GET", "/admin/analytics/export.csv?kind=procedures&days=7")
    codes = {r["ma"]: int(r["so_luot"]) for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))}
    assert codes.get(stack.recorded[0]["procedure_code"], 0) >= 1
    status, _, body = viewer.request("GET", "/admin/analytics/export.csv?kind=unanswered&days=7")
    assert status == 200 and body.decode("utf-8-sig").startswith("nhom,so_luot_nhom")


def test_purge_deletes_old_records_and_keeps_new(stack) -> None:
    con = sqlite3.connect(stack.db_path)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=100)).strftime("%Y-%m-%d %H:%M:%S.%f")
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(days=80)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with con:
        for at, sender in ((old, "cu-1"), (old, "cu-2"), (recent, "moi-1")):
            con.execute("INSERT INTO conversation_turn (at, day, sender_id, channel, text, text_key, answered, fallback, "
                        "low_confidence, unanswered, new_conversation, bot_messages) "
                        "VALUES (?, ?, ?, 'rest', 'x', 'x', 0, 0, 0, 0, 1, 1)", (at, at[:10], sender))
    con.close()
    before = len(stack.rows())
    res = subprocess.run([PY, "-m", "admin", "purge-records"], env=stack.env, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Đã xoá 2 lượt hỏi cũ hơn 90 ngày" in res.stdout
    senders = [r["sender_id"] for r in stack.rows()]
    assert len(senders) == before - 2 and "cu-1" not in senders and "cu-2" not in senders and "moi-1" in senders
    assert [s for s in senders if s != "moi-1"] == [s for s, _, _ in TURNS]


def test_rasa_log_has_no_recording_errors(stack) -> None:
    log = Path(stack.bot.rasa_log).read_text(encoding="utf-8", errors="replace")
    assert "conversation records:" in log and "not recorded" not in log
