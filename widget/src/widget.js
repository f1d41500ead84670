// Trợ lý thủ tục hành chính — embeddable web chat widget.
//
// One script tag adds it to a page:
//   <script src="https://bot.tinh.gov.vn/widget/widget.js" data-title="…" data-primary-color="#b71c1c"
//           data-hotline="1022" async></script>
// or set window.TTHCWidget = {serverUrl, title, primaryColor, hotline, …} before the tag.
// It talks to the Rasa socket.io channel (session_request / session_confirm / user_uttered /
// bot_uttered), keeps the conversation in localStorage, and loads nothing from other hosts.
import { io } from "socket.io-client";
import {
  ASPECT_LABELS, FACT_ASPECTS, accentColors, contrast, normalizeBotPayload, parseColor, parseText,
  readableTextColor, safeHttpUrl, sourceLinkLabel, splitLabel, splitLinks, telHref, toHex,
} from "./format.js";
import { icon } from "./icons.js";
import { CSS } from "./styles.js";

const VERSION = "1.0.0";
const MAX_LEN = 1000;
const MAX_HISTORY = 100;
const REPLY_TIMEOUT_MS = 30000;
const TYPING_GRACE_MS = 400;
const CONFIRM_FALLBACK_MS = 5000;
const KEY_SESSION = "tthc_widget_session";
const KEY_OPEN = "tthc_widget_open";
const KEY_HISTORY = "tthc_widget_history:";

const DEFAULT_SUGGESTIONS = [
  "Làm thẻ căn cước cần giấy tờ gì?",
  "Đăng ký khai sinh mất bao lâu?",
  "Lệ phí đăng ký kết hôn là bao nhiêu?",
];

const T = {
  launcherOpen: "Mở trợ lý thủ tục hành chính",
  launcherClose: "Đóng trợ lý thủ tục hành chính",
  newMessages: " (có tin nhắn mới)",
  close: "Đóng cửa sổ trò chuyện",
  newConversation: "Cuộc trò chuyện mới",
  log: "Nội dung trò chuyện",
  input: "Nhập câu hỏi về thủ tục hành chính",
  placeholder: "Nhập câu hỏi của anh/chị…",
  send: "Gửi câu hỏi",
  panelHint: "Nhấn Enter để gửi, Shift + Enter để xuống dòng, Esc để đóng cửa sổ.",
  connected: "Đang trực tuyến",
  connecting: "Đang kết nối…",
  disconnected: "Mất kết nối, đang kết nối lại…",
  typing: "Trợ lý đang trả lời…",
  timeout: "Trợ lý chưa trả lời, anh/chị vui lòng thử lại.",
  empty: "Anh/Chị vui lòng nhập câu hỏi trước khi gửi.",
  tooLong: "Tin nhắn dài quá " + MAX_LEN + " ký tự nên chỉ " + MAX_LEN + " ký tự đầu được gửi.",
  pending: "Đang chờ kết nối để gửi…",
  you: "Bạn: ",
  bot: "Trợ lý: ",
  options: "Các lựa chọn",
  choose: "Chọn: ",
  suggestions: "Câu hỏi gợi ý",
  source: "Nguồn: ",
  newTab: " (mở trong thẻ mới)",
  sourceProcedure: "Nguồn: thủ tục ",
  handoff: "Gặp cán bộ hỗ trợ: gọi tổng đài ",
  hotlineHelp: "Cần hỗ trợ thêm: gọi tổng đài ",
  call: "Gọi tổng đài ",
  footer: "Nguồn: Cổng Dịch vụ công quốc gia · Tổng đài ",
  error: "Xin lỗi, hệ thống đang gặp sự cố",
  errorTail: ". Anh/Chị vui lòng thử lại sau ít phút.",
  greeting: "Xin chào! Tôi là trợ lý ảo hướng dẫn thủ tục hành chính. Anh/Chị có thể hỏi về hồ sơ cần chuẩn bị, lệ phí, thời hạn giải quyết, nơi nộp hoặc cách nộp trực tuyến của một thủ tục.",
  counterOver: " — phần vượt quá sẽ bị cắt",
};

