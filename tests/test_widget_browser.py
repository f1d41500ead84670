"""The web widget in a real browser (Debian's chromium driven by Playwright) against the real
Rasa and action servers: the page a citizen sees, from first question to server restart.

Screenshots land in ``test-artifacts/widget/`` (git-ignored; override with ARTIFACTS_DIR).
The tests in this module run in order and share one browser page, like one citizen's visit.
"""

from __future__ import annotations

import http.server
import re
import threading

import pytest

from tests.conftest import CROSS_ORIGIN, artifacts_dir

ARTIFACTS = artifacts_dir("widget")
ANSWER_TIMEOUT = 30_000
BOT = '[data-testid="tthc-bot-msg"]'


@pytest.fixture(scope="module")
def visit(browser, widget_servers):
    """One citizen's browser tab on the demo page, recording every host it contacts."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(re.sub(r"^(\w+://[^/]+).*$", r"\1", r.url)))
    page.goto(widget_servers.url + "/widget/")
    page.wait_for_selector('[data-testid="tthc-status"][data-state="connected"]', timeout=20_000)
    yield page, hosts
    context.close()


def bot_count(page) -> int:
    return page.locator(BOT).count()


def ask(page, text: str) -> str:
    """Type a question as a citizen would and return the text of the newest bot message."""
    before = bot_count(page)
    page.fill('[data-testid="tthc-input"]', text)
    page.press('[data-testid="tthc-input"]', "Enter")
    page.wait_for_function(
        f"document.querySelectorAll('{BOT}').length > {before}", timeout=ANSWER_TIMEOUT,
    )
    page.wait_for_timeout(800)  # the rest of a multi-part answer
    return page.locator(BOT).last.inner_text()


def last_source(page) -> tuple[str, str]:
    link = page.locator(BOT).last.locator('[data-testid="tthc-source"]')
    assert link.count() == 1, "the answer shows no source link"
    return link.inner_text(), link.get_attribute("href") or ""


def code_in(href: str) -> str:
    m = re.search(r"\d+\.\d{6}", href)
    assert m, href
    return m.group(0)


def test_question_with_diacritics_shows_answer_and_source(visit):
    page, _ = visit
    text = ask(page, "làm căn cước cần giấy tờ gì?")
    assert "Hồ sơ" in text
    label, href = last_source(page)
    code = code_in(href)
    assert href.startswith("https://dichvucong.gov.vn") and code in label
    assert page.locator(BOT).last.locator("ol li, ul li").count() >= 2, "documents are not rendered as a list"
    assert "Nguồn: thủ tục" not in text.split("\n")[-1] or code in label


def test_question_without_diacritics(visit):
    page, _ = visit
    text = ask(page, "dang ky ket hon can giay to gi")
    assert "kết hôn" in text.lower()
    _, href = last_source(page)
    assert code_in(href)


def test_disambiguation_button_gives_the_chosen_procedure(visit):
    page, _ = visit
    ask(page, "cấp lại hay cấp đổi thẻ căn cước")
    options = page.locator(BOT).last.locator('[data-testid="tthc-option"]')
    assert options.count() >= 2
    title = options.nth(1).inner_text()
    before = bot_count(page)
    options.nth(1).click()
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length > {before}", timeout=ANSWER_TIMEOUT)
    page.wait_for_timeout(800)
    name = re.sub(r"^\d+\.\s*", "", title).strip()
    assert name.lower()[:20] in page.locator(BOT).last.inner_text().lower()
    label, href = last_source(page)
    assert code_in(href)
    page.screenshot(path=str(ARTIFACTS / "desktop-1280.png"), full_page=False)


def test_reload_keeps_the_conversation_and_follow_up_stays_on_the_procedure(visit):
    page, _ = visit
    ask(page, "đăng ký kết hôn cần giấy tờ gì")
    _, href = last_source(page)
    code = code_in(href)
    history = bot_count(page)
    session = page.evaluate("() => Object.entries(localStorage).find(([k]) => k.includes('session'))")
    page.reload()
    page.wait_for_selector('[data-testid="tthc-status"][data-state="connected"]', timeout=20_000)
    assert bot_count(page) == history, "the history is not shown after a reload"
    assert page.evaluate("() => Object.entries(localStorage).find(([k]) => k.includes('session'))") == session
    text = ask(page, "còn lệ phí thì sao?")
    assert "Lệ phí" in text
    _, href2 = last_source(page)
    assert code_in(href2) == code


def test_hand_off_shows_the_hotline(visit):
    page, _ = visit
    ask(page, "cho tôi gặp tổng đài viên")
    notice = page.locator(BOT).last.locator('[data-testid="tthc-hotline"]')
    assert notice.count() == 1 and "1022" in notice.inner_text()
    assert page.locator(BOT).last.locator('a[href^="tel:"]').count() >= 1


def test_a_detail_question_and_the_hotline_question_as_the_citizen_sees_them(visit):
    page, _ = visit
    ask(page, "làm căn cước cho con 8 tuổi")
    text = ask(page, "bé có phải đi cùng để chụp ảnh lấy vân tay k")
    assert "chưa có thông tin riêng" in text and "vân tay" in text, text
    _, href = last_source(page)
    assert code_in(href) == "1.014062"  # the nearest facts still cite their procedure
    text = ask(page, "số tổng đài là bao nhiêu")
    notice = page.locator(BOT).last.locator('[data-testid="tthc-hotline"]')
    assert "1022" in text and notice.count() == 1, text
    page.screenshot(path=str(ARTIFACTS / "detail-and-hotline-1280.png"), full_page=False)
    _, href = (ask(page, "còn lệ phí thì sao"), last_source(page)[1])
    assert code_in(href) == "1.014062"  # the hotline question left the conversation where it was


def test_typing_indicator_shows_while_waiting(visit):
    page, _ = visit
    page.fill('[data-testid="tthc-input"]', "làm hộ chiếu mất bao lâu")
    page.press('[data-testid="tthc-input"]', "Enter")
    page.wait_for_selector('[data-testid="tthc-typing"]:visible', timeout=5_000)
    page.wait_for_selector('[data-testid="tthc-typing"]', state="hidden", timeout=ANSWER_TIMEOUT)


def test_keyboard_only(browser, widget_servers):
    """Tab to the launcher, open, type, send, pick an option with the keyboard, Escape closes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(widget_servers.url + "/widget/?open=0")
    page.wait_for_selector('[data-testid="tthc-launcher"]')
    if page.locator('[data-testid="tthc-panel"]').is_visible():
        page.keyboard.press("Escape")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.dataset?.testid") == "tthc-launcher" or page.evaluate(
            "() => document.activeElement?.closest?.('[data-testid=tthc-launcher]') !== null"
        ):
            break
    else:
        pytest.fail("the launcher cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector('[data-testid="tthc-panel"]:visible')
    page.wait_for_selector('[data-testid="tthc-status"][data-state="connected"]', timeout=20_000)
    page.wait_for_function("() => document.activeElement?.dataset?.testid === 'tthc-input'", timeout=5_000)
    before = bot_count(page)
    page.keyboard.type("cấp lại hay cấp đổi thẻ căn cước")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length > {before}", timeout=ANSWER_TIMEOUT)
    page.wait_for_timeout(800)
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.dataset?.testid") == "tthc-option":
            break
    else:
        pytest.fail("no option button can be reached with Tab")
    before = bot_count(page)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length > {before}", timeout=ANSWER_TIMEOUT)
    page.keyboard.press("Escape")
    page.wait_for_selector('[data-testid="tthc-panel"]', state="hidden")
    assert page.evaluate("() => document.activeElement?.closest?.('[data-testid=tthc-launcher]') !== null")
    context.close()


def test_labels_contrast_and_narrow_screen(browser, widget_servers):
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2)
    page = context.new_page()
    page.goto(widget_servers.url + "/widget/")
    page.wait_for_selector('[data-testid="tthc-status"][data-state="connected"]', timeout=20_000)
    ask(page, "lệ phí đăng ký kết hôn")
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('#tthc-widget button, #tthc-widget input, #tthc-widget textarea')]
              .filter(e => !(e.getAttribute('aria-label') || e.textContent.trim() || e.labels?.length))
              .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert unlabeled == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    box = page.locator('[data-testid="tthc-panel"]').bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360.5
    ratios = page.evaluate(CONTRAST_JS)
    low = {k: v for k, v in ratios.items() if v < 4.5}
    assert ratios and not low, ratios
    page.screenshot(path=str(ARTIFACTS / "narrow-360.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "mobile-390.png"))
    context.close()


# WCAG 2 contrast of each text-bearing widget element against its first opaque background.
CONTRAST_JS = """() => {
  const lum = c => { const m = c.match(/[\\d.]+/g).map(Number); const [r,g,b] = m.slice(0,3).map(v => {
      v /= 255; return v <= 0.03928 ? v/12.92 : Math.pow((v+0.055)/1.055, 2.4); });
      return 0.2126*r + 0.7152*g + 0.0722*b; };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
      const a = c.match(/[\\d.]+/g); if (a && (a.length < 4 || Number(a[3]) > 0.9)) return c; }
      return 'rgb(255,255,255)'; };
  const out = {};
  for (const id of ['tthc-bot-msg','tthc-user-msg','tthc-input','tthc-send','tthc-option','tthc-source','tthc-status']) {
    const el = document.querySelector(`[data-testid="${id}"]`);
    if (!el || !el.offsetParent) continue;
    const a = lum(getComputedStyle(el).color), b = lum(bg(el));
    out[id] = Math.round(((Math.max(a,b)+0.05)/(Math.min(a,b)+0.05))*100)/100;
  }
  return out; }"""


def test_nothing_loaded_from_third_party_hosts(visit, widget_servers):
    _, hosts = visit
    assert hosts and hosts <= {widget_servers.url, widget_servers.url.replace("http", "ws")}, hosts


def test_widget_on_another_origin(browser, widget_servers, tmp_path):
    """A portal page on another host embeds the widget with one script tag: allowed when its
    origin is in WIDGET_ALLOWED_ORIGINS, refused otherwise."""
    page_html = (
        "<!doctype html><html lang=vi><meta charset=utf-8><title>Cổng tỉnh</title><h1>Cổng dịch vụ công tỉnh</h1>"
        f'<script src="{widget_servers.url}/widget/widget.js" data-server-url="{widget_servers.url}" '
        'data-title="Hỏi đáp thủ tục" data-open="true" data-hotline="1022"></script>'
    )
    (tmp_path / "index.html").write_text(page_html, encoding="utf-8")
    allowed_port = int(CROSS_ORIGIN.rsplit(":", 1)[1])
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    results = {}
    for name, port in (("allowed", allowed_port), ("refused", 0)):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        try:
            page.wait_for_selector('[data-testid="tthc-status"][data-state="connected"]', timeout=8_000)
            results[name] = "connected"
        except Exception:
            results[name] = page.get_attribute('[data-testid="tthc-status"]', "data-state")
        if name == "allowed" and results[name] == "connected":
            assert "Hồ sơ" in ask(page, "đăng ký kết hôn cần giấy tờ gì")
        context.close()
        server.shutdown()
    assert results["allowed"] == "connected"
    assert results["refused"] != "connected"


def test_widget_reconnects_after_the_server_restarts(visit, widget_servers):
    page, _ = visit
    widget_servers.stop_rasa()
    page.wait_for_selector('[data-testid="tthc-status"]:not([data-state="connected"])', timeout=30_000)
    widget_servers.start_rasa()
    page.wait_for_selector('[data-testid="tthc-status"][data-state="connected"]', timeout=60_000)
    text = ask(page, "làm giấy khai sinh mất bao lâu")
    assert "khai sinh" in text.lower()
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.locator(BOT).last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "after-restart-390.png"))
