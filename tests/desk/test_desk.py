"""The live-agent desk end to end: a real browser, the real admin app, Rasa and action servers, the Zalo fake.

In order, like one operator's shift:

1. the refusals: the hand-off hook without the desk secret, the desk pages without log-in or
   without the role;
2. the web widget: a citizen asks for a person, the operator (logged in, on duty) sees the
   conversation in the queue (masked), takes it, replies; the reply appears in the citizen's
   widget; while it is paused the bot stays silent and the citizen's messages reach the
   operator; the operator closes it; the bot answers a procedure question again;
3. the same through Zalo's OA API (the fake server);
4. REST: the operator's reply comes back with the citizen's next request;
5. nobody takes it within DESK_WAIT_S: the hotline, and the bot resumes;
6. nobody on duty: the hotline at once, no promise, no pause.

Screenshots land in ``test-artifacts/desk/``.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.admin.support import PASSWORD
from tests.conftest import artifacts_dir
from tests.desk.support import OPERATOR, ZALO_APP_ID, ZALO_OA_SECRET, DeskStack, http

ARTIFACTS = artifacts_dir("desk")
ANSWER_MS = 30_000
BOT = '[data-testid="tthc-bot-msg"]'
WAIT_S = 15
PHONE = "0912 345 678"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = DeskStack(tmp_path_factory.mktemp("desk"), wait_s=WAIT_S).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def operator(browser, stack):
    """The operator's browser tab: logged in, on the desk page, on duty."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="vi-VN")
    page = context.new_page()
    page.goto(stack.admin.url + "/admin/login")
    page.fill('input[name="username"]', OPERATOR)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.click('[data-testid="nav-desk"]')
    page.click('[data-testid="duty-on"]')
    page.wait_for_selector('[data-testid="duty-state"][data-on="1"]')
    assert page.inner_text('[data-testid="agents-on-duty"]') == "1"
    yield page
    context.close()


def status_of(stack: DeskStack) -> dict:
    status, _, body = http("GET", f"{stack.admin.url}/admin/desk/api/status",
                           headers={"Authorization": f"Bearer {stack.secret}"})
    assert status == 200, body
    return json.loads(body)


def open_desk(page, base: str) -> None:  # noqa: ANN001
    """Go to the queue page; the page's own script may be reloading it at that moment (the queue
    changed), which aborts a navigation: then try again."""
    for attempt in range(3):
        try:
            page.goto(base + "/admin/desk")
            return
        except PlaywrightError:
            if attempt == 2:
                raise
            page.wait_for_timeout(500)


def take_from_queue(page, channel: str) -> int:  # noqa: ANN001
    """Wait until a hand-off on ``channel`` appears in the queue (the page reloads itself), take it."""
    open_desk(page, page.url.split("/admin/")[0])
    ticket = page.locator(f'[data-testid="ticket"][data-channel="{channel}"]').first
    ticket.wait_for(timeout=ANSWER_MS)
    ticket_id = int(ticket.get_attribute("data-ticket"))
    page.click(f'[data-testid="take-{ticket_id}"]')
    page.wait_for_selector('[data-testid="conv-status"][data-status="taken"]')
    return ticket_id


def operator_reply(page, text: str) -> None:  # noqa: ANN001
    page.fill('[data-testid="reply-text"]', text)
    page.press('[data-testid="reply-text"]', "Enter")
    page.wait_for_function("t => [...document.querySelectorAll('[data-testid=line-operator]')]"
                           ".some(li => li.textContent.includes(t))", arg=text, timeout=ANSWER_MS)


# --------------------------------------------------------------------------- refusals


def test_hook_refuses_calls_without_the_secret(stack):
    url = f"{stack.admin.url}/admin/desk/api"
    body = json.dumps({"sender_id": "x", "channel": "rest"}).encode()
    ctype = {"Content-Type": "application/json"}
    assert http("POST", f"{url}/handoff", body, ctype)[0] == 401
    assert http("POST", f"{url}/handoff", body, {**ctype, "Authorization": "Bearer wrong"})[0] == 401
    assert http("GET", f"{url}/status")[0] == 401
    assert http("GET", f"{url}/status", headers={"Authorization": "Bearer " + stack.secret[:-1]})[0] == 401
    status, _, raw = http("POST", f"{url}/handoff", b"[1]", {**ctype, "Authorization": f"Bearer {stack.secret}"})
    assert status == 400, raw
    assert status_of(stack) == {"agents_on_duty": 0, "wait_s": WAIT_S}


