"""The admin web app in a real browser (Debian's chromium via Playwright) with the real Rasa and action servers.

One story, in order: an editor changes a fee; a viewer may not publish; the
publisher reviews the diff and publishes; the bot, asked over REST, gives
the new fee without any restart; the publisher rolls back and the bot gives
the old fee again.  Plus the refusals: a forged CSRF token, a wrong password,
the log-in rate limit.  Screenshots land in ``test-artifacts/admin/``
(git-ignored; ARTIFACTS_DIR overrides the root).
"""

from __future__ import annotations

import gzip
import json
import re
import time

import pytest

from tests.admin.support import PASSWORD, REPO, AdminServer, kb_env, prepare_data_dir, seed, to_cp1258
from tests.conftest import artifacts_dir, shared_path
from tests.servers import Servers

ARTIFACTS = artifacts_dir("admin")
CODE = "1.001193"  # Đăng ký khai sinh
QUESTION = "làm giấy khai sinh hết bao nhiêu tiền"
NEW_FEE = "55.000 đồng"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Seeded data dir + admin server + the real action and Rasa servers answering from that data dir."""
    data = prepare_data_dir(tmp_path_factory.mktemp("admin-kb") / "kb")
    env = kb_env(data, KB_RELOAD_POLL_S="0.3", ADMIN_MAX_UPLOAD_MB="4", ADMIN_MAX_UNPACKED_MB="64")
    seed(env)
    work = tmp_path_factory.mktemp("admin-servers")
    admin = AdminServer(env, work / "admin.log").start()
    bot = Servers(work, env={"KB_DATA_DIR": str(data), "KB_RELOAD_POLL_S": "0.3"}).start()
    yield admin, bot, data
    bot.stop()
    admin.stop()


def new_page(browser, hosts: set[str] | None = None):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="vi-VN")
    page = context.new_page()
    if hosts is not None:
        page.on("request", lambda r: hosts.add(re.sub(r"^(\w+://[^/]+).*$", r"\1", r.url)))
    return page


def login(page, admin: AdminServer, user: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    page.goto(admin.url + "/admin/login")
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')


def bot_fee_text(bot: Servers, tag: str) -> str:
    messages = bot.say(f"admin-{tag}-{time.monotonic_ns()}", QUESTION)
    return "\n".join(m.get("text") or "" for m in messages)


def wait_job(page, timeout_s: float = 240) -> str:  # noqa: ANN001
    """Wait on the job page (it refreshes itself) until the job is done or failed."""
    page.wait_for_selector('[data-testid="job-status"][data-status="done"], [data-testid="job-status"][data-status="failed"]',
                           timeout=timeout_s * 1000)
    return page.get_attribute('[data-testid="job-status"]', "data-status") or ""


def wait_bot(bot: Servers, want: str, absent: str | None = None, timeout_s: float = 60) -> tuple[str, float]:
    t0 = time.monotonic()
    text = ""
    while time.monotonic() - t0 < timeout_s:
        text = bot_fee_text(bot, "poll")
        if want in text and (absent is None or absent not in text):
            return text, time.monotonic() - t0
        time.sleep(0.3)
    raise AssertionError(f"bot did not answer with {want!r} within {timeout_s}s; last answer:\n{text}")


def test_full_flow_edit_review_publish_bot_rollback(stack, browser):
    admin, bot, data = stack
    before = bot_fee_text(bot, "before")
    assert "Miễn" in before or "miễn" in before, before
    assert NEW_FEE not in before

    hosts: set[str] = set()
    # --- the editor changes the in-person fee
    ed = new_page(browser, hosts)
    login(ed, admin, "bientap")
    assert "bientap" in ed.inner_text('[data-testid="whoami"]')
    ed.goto(admin.url + f"/admin/procedures?q={QUESTION}")
    assert CODE in ed.inner_text('[data-testid="procedures"]'), "the bot's own search does not find the procedure"
    ed.screenshot(path=str(ARTIFACTS / "01-search.png"), full_page=True)
    ed.goto(admin.url + f"/admin/procedures/{CODE}/edit")
    channel = '[data-testid="channel-truc_tiep"]'
    ed.select_option(f'{channel} select[name="ch_truc_tiep_fee0_kind"]', "fixed")
    ed.fill(f'{channel} input[name="ch_truc_tiep_fee0_amount"]', "55.000")
    ed.fill(f'{channel} input[name="ch_truc_tiep_fee0_note"]', "")
    ed.select_option(f'{channel} select[name="ch_truc_tiep_fee1_kind"]', "")  # drop the second fee row
    ed.screenshot(path=str(ARTIFACTS / "02-editor-form.png"), full_page=True)
    ed.click('[data-testid="save"]')
    ed.wait_for_selector('[data-testid="in-draft"]')
    assert NEW_FEE in ed.inner_text("main")
    # the editor has no publish button
    ed.goto(admin.url + "/admin/draft")
    assert ed.locator('[data-testid="publish"]').count() == 0
    assert bot_fee_text(bot, "draft-only").count(NEW_FEE) == 0, "a draft must never reach citizens"

    # --- a viewer sees the draft but may not publish, even by posting the form itself
    viewer = new_page(browser)
    login(viewer, admin, "chixem")
    viewer.goto(admin.url + "/admin/draft")
    draft_id = viewer.inner_text('[data-testid="draft-id"]').lstrip("#")
    assert viewer.locator('[data-testid="publish"]').count() == 0
    csrf = viewer.locator('header input[name="csrf"]').get_attribute("value")
    res = viewer.context.request.post(admin.url + "/admin/draft/publish", form={"csrf": csrf or "", "draft": draft_id},
                                      max_redirects=0)
    assert res.status == 403 and "không được phép" in res.text(), res.text()[:500]
    viewer.goto(admin.url + "/admin/procedures/" + CODE + "/edit")
    assert "không được phép" in viewer.inner_text("main")
    viewer.screenshot(path=str(ARTIFACTS / "03-viewer-refused.png"), full_page=True)

    # --- the publisher reviews the diff and publishes
    pub = new_page(browser, hosts)
    login(pub, admin, "xuatban")
    pub.goto(admin.url + "/admin/draft")
    change = pub.locator(f'[data-testid="change-{CODE}"]')
    assert NEW_FEE in change.locator('[data-testid="diff-ins"]').first.inner_text()
    assert "Miễn phí" in change.locator('[data-testid="diff-del"]').first.inner_text()
    pub.screenshot(path=str(ARTIFACTS / "04-review-diff.png"), full_page=True)
    t0 = time.monotonic()
    pub.click('[data-testid="publish"]')
    assert wait_job(pub) == "done", pub.inner_text("main")
    text, _ = wait_bot(bot, NEW_FEE)
    publish_to_answer = time.monotonic() - t0
    pub.screenshot(path=str(ARTIFACTS / "05-published.png"), full_page=True)
    print(f"\npublish click → bot answers the new fee: {publish_to_answer:.1f}s")
    assert publish_to_answer < 60, publish_to_answer

    # --- roll back with one action: the old fee again, still without any restart
    pub.goto(admin.url + "/admin/history")
    pub.screenshot(path=str(ARTIFACTS / "06-history.png"), full_page=True)
    pub.click('[data-testid="rollback-1"]')
    assert wait_job(pub) == "done", pub.inner_text("main")
    text, _ = wait_bot(bot, "Miễn", absent=NEW_FEE)
    assert NEW_FEE not in text
    pub.goto(admin.url + "/admin/history")
    assert "đang dùng" in pub.inner_text('[data-testid="version-1"]')
    pub.goto(admin.url + f"/admin/audit?code={CODE}")
    audit = pub.inner_text('[data-testid="audit"]')
    assert "bientap" in audit and "edit" in audit and "channels" in audit and NEW_FEE in audit
    pub.screenshot(path=str(ARTIFACTS / "07-audit.png"), full_page=True)
    # nothing but the admin server itself was contacted (no third-party hosts)
    assert hosts == {admin.url}, hosts
    assert bot.rasa_starts == 1  # the bot was never restarted


def test_forged_csrf_token_is_refused(stack, browser):
    admin, _, _ = stack
    page = new_page(browser)
    login(page, admin, "bientap")
    page.goto(admin.url + f"/admin/procedures/{CODE}/edit")
    page.locator('form.card input[name="csrf"]').evaluate("e => e.value = 'gia-mao'")
    page.fill('input[name="name"]', "Tên bị giả mạo")
    page.click('[data-testid="save"]')
    assert "CSRF" in page.inner_text('[data-testid="error"]')
    page.screenshot(path=str(ARTIFACTS / "08-csrf.png"), full_page=True)
    page.goto(admin.url + f"/admin/procedures/{CODE}")
    assert "Tên bị giả mạo" not in page.inner_text("main")


def test_verify_differences_are_shown(stack, browser):
    admin, _, _ = stack
    shared_path("data/tthc/national_catalogue_sample_2642.jsonl.gz", "TTHC_SAMPLE")
    page = new_page(browser)
    login(page, admin, "chixem")
    page.goto(admin.url + "/admin/verify", timeout=120_000)
    assert page.locator('[data-testid="verify-error"]').count() == 0, page.inner_text("main")
    assert int(page.inner_text('[data-testid="verify-count"]')) > 0
    assert page.locator('[data-testid="verify"] tbody tr').count() > 0
    page.screenshot(path=str(ARTIFACTS / "15-verify.png"), full_page=False)


def test_wrong_password(stack, browser):
    admin, _, _ = stack
    page = new_page(browser)
    login(page, admin, "bientap", "sai-mat-khau-roi")
    assert "không đúng" in page.inner_text('[data-testid="error"]')
    assert page.locator('[data-testid="whoami"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "09-wrong-password.png"), full_page=True)
    page.goto(admin.url + "/admin/draft")
    assert "/admin/login" in page.url


def test_stale_form_is_refused_after_someone_else_publishes(stack, browser):
    admin, _, _ = stack
    ed = new_page(browser)
    login(ed, admin, "bientap")
    ed.goto(admin.url + f"/admin/procedures/{CODE}/edit")  # opened on the live version 1
    pub = new_page(browser)
    login(pub, admin, "xuatban")
    pub.goto(admin.url + "/admin/history")
    pub.click('[data-testid="rollback-2"]')  # someone else changes the live version meanwhile
    assert wait_job(pub) == "done", pub.inner_text("main")
    ed.fill('input[name="name"]', "Đăng ký khai sinh (sửa trên bản cũ)")
    ed.click('[data-testid="save"]')
    errors = ed.inner_text('[data-testid="form-errors"]')
    assert "phiên bản đang dùng đã đổi" in errors, errors
    ed.screenshot(path=str(ARTIFACTS / "11-stale-form.png"), full_page=True)
    ed.goto(admin.url + f"/admin/procedures/{CODE}")
    assert "sửa trên bản cũ" not in ed.inner_text("main")


def test_upload_with_script_is_stored_safely_and_shown_as_text(stack, browser, tmp_path):
    admin, _, _ = stack
    lines = (REPO / "tests" / "fixtures" / "portal_sample.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["ten_thu_tuc"] = '<script>alert("xss")</script><img src=x onerror="alert(2)"> Thủ tục thử'
    lines[0] = json.dumps(record, ensure_ascii=False)
    path = tmp_path / "portal.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = new_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, admin, "bientap")
    page.goto(admin.url + "/admin/upload")
    page.set_input_files('input[name="file"]', str(path))
    page.click('[data-testid="upload"]')
    assert "hợp lệ" in page.inner_text('[data-testid="upload-result"]')
    assert "bản nháp" in page.inner_text('[data-testid="upload-written"]')
    report = page.inner_text('[data-testid="upload-report"]')
    assert "đã ghi vào bản nháp #" in report and "chạy thử" not in report, report  # no "dry run" under "written"
    page.screenshot(path=str(ARTIFACTS / "12-upload-report.png"), full_page=True)
    page.goto(admin.url + f"/admin/procedures/{record['ma_thu_tuc']}")
    assert '<script>alert("xss")</script>' in page.inner_text("h1")  # shown as text
    assert page.locator("main script, main img").count() == 0 and not dialogs
    page.screenshot(path=str(ARTIFACTS / "13-script-as-text.png"), full_page=True)


def test_bad_uploads_get_clear_errors(stack, browser, tmp_path):
    admin, _, _ = stack
    page = new_page(browser)
    login(page, admin, "bientap")
    huge = tmp_path / "huge.jsonl"
    huge.write_bytes(b"{}\n" * (5 * 1024 * 1024 // 3))  # over the server's 4 MB limit
    page.goto(admin.url + "/admin/upload")
    page.set_input_files('input[name="file"]', str(huge))
    page.click('[data-testid="upload"]')
    assert "quá 4 MB" in page.inner_text("main"), page.inner_text("main")
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b" " * (100 * 1024 * 1024), compresslevel=9))  # 100 MB of spaces in ~100 KB
    page.goto(admin.url + "/admin/upload")
    page.set_input_files('input[name="file"]', str(bomb))
    page.click('[data-testid="upload"]')
    assert "bom nén" in page.inner_text('[data-testid="upload-error"]')
    page.screenshot(path=str(ARTIFACTS / "14-gzip-bomb.png"), full_page=True)
    cp = tmp_path / "cp1258.jsonl"
    cp.write_bytes(to_cp1258('{"ma_thu_tuc": "1.000001", "ten_thu_tuc": "Đăng ký kết hôn"}\n'))
    page.goto(admin.url + "/admin/upload")
    page.set_input_files('input[name="file"]', str(cp))
    page.click('[data-testid="upload"]')
    assert "Windows-1258" in page.inner_text('[data-testid="upload-error"]')


def test_login_rate_limit(stack, browser):
    admin, _, _ = stack
    page = new_page(browser)
    for _ in range(5):
        login(page, admin, "nannhan", "khong-phai-mat-khau")
        assert "không đúng" in page.inner_text('[data-testid="error"]')
    login(page, admin, "nannhan", PASSWORD)  # even the right password is refused now
    assert "quá nhiều lần" in page.inner_text('[data-testid="error"]')
    assert page.locator('[data-testid="whoami"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "10-rate-limit.png"), full_page=True)