// ---- configuration ----------------------------------------------------------------------

const SCRIPT = findScript();

function findScript() {
  const cs = document.currentScript;
  if (cs && cs.src) return cs;
  const list = document.querySelectorAll("script[src]");
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i].hasAttribute("data-server-url") || /\/widget(\.min)?\.js([?#]|$)/.test(list[i].src)) return list[i];
  }
  return null;
}

function parseBool(v, fallback) {
  if (v === undefined || v === null) return fallback;
  if (typeof v === "boolean") return v;
  const s = String(v).trim().toLowerCase();
  if (s === "" || s === "true" || s === "1" || s === "yes" || s === "on") return true;
  if (s === "false" || s === "0" || s === "no" || s === "off") return false;
  return fallback;
}

function readConfig() {
  const pre = window.TTHCWidget && typeof window.TTHCWidget === "object" && !window.TTHCWidget.__tthc
    ? window.TTHCWidget : {};
  const ds = (SCRIPT && SCRIPT.dataset) || {};
  const pick = (key, dataKey) => (pre[key] !== undefined && pre[key] !== null ? pre[key] : ds[dataKey || key]);
  let scriptOrigin = location.origin;
  try {
    if (SCRIPT && SCRIPT.src) scriptOrigin = new URL(SCRIPT.src, location.href).origin;
  } catch (e) { /* keep the page's origin */ }

  let serverUrl = String(pick("serverUrl") || scriptOrigin);
  let socketPath = String(pick("socketPath") || "/socket.io");
  try {
    const u = new URL(serverUrl, location.href);
    serverUrl = u.origin;
    // A server behind a path prefix (https://portal/chatbot): socket.io takes a URL path as a
    // namespace, so the prefix goes into the socket path instead.
    const prefix = u.pathname.replace(/\/+$/, "");
    if (prefix && !pick("socketPath")) socketPath = prefix + "/socket.io";
  } catch (e) {
    serverUrl = scriptOrigin;
  }
  let suggestions = pick("suggestions");
  if (typeof suggestions === "string") {
    suggestions = suggestions.trim().toLowerCase() === "none" ? [] : suggestions.split("|");
  }
  if (!Array.isArray(suggestions)) suggestions = DEFAULT_SUGGESTIONS;
  suggestions = suggestions.map((s) => String(s).trim()).filter(Boolean).slice(0, 6);

  const primaryRgb = parseColor(pick("primaryColor")) || parseColor("#b71c1c");
  const position = String(pick("position") || "right").toLowerCase() === "left" ? "left" : "right";
  return {
    serverUrl,
    socketPath,
    title: String(pick("title") || "Trợ lý thủ tục hành chính").slice(0, 80),
    hotline: String(pick("hotline") || "1022").slice(0, 30),
    greeting: String(pick("greeting") || T.greeting).slice(0, 600),
    primaryRgb,
    position,
    open: parseBool(pick("open"), false),
    suggestions,
  };
}

// ---- storage (localStorage when the browser allows it, memory otherwise) ------------------

const memory = {};
const store = {
  get(k) {
    try {
      const v = window.localStorage.getItem(k);
      return v === null && k in memory ? memory[k] : v;
    } catch (e) {
      return k in memory ? memory[k] : null;
    }
  },
  set(k, v) {
    memory[k] = v;
    try { window.localStorage.setItem(k, v); } catch (e) { /* memory only */ }
  },
  del(k) {
    delete memory[k];
    try { window.localStorage.removeItem(k); } catch (e) { /* ignore */ }
  },
};