def test_desk_pages_need_log_in_and_the_role(stack, browser):
    base = f"{stack.admin.url}/admin/desk"
    status, headers, _ = http("GET", base)
    assert status == 302 and "/admin/login" in headers.get("Location", "")
    for path in ("/queue.json", "/c/1/messages.json"):
        assert http("GET", base + path)[0] == 401
    for path in ("/duty", "/c/1/take", "/c/1/reply", "/c/1/close"):
        status, headers, _ = http("POST", base + path, b"on=1", {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302 and "/admin/login" in headers.get("Location", ""), path
    context = browser.new_context()
    page = context.new_page()
    page.goto(stack.admin.url + "/admin/login")
    page.fill('input[name="username"]', "bientap")  # an editor: no desk
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    assert page.locator('[data-testid="nav-desk"]').count() == 0
    assert page.goto(base).status == 403
    assert page.goto(base + "/queue.json").status == 403
    context.close()


# --------------------------------------------------------------------------- the web widget


def test_widget_citizen_reaches_an_operator_and_the_bot_resumes(browser, stack, operator):
    assert status_of(stack)["agents_on_duty"] == 1
    ctx = browser.new_context(viewport={"width": 1000, "height": 900}, locale="vi-VN")
    citizen = ctx.new_page()
    citizen.goto(stack.bot.url + "/widget/")
    citizen.wait_for_selector('[data-testid="tthc-status"][data-state="connected"]', timeout=20_000)

    def ask(text: str) -> str:
        before = citizen.locator(BOT).count()
        citizen.fill('[data-testid="tthc-input"]', text)
        citizen.press('[data-testid="tthc-input"]', "Enter")
        citizen.wait_for_function(f"document.querySelectorAll('{BOT}').length > {before}", timeout=ANSWER_MS)
        citizen.wait_for_timeout(500)
        return citizen.locator(BOT).last.inner_text()

    def wait_bot_text(fragment: str) -> None:
        citizen.wait_for_function(
            f"t => [...document.querySelectorAll('{BOT}')].some(m => m.textContent.includes(t))",
            arg=fragment, timeout=ANSWER_MS)

    ask(f"làm căn cước cần giấy tờ gì? số của tôi là {PHONE}")
    reply = ask("cho tôi gặp tổng đài viên")
    assert "đang chuyển" in reply, reply
    session = citizen.evaluate("() => Object.entries(localStorage).find(([k]) => k.includes('session'))")[1]
    session = json.loads(session) if session.startswith('"') else session
    assert stack.tracker(session)["paused"] is True

    ticket_id = take_from_queue_with_check(operator, stack)
    wait_bot_text("Tổng đài viên đã nhận")

    # while the operator holds it, the bot is silent and the citizen's messages reach the desk
    bots = citizen.locator(BOT).count()
    citizen.fill('[data-testid="tthc-input"]', "Tôi muốn hỏi về giấy xác nhận cư trú")
    citizen.press('[data-testid="tthc-input"]', "Enter")
    operator.wait_for_function("() => [...document.querySelectorAll('[data-testid=line-citizen]')]"
                               ".some(li => li.textContent.includes('xác nhận cư trú'))", timeout=ANSWER_MS)
    citizen.wait_for_timeout(1500)
    assert citizen.locator(BOT).count() == bots, "the bot answered while the operator held the conversation"

    answer = "Anh/Chị mang theo thẻ căn cước đến công an xã nơi cư trú để xin giấy xác nhận nhé."
    operator_reply(operator, answer)
    wait_bot_text(answer)
    operator.screenshot(path=str(ARTIFACTS / "operator-conversation.png"), full_page=True)
    citizen.screenshot(path=str(ARTIFACTS / "citizen-widget-operator-reply.png"))

    operator.click('[data-testid="close"]')
    operator.wait_for_selector(f'[data-testid="recent-status-{ticket_id}"]')
    assert operator.inner_text(f'[data-testid="recent-status-{ticket_id}"]') == "Đã kết thúc"
    wait_bot_text("đã kết thúc cuộc trò chuyện")
    assert stack.tracker(session)["paused"] is False
    text = ask("đăng ký kết hôn cần giấy tờ gì")
    assert "kết hôn" in text.lower() and "Hồ sơ" in text, text
    citizen.screenshot(path=str(ARTIFACTS / "citizen-widget-bot-resumed.png"))
    ctx.close()


def take_from_queue_with_check(page, stack: DeskStack) -> int:  # noqa: ANN001
    """Take the widget hand-off after checking what the queue shows: channel, waiting time, masked transcript."""
    open_desk(page, stack.admin.url)
    ticket = page.locator('[data-testid="ticket"][data-channel="socketio"]').first
    ticket.wait_for(timeout=ANSWER_MS)
    assert "Web (widget)" in ticket.locator('[data-testid="ticket-channel"]').inner_text()
    assert int(ticket.locator('[data-testid="ticket-waited"]').inner_text()) >= 0
    transcript = ticket.locator('[data-testid="ticket-transcript"]').inner_text()
    assert "cho tôi gặp tổng đài viên" in transcript and "căn cước" in transcript, transcript
    assert PHONE not in transcript and PHONE.replace(" ", "") not in transcript and "********78" in transcript
    page.screenshot(path=str(ARTIFACTS / "operator-queue.png"), full_page=True)
    ticket_id = int(ticket.get_attribute("data-ticket"))
    page.click(f'[data-testid="take-{ticket_id}"]')
    page.wait_for_selector('[data-testid="conv-status"][data-status="taken"]')
    return ticket_id


# --------------------------------------------------------------------------- Zalo


def zalo_send(stack: DeskStack, uid: str, text: str) -> None:
    from channels.zalo_core import expected_signature

    ts = str(int(time.time() * 1000))
    body = {"app_id": ZALO_APP_ID, "user_id_by_app": "9" + uid, "event_name": "user_send_text", "timestamp": ts,
            "sender": {"id": uid}, "recipient": {"id": "3662729599332560487"},
            "message": {"msg_id": os.urandom(10).hex(), "text": text}}
    raw = json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(f"{stack.bot.url}/webhooks/zalo/webhook", data=raw, headers={
        "Content-Type": "application/json", "X-ZEvent-Signature": expected_signature(ZALO_APP_ID, raw, ts, ZALO_OA_SECRET)})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def zalo_wait(stack: DeskStack, uid: str, fragment: str, timeout: float = 30) -> str:
    assert stack.fake.wait_for(lambda: any(fragment in m.text for m in stack.fake.for_recipient(uid)), timeout), \
        f"{fragment!r} never reached Zalo user {uid}: {[m.text for m in stack.fake.for_recipient(uid)]}"
    return next(m.text for m in stack.fake.for_recipient(uid) if fragment in m.text)


def test_zalo_citizen_reaches_an_operator_and_the_bot_resumes(stack, operator):
    uid = "7001"
    zalo_send(stack, uid, "cho tôi nói chuyện với người thật")
    zalo_wait(stack, uid, "đang chuyển")
    ticket_id = take_from_queue(operator, "zalo")
    zalo_wait(stack, uid, "Tổng đài viên đã nhận")
    n = len(stack.fake.for_recipient(uid))
    zalo_send(stack, uid, "Tôi cần hỏi hồ sơ nhà đất của gia đình")
    operator.wait_for_function("() => [...document.querySelectorAll('[data-testid=line-citizen]')]"
                               ".some(li => li.textContent.includes('nhà đất'))", timeout=ANSWER_MS)
    time.sleep(1.5)
    assert len(stack.fake.for_recipient(uid)) == n, "the bot answered while the operator held the conversation"
    operator_reply(operator, "Anh/Chị liên hệ Văn phòng đăng ký đất đai của huyện nhé.")
    zalo_wait(stack, uid, "Văn phòng đăng ký đất đai")
    operator.click('[data-testid="close"]')
    operator.wait_for_selector(f'[data-testid="recent-status-{ticket_id}"]')
    zalo_wait(stack, uid, "đã kết thúc cuộc trò chuyện")
    zalo_send(stack, uid, "làm hộ chiếu mất bao lâu")
    zalo_wait(stack, uid, "hộ chiếu")
    assert stack.tracker(f"zalo:{uid}")["paused"] is False


# --------------------------------------------------------------------------- REST


def test_rest_operator_reply_comes_with_the_next_request(stack, operator):
    sender = f"desk-rest-{time.monotonic_ns()}"
    assert "đang chuyển" in " ".join(m.get("text", "") for m in stack.bot.say(sender, "cho tôi gặp cán bộ"))
    take_from_queue(operator, "rest")
    operator_reply(operator, "Chào Anh/Chị, tôi là tổng đài viên.")
    status, messages = stack.bot.post({"sender": sender, "message": ""})
    texts = [m.get("text", "") for m in messages]
    assert status == 200 and any("Tổng đài viên đã nhận" in t for t in texts), texts
    assert any("tôi là tổng đài viên" in t for t in texts), texts
    operator.click('[data-testid="close"]')
    operator.wait_for_selector('[data-testid="queue-empty"]')
    messages = stack.bot.say(sender, "làm căn cước cần giấy tờ gì?")
    texts = " ".join(m.get("text", "") for m in messages)
    assert "đã kết thúc cuộc trò chuyện" in texts and "Hồ sơ" in texts, texts


# --------------------------------------------------------------------------- nobody takes it / nobody on duty


def test_nobody_takes_it_in_time_gives_the_hotline_and_the_bot_resumes(stack, operator):
    open_desk(operator, stack.admin.url)  # on duty, but this operator does not take it
    sender = f"desk-timeout-{time.monotonic_ns()}"
    assert "đang chuyển" in " ".join(m.get("text", "") for m in stack.bot.say(sender, "cho tôi gặp tổng đài viên"))
    assert stack.tracker(sender)["paused"] is True
    t0 = time.monotonic()
    texts: list[str] = []
    while time.monotonic() - t0 < WAIT_S + 15 and not texts:
        time.sleep(1)
        texts = [m.get("text", "") for m in stack.bot.post({"sender": sender, "message": ""})[1]
                 if "chưa có tổng đài viên nào nhận" in m.get("text", "")]
    waited = time.monotonic() - t0
    assert texts, "the citizen was never told that nobody took the conversation"
    assert "1022" in texts[0] and re.search(r"\d+h\d*", texts[0]), texts[0]
    assert waited >= WAIT_S - 3, waited
    assert stack.tracker(sender)["paused"] is False
    text = " ".join(m.get("text", "") for m in stack.bot.say(sender, "làm hộ chiếu mất bao lâu"))
    assert "hộ chiếu" in text.lower(), text
    open_desk(operator, stack.admin.url)
    operator.screenshot(path=str(ARTIFACTS / "operator-recent.png"), full_page=True)
    assert "Hết thời gian chờ" in operator.inner_text('[data-testid="recent"]')


def test_nobody_on_duty_gives_the_hotline_without_a_promise(stack, operator):
    open_desk(operator, stack.admin.url)
    operator.click('[data-testid="duty-off"]')
    operator.wait_for_selector('[data-testid="duty-state"][data-on="0"]')
    assert status_of(stack)["agents_on_duty"] == 0
    sender = f"desk-nobody-{time.monotonic_ns()}"
    messages = stack.bot.say(sender, "cho tôi gặp tổng đài viên")
    text = " ".join(m.get("text", "") for m in messages)
    assert "đang chuyển" not in text and "chưa có tổng đài viên" in text and "1022" in text, text
    assert messages[-1]["custom"]["handoff"] is False
    assert stack.tracker(sender)["paused"] is False
    text = " ".join(m.get("text", "") for m in stack.bot.say(sender, "lệ phí đăng ký khai sinh"))
    assert "khai sinh" in text.lower(), text
