// Unit tests for the widget's pure helpers: `node --test widget/test/` (or `npm test` in widget/).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  accentColors, contrast, normalizeBotPayload, parseColor, parseText, readableTextColor, safeHttpUrl,
  sourceLinkLabel, splitLabel, splitLinks, telHref,
} from "../src/format.js";

const SRC = "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001234";

test("documents answer: numbered lines become an ordered list and the source line is taken out", () => {
  const { blocks, source } = parseText(
    "Hồ sơ «Cấp thẻ căn cước» gồm:\n1. Tờ khai căn cước (1 bản chính, mẫu CC01)\n2. Giấy tờ cư trú\n" +
    "Nguồn: thủ tục 1.001234 — " + SRC);
  assert.deepEqual(blocks, [
    { type: "p", text: "Hồ sơ «Cấp thẻ căn cước» gồm:" },
    { type: "ol", start: 1, items: ["Tờ khai căn cước (1 bản chính, mẫu CC01)", "Giấy tờ cư trú"] },
  ]);
  assert.equal(source.code, "1.001234");
  assert.equal(source.url, SRC);
});

test("fee answer: dash lines become an unordered list with channel labels", () => {
  const { blocks, source } = parseText("Lệ phí «Đăng ký kết hôn»:\n- Nộp trực tiếp: Miễn phí\n- Nộp trực tuyến: Miễn phí\nNguồn: thủ tục 1.000894");
  assert.equal(blocks[1].type, "ul");
  assert.deepEqual(blocks[1].items.map(splitLabel), [
    { label: "Nộp trực tiếp", value: "Miễn phí" }, { label: "Nộp trực tuyến", value: "Miễn phí" },
  ]);
  assert.deepEqual([source.code, source.url], ["1.000894", null]);
});

test("a procedure code at the start of a line is not a list number", () => {
  const { blocks } = parseText("1.001234 là mã thủ tục");
  assert.deepEqual(blocks, [{ type: "p", text: "1.001234 là mã thủ tục" }]);
});

test("choice question keeps its numbering start", () => {
  const { blocks } = parseText("Chọn:\n3. C\n4. D");
  assert.equal(blocks[1].start, 3);
});

test("only http(s) URLs are links", () => {
  assert.equal(safeHttpUrl("javascript:alert(1)"), null);
  assert.equal(safeHttpUrl("data:text/html,x"), null);
  assert.equal(safeHttpUrl(" https://a.gov.vn/x "), "https://a.gov.vn/x");
  assert.deepEqual(splitLinks("xem https://a.gov.vn/x. tiếp"), [
    { text: "xem " }, { text: "https://a.gov.vn/x", url: "https://a.gov.vn/x" }, { text: ". tiếp" },
  ]);
  assert.equal(parseText("Nguồn: javascript:alert(1) thủ tục 9.999999").source.url, null);
});

test("bot payloads: quick_replies, buttons, custom only, bare custom, junk", () => {
  const a = normalizeBotPayload({ text: "Chọn", quick_replies: [{ content_type: "text", title: "1. A", payload: "số 1" }] });
  assert.deepEqual(a.options, [{ title: "1. A", payload: "số 1" }]);
  const b = normalizeBotPayload({ text: "Chọn", buttons: [{ title: "B", payload: "/b" }] });
  assert.deepEqual(b.options, [{ title: "B", payload: "/b" }]);
  const c = normalizeBotPayload({ custom: { procedure_code: "1.0", source_url: "javascript:x", handoff: true, hotline: 1022 } });
  assert.deepEqual(c, { text: "", options: [], custom: { procedure_code: "1.0", handoff: true, hotline: "1022" } });
  const d = normalizeBotPayload({ procedure_code: "1.1", source_url: SRC });
  assert.equal(d.custom.source_url, SRC);
  assert.equal(normalizeBotPayload({}), null);
  assert.equal(normalizeBotPayload(null), null);
  assert.equal(normalizeBotPayload("xin chào").text, "xin chào");
});

test("hotline tel: links", () => {
  assert.equal(telHref("1022"), "tel:1022");
  assert.equal(telHref("+84 24 1234 5678"), "tel:+842412345678");
  assert.equal(telHref("không có"), null);
});

test("source link label names the code and the portal", () => {
  assert.equal(sourceLinkLabel("1.001234", SRC), "Xem thủ tục 1.001234 trên Cổng Dịch vụ công quốc gia");
  assert.equal(sourceLinkLabel(null, "https://dvc.tinh.gov.vn/x"), "Xem nguồn thủ tục (dvc.tinh.gov.vn)");
});

test("colours: readable text on any primary colour, AA contrast for links", () => {
  for (const hex of ["#b71c1c", "#ffeb3b", "#0d47a1", "#00bcd4", "#777777", "#fff", "#000"]) {
    const bg = parseColor(hex);
    const fg = parseColor(readableTextColor(bg));
    assert.ok(contrast(bg, fg) >= 4.5, hex);
    const { accent, tint } = accentColors(bg);
    for (const back of [[255, 255, 255], [247, 247, 248], tint]) assert.ok(contrast(accent, back) >= 4.5, hex);
    assert.ok(contrast(accent, parseColor(readableTextColor(accent))) >= 4.5, hex);
  }
  assert.equal(parseColor("red;}body{display:none"), null);
  assert.equal(parseColor("url(x)"), null);
});