function newSessionId() {
  try {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  } catch (e) { /* not a secure context */ }
  try {
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const x = Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
    return x.slice(0, 8) + "-" + x.slice(8, 12) + "-" + x.slice(12, 16) + "-" + x.slice(16, 20) + "-" + x.slice(20);
  } catch (e) {
    return "s-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }
}

const validSession = (s) => typeof s === "string" && /^[A-Za-z0-9_.:-]{6,80}$/.test(s);

// ---- DOM helpers -------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c); // strings become text nodes
  }
  return el;
}

/** Text with its http(s) URLs as links (text nodes only, never HTML). */
function linkified(text) {
  return splitLinks(text).map((part) =>
    part.url ? h("a", { href: part.url, target: "_blank", rel: "noopener noreferrer" }, part.text) : part.text);
}

function addStyles(css) {
  if (document.getElementById("tthc-widget-style")) return;
  // A constructed stylesheet is not blocked by a Content-Security-Policy without 'unsafe-inline'.
  try {
    if ("adoptedStyleSheets" in document && typeof CSSStyleSheet === "function" && CSSStyleSheet.prototype.replaceSync) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      const marker = h("meta", { id: "tthc-widget-style", name: "tthc-widget-style", content: "adopted" });
      document.head.appendChild(marker);
      return;
    }
  } catch (e) { /* fall back to a <style> element */ }
  const style = h("style", { id: "tthc-widget-style" });
  style.textContent = css;
  (document.head || document.documentElement).appendChild(style);
}

// ---- the widget --------------------------------------------------------------------------

function createWidget(cfg) {
  const primary = cfg.primaryRgb;
  const white = [255, 255, 255];
  const { accent, tint } = accentColors(primary); // links, option buttons, tags (AA on white, grey, tint)
  const onPrimary = readableTextColor(primary);
  const onAccent = readableTextColor(accent);
  const focus = contrast(primary, white) >= 3 ? toHex(primary) : toHex(accent);

  let sessionId = store.get(KEY_SESSION);
  if (!validSession(sessionId)) {
    sessionId = newSessionId();
    store.set(KEY_SESSION, sessionId);
  }
  let history = loadHistory(sessionId);
  let nextId = history.reduce((m, e) => Math.max(m, e.id || 0), 0) + 1;
  let turnStart = history.length; // history index where the current turn's bot messages start
  let isOpen = false;
  let confirmed = false;
  let socket = null;
  let state = "connecting";
  const queue = []; // {entryId, message}
  let typingTimer = null;
  let replyTimer = null;
  let confirmTimer = null;

  // -- build the DOM --
  const root = h("div", { id: "tthc-widget", lang: "vi", class: cfg.position === "left" ? "tthc-left" : null });
  root.style.setProperty("--tthc-primary", toHex(primary));
  root.style.setProperty("--tthc-on-primary", onPrimary);
  root.style.setProperty("--tthc-accent", toHex(accent));
  root.style.setProperty("--tthc-on-accent", onAccent);
  root.style.setProperty("--tthc-tint", toHex(tint));
  root.style.setProperty("--tthc-focus", focus);

  const badge = h("span", { class: "tthc-badge", hidden: true, "aria-hidden": "true" });
  const launcher = h("button", {
    type: "button", class: "tthc-launcher", "data-testid": "tthc-launcher", "aria-label": T.launcherOpen,
    "aria-expanded": "false", "aria-controls": "tthc-panel", title: cfg.title,
  }, icon("chat", 28), badge);

  const statusText = h("span", { class: "tthc-status-text", text: T.connecting });
  const status = h("div", {
    class: "tthc-status", "data-testid": "tthc-status", "data-state": "connecting", role: "status", "aria-live": "polite",
  }, h("span", { class: "tthc-dot", "aria-hidden": "true" }), statusText);

  const newBtn = h("button", {
    type: "button", class: "tthc-hbtn", "data-testid": "tthc-new", "aria-label": T.newConversation, title: T.newConversation,
  }, icon("restart", 22));
  const closeBtn = h("button", {
    type: "button", class: "tthc-hbtn", "data-testid": "tthc-close", "aria-label": T.close, title: T.close,
  }, icon("close", 22));

  const header = h("div", { class: "tthc-header" },
    h("span", { class: "tthc-avatar", "aria-hidden": "true" }, icon("chat", 20)),
    h("div", { class: "tthc-heading" }, h("h2", { class: "tthc-title", id: "tthc-title", text: cfg.title }), status),
    newBtn, closeBtn);

  const log = h("div", {
    class: "tthc-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": T.log,
    tabindex: "0", "data-testid": "tthc-log",
  });

  const typing = h("div", {
    class: "tthc-typing", "data-testid": "tthc-typing", role: "status", "aria-live": "polite", hidden: true,
  }, h("span", { class: "tthc-dots", "aria-hidden": "true" }, h("span"), h("span"), h("span")), h("span", { text: T.typing }));

  const input = h("textarea", {
    class: "tthc-input", "data-testid": "tthc-input", rows: "1", "aria-label": T.input, placeholder: T.placeholder,
    "aria-describedby": "tthc-hint tthc-counter", autocomplete: "off", spellcheck: "false", enterkeyhint: "send",
  });
  const sendBtn = h("button", {
    type: "button", class: "tthc-send", "data-testid": "tthc-send", "aria-label": T.send, title: T.send,
  }, icon("send", 22));
  const counter = h("div", { class: "tthc-counter", id: "tthc-counter", hidden: true });
  const hint = h("span", { class: "tthc-sr", id: "tthc-hint", text: T.panelHint });
  const footerTel = telHref(cfg.hotline);
  const footer = h("div", { class: "tthc-footer" }, T.footer,
    footerTel ? h("a", { href: footerTel, "aria-label": T.call + cfg.hotline }, cfg.hotline) : cfg.hotline);

  const panel = h("section", {
    class: "tthc-panel", id: "tthc-panel", "data-testid": "tthc-panel", role: "dialog", "aria-modal": "false",
    "aria-labelledby": "tthc-title", hidden: true,
  }, header, log, typing, h("div", { class: "tthc-composer" }, input, sendBtn), counter, hint, footer);

  root.append(panel, launcher);

  // -- rendering --
  function renderWelcome() {
    const box = h("div", { class: "tthc-msg tthc-bot tthc-welcome", "data-testid": "tthc-welcome" }, h("p", { text: cfg.greeting }));
    if (!history.length && cfg.suggestions.length) {
      const group = h("div", { class: "tthc-suggestions", role: "group", "aria-label": T.suggestions });
      for (const s of cfg.suggestions) {
        group.append(h("button", {
          type: "button", class: "tthc-suggestion", "data-testid": "tthc-suggestion", "aria-label": T.choose + s,
          onclick: () => { submit(s); input.focus(); },
        }, s));
      }
      box.append(group);
    }
    return h("div", { class: "tthc-row tthc-row-bot", "data-welcome": "1" }, h("span", { class: "tthc-sr", text: T.bot }), box);
  }

  function renderUser(entry) {
    // the "Bạn: " for screen readers stays outside the message, whose text is exactly the user's
    const msg = h("div", { class: "tthc-msg tthc-user", "data-testid": "tthc-user-msg" }, entry.text);
    return h("div", { class: "tthc-row tthc-row-user", "data-entry": entry.id }, h("span", { class: "tthc-sr", text: T.you }), msg);
  }

  function renderBlocks(container, parsed, aspect) {
    for (const b of parsed.blocks) {
      if (b.type === "p") {
        container.append(h("p", null, linkified(b.text)));
      } else if (b.type === "ol") {
        const ol = h("ol", { start: b.start !== 1 ? b.start : null });
        for (const it of b.items) ol.append(h("li", null, linkified(it)));
        container.append(ol);
      } else {
        const facts = FACT_ASPECTS[aspect] && b.items.every((it) => splitLabel(it));
        const ul = h("ul", { class: facts ? "tthc-facts" : null });
        for (const it of b.items) {
          const lv = splitLabel(it);
          if (facts) {
            ul.append(h("li", null, h("strong", null, lv.label + ":"), " ", h("span", { class: "tthc-value" }, linkified(lv.value))));
          } else if (lv && /^(nộp|qua|trực|dịch vụ|bưu chính)/i.test(lv.label)) {
            ul.append(h("li", null, h("strong", null, lv.label + ":"), " ", linkified(lv.value)));
          } else {
            ul.append(h("li", null, linkified(it)));
          }
        }
        container.append(ul);
      }
    }
  }

  function renderSource(container, custom, parsed) {
    const src = parsed.source;
    const code = (custom && custom.procedure_code) || (src && src.code) || null;
    const url = (custom && custom.source_url) || (src && src.url) || null;
    if (url) {
      const label = sourceLinkLabel(code, url);
      const link = h("a", {
        href: url, target: "_blank", rel: "noopener noreferrer", "data-testid": "tthc-source",
        "aria-label": label + T.newTab, title: custom && custom.procedure_name ? custom.procedure_name : null,
      }, label);
      container.append(h("div", { class: "tthc-source" }, icon("doc", 16),
        h("span", null, T.source, link)));
    } else if (src && (src.code || src.text)) {
      container.append(h("div", { class: "tthc-source" }, icon("doc", 16),
        h("span", null, src.code ? T.sourceProcedure + src.code : T.source + src.text)));
    }
  }

  function renderBot(entry, index) {
    const custom = entry.custom || null;
    const aspect = custom && custom.aspect;
    const msg = h("div", { class: "tthc-msg tthc-bot", "data-testid": "tthc-bot-msg" });
    if (custom && aspect && ASPECT_LABELS[aspect] && custom.procedure_code) {
      msg.append(h("span", { class: "tthc-tag" }, ASPECT_LABELS[aspect] + " · " + custom.procedure_code));
    }
    const parsed = parseText(entry.text);
    renderBlocks(msg, parsed, aspect);

    if (entry.options && entry.options.length) {
      const answered = history.slice(index + 1).some((e) => e.k === "user");
      const group = h("div", { class: "tthc-options", role: "group", "aria-label": T.options });
      entry.options.forEach((opt, i) => {
        const chosen = entry.chosen === i;
        group.append(h("button", {
          type: "button", class: "tthc-option" + (chosen ? " tthc-chosen" : ""), "data-testid": "tthc-option",
          "aria-label": T.choose + opt.title, disabled: answered, "aria-pressed": chosen ? "true" : null,
          onclick: () => choose(entry, i),
        }, opt.title));
      });
      msg.append(group);
    }
    renderSource(msg, custom, parsed);

    const hotline = custom && (custom.hotline || (custom.handoff ? cfg.hotline : null));
    if (hotline) {
      const tel = telHref(hotline);
      msg.append(h("div", { class: "tthc-hotline", "data-testid": "tthc-hotline", role: "note" }, icon("phone", 18),
        h("span", null, custom.handoff ? T.handoff : T.hotlineHelp,
          tel ? h("a", { href: tel, "aria-label": T.call + hotline }, hotline) : hotline)));
    }
    return h("div", { class: "tthc-row tthc-row-bot", "data-entry": entry.id }, h("span", { class: "tthc-sr", text: T.bot }), msg);
  }

  function renderEntry(entry, index) {
    return entry.k === "user" ? renderUser(entry) : renderBot(entry, index);
  }

  function renderAll() {
    log.textContent = "";
    log.append(renderWelcome());
    history.forEach((e, i) => log.append(renderEntry(e, i)));
    scrollToBottom(false);
  }

  function notice(text, kind) {
    const el = h("div", { class: "tthc-notice" + (kind === "error" ? " tthc-notice-error" : ""), "data-testid": "tthc-notice", role: "note" }, text);
    log.append(el);
    scrollToBottom(true);
    return el;
  }

  function scrollToBottom(smooth) {
    const reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    const top = log.scrollHeight;
    if (smooth && !reduce && log.scrollTo) log.scrollTo({ top, behavior: "smooth" });
    else log.scrollTop = top;
  }

  /** Show a long bot answer from its start rather than its end. */
  function scrollToMessage(row) {
    if (row.offsetHeight > log.clientHeight - 24) log.scrollTop = row.offsetTop - log.offsetTop - 8;
    else scrollToBottom(true);
  }

  // -- history --
  function loadHistory(id) {
    try {
      const data = JSON.parse(store.get(KEY_HISTORY + id) || "[]");
      return Array.isArray(data) ? data.filter((e) => e && (e.k === "user" || e.k === "bot")).slice(-MAX_HISTORY) : [];
    } catch (e) {
      return [];
    }
  }

  function saveHistory() {
    if (history.length > MAX_HISTORY) {
      const drop = history.length - MAX_HISTORY;
      history = history.slice(drop);
      turnStart = Math.max(0, turnStart - drop);
    }
    store.set(KEY_HISTORY + sessionId, JSON.stringify(history));
  }

  function disableOptions() {
    for (const b of log.querySelectorAll(".tthc-option")) b.disabled = true;
  }

  // -- typing indicator and reply timeout --
  function startWaiting() {
    clearTimeout(typingTimer);
    typing.hidden = false;
    clearTimeout(replyTimer);
    replyTimer = setTimeout(() => {
      typing.hidden = true;
      notice(T.timeout);
    }, REPLY_TIMEOUT_MS);
  }

  function stopWaiting(grace) {
    clearTimeout(replyTimer);
    replyTimer = null;
    clearTimeout(typingTimer);
    if (grace && !typing.hidden) typingTimer = setTimeout(() => { typing.hidden = true; }, TYPING_GRACE_MS);
    else typing.hidden = true;
  }

  // -- sending --
  function emitMessage(message) {
    socket.emit("user_uttered", {
      message,
      session_id: sessionId,
      customData: { language: "vi", page: location.href },
    });
    startWaiting();
  }

  function flushQueue() {
    while (queue.length && socket && socket.connected && confirmed) {
      const item = queue.shift();
      const pending = log.querySelector('[data-entry="' + item.entryId + '"] .tthc-pending');
      if (pending) pending.remove();
      emitMessage(item.message);
    }
  }

  /** Show `shown` as the user's message and send `message` (the payload of an option). */
  function submit(shown, message, fromOption) {
    let text = String(shown === undefined || shown === null ? "" : shown).replace(/\r\n?/g, "\n").trim();
    if (!text) {
      notice(T.empty);
      return false;
    }
    let cut = false;
    if (text.length > MAX_LEN) {
      text = text.slice(0, MAX_LEN);
      cut = true;
    }
    const payload = fromOption ? String(message).slice(0, MAX_LEN) : text;
    disableOptions();
    for (const el of log.querySelectorAll(".tthc-suggestions")) el.remove();
    const entry = { k: "user", text, id: nextId++, t: Date.now() };
    history.push(entry);
    turnStart = history.length;
    saveHistory();
    const row = renderUser(entry);
    log.append(row);
    if (cut) notice(T.tooLong);
    if (socket && socket.connected && confirmed) {
      emitMessage(payload);
    } else {
      row.appendChild(h("span", { class: "tthc-pending", text: T.pending }));
      queue.push({ entryId: entry.id, message: payload });
    }
    scrollToBottom(true);
    return true;
  }

  function choose(entry, i) {
    const opt = entry.options[i];
    if (!opt) return;
    entry.chosen = i;
    if (submit(opt.title, opt.payload, true)) {
      // re-mark the chosen button in place (the whole message is not re-rendered)
      const row = log.querySelector('[data-entry="' + entry.id + '"]');
      if (row) {
        const btn = row.querySelectorAll(".tthc-option")[i];
        if (btn) {
          btn.classList.add("tthc-chosen");
          btn.setAttribute("aria-pressed", "true");
        }
      }
      saveHistory();
      input.focus();
    }
  }

  function sendFromInput() {
    const value = input.value;
    if (submit(value)) {
      input.value = "";
      updateInput();
    }
    input.focus();
  }

  function updateInput() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 3, 120) + "px";
    const n = input.value.length;
    if (n > MAX_LEN - 100) {
      counter.hidden = false;
      counter.textContent = n + "/" + MAX_LEN + (n > MAX_LEN ? T.counterOver : "");
      counter.classList.toggle("tthc-over", n > MAX_LEN);
    } else {
      counter.hidden = true;
    }
  }

  // -- receiving --
  function onBotUttered(data) {
    const msg = normalizeBotPayload(data);
    if (!msg) return;
    stopWaiting(true);
    // A message with only `custom` (Rasa's stock output sends it apart from the text) completes
    // the bot message just before it in the same turn.
    const last = history[history.length - 1];
    if (!msg.text && !msg.options.length && last && last.k === "bot" && !last.custom && history.length - 1 >= turnStart) {
      last.custom = msg.custom;
      saveHistory();
      const old = log.querySelector('[data-entry="' + last.id + '"]');
      const row = renderBot(last, history.length - 1);
      if (old) old.replaceWith(row);
      else log.append(row);
      scrollToMessage(row);
      markUnread();
      return;
    }
    const entry = { k: "bot", text: msg.text, options: msg.options, custom: msg.custom, id: nextId++, t: Date.now() };
    history.push(entry);
    saveHistory();
    const row = renderBot(entry, history.length - 1);
    log.append(row);
    scrollToMessage(row);
    markUnread();
  }

  function onServerError(data) {
    stopWaiting(false);
    let detail = "";
    if (data && typeof data === "object" && typeof data.message === "string") detail = data.message;
    else if (typeof data === "string") detail = data;
    detail = detail.trim().slice(0, 200);
    notice(T.error + (detail ? " (" + detail + ")" : "") + T.errorTail, "error");
  }

  function markUnread() {
    if (isOpen) return;
    badge.hidden = false;
    launcher.setAttribute("aria-label", T.launcherOpen + T.newMessages);
  }

  // -- connection --
  function setState(s) {
    state = s;
    status.setAttribute("data-state", s);
    statusText.textContent = T[s];
  }

  function requestSession() {
    confirmed = false;
    socket.emit("session_request", { session_id: sessionId });
    clearTimeout(confirmTimer);
    // A server that never confirms should not swallow the messages for good.
    confirmTimer = setTimeout(() => {
      if (!confirmed && socket.connected) {
        confirmed = true;
        flushQueue();
      }
    }, CONFIRM_FALLBACK_MS);
  }

  function connect() {
    socket = io(cfg.serverUrl, {
      path: cfg.socketPath,
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnection: true,
      reconnectionAttempts: Infinity,
      reconnectionDelay: 2000,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.25,
      timeout: 10000,
    });
    socket.on("connect", () => {
      setState("connected");
      requestSession();
    });
    socket.on("session_confirm", (data) => {
      const id = typeof data === "string" ? data : data && typeof data === "object" ? data.session_id : null;
      if (validSession(id) && id !== sessionId) {
        // the server chose another id: keep the conversation under it
        store.del(KEY_HISTORY + sessionId);
        sessionId = id;
        store.set(KEY_SESSION, sessionId);
        saveHistory();
      }
      clearTimeout(confirmTimer);
      confirmed = true;
      flushQueue();
    });
    socket.on("bot_uttered", onBotUttered);
    socket.on("error", onServerError);
    socket.on("disconnect", (reason) => {
      confirmed = false;
      if (reason === "io client disconnect") return; // our own (new conversation, page leaving)
      setState("disconnected");
      // After a server-side disconnect socket.io does not reconnect by itself.
      if (reason === "io server disconnect") setTimeout(() => { if (!socket.connected) socket.connect(); }, 2000);
    });
    socket.on("connect_error", () => {
      if (!socket.connected) setState("disconnected");
    });
  }

  function newConversation() {
    stopWaiting(false);
    queue.length = 0;
    store.del(KEY_HISTORY + sessionId);
    sessionId = newSessionId();
    store.set(KEY_SESSION, sessionId);
    history = [];
    turnStart = 0;
    renderAll();
    if (socket) {
      // a fresh connection leaves the previous session's room
      socket.disconnect();
      setState("connecting");
      socket.connect();
    }
    input.value = "";
    updateInput();
    input.focus();
  }

  // -- open / close --
  function setOpen(open, moveFocus) {
    isOpen = open;
    panel.hidden = !open;
    root.classList.toggle("tthc-is-open", open);
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.setAttribute("aria-label", open ? T.launcherClose : T.launcherOpen);
    while (launcher.firstChild) launcher.removeChild(launcher.firstChild);
    launcher.append(icon(open ? "close" : "chat", 28), badge);
    store.set(KEY_OPEN, open ? "1" : "0");
    if (open) {
      badge.hidden = true;
      scrollToBottom(false);
      if (moveFocus) input.focus();
    } else if (moveFocus) {
      launcher.focus();
    }
  }

  /** The open panel's Tab stops, then the launcher when it shows (it is hidden on phones). */
  function focusables() {
    const items = Array.from(panel.querySelectorAll("button, a[href], textarea, [tabindex]"))
      .filter((el) => !el.disabled && el.getAttribute("tabindex") !== "-1" && el.offsetParent !== null);
    if (window.getComputedStyle(launcher).display !== "none") items.push(launcher);
    return items;
  }

  // -- events --
  launcher.addEventListener("click", () => setOpen(!isOpen, true));
  closeBtn.addEventListener("click", () => setOpen(false, true));
  newBtn.addEventListener("click", newConversation);
  sendBtn.addEventListener("click", sendFromInput);
  input.addEventListener("input", updateInput);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendFromInput();
    }
  });
  root.addEventListener("keydown", (e) => {
    if (!isOpen) return;
    if (e.key === "Escape") {
      e.preventDefault();
      setOpen(false, true);
    } else if (e.key === "Tab") {
      // keep Tab inside the open panel and its launcher; Escape closes the panel
      const items = focusables();
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  });
  // Escape also closes the panel when nothing on the page has the focus.
  document.addEventListener("keydown", (e) => {
    const active = document.activeElement;
    if (e.key === "Escape" && isOpen && (!active || active === document.body) && !e.defaultPrevented) {
      setOpen(false, true);
    }
  });

  // -- start --
  renderAll();
  const storedOpen = store.get(KEY_OPEN);
  setOpen(storedOpen === null ? cfg.open : storedOpen === "1", false);
  document.body.appendChild(root);
  scrollToBottom(false);
  connect();

  return {
    open: () => setOpen(true, true),
    close: () => setOpen(false, false),
    toggle: () => setOpen(!isOpen, true),
    isOpen: () => isOpen,
    send: (text) => {
      if (!isOpen) setOpen(true, false);
      return submit(text);
    },
    newConversation,
    sessionId: () => sessionId,
    state: () => state,
  };
}

// ---- bootstrap ---------------------------------------------------------------------------

function boot() {
  if (document.getElementById("tthc-widget")) return;
  const cfg = readConfig();
  addStyles(CSS);
  const api = createWidget(cfg);
  window.TTHCWidget = Object.assign({ __tthc: true, version: VERSION, config: cfg }, api);
  try {
    document.dispatchEvent(new CustomEvent("tthc-widget-ready"));
  } catch (e) { /* old browsers */ }
}

if (!(window.TTHCWidget && window.TTHCWidget.__tthc)) {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
}
