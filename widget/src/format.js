// Pure helpers (no DOM): reading the bot's messages, URLs, colours.
// Kept apart from the DOM code so that `node --test` can check them (widget/test/).

export const MAX_OPTIONS = 12;

/** Short Vietnamese label for each answer aspect sent in `custom.aspect`. */
export const ASPECT_LABELS = {
  documents: "Hồ sơ cần chuẩn bị",
  fee: "Lệ phí",
  duration: "Thời hạn giải quyết",
  where: "Nơi nộp hồ sơ",
  steps: "Trình tự thực hiện",
  online: "Dịch vụ công trực tuyến",
  legal_basis: "Căn cứ pháp lý",
  overview: "Thông tin thủ tục",
};

/** Aspects whose "- Kênh: giá trị" lines are shown as a small table of facts. */
export const FACT_ASPECTS = { fee: true, duration: true };

const SOURCE_LINE = /^\s*Nguồn\s*:/i;
const URL_IN_TEXT = /https?:\/\/[^\s<>"'«»]+/gi;
const TRAILING_PUNCT = /[.,;:!?)\]}»]+$/;
const OL_ITEM = /^\s*(\d{1,3})[.)]\s+(.*)$/;
const UL_ITEM = /^\s*[-•*–]\s+(.*)$/;

/** The URL as a normalised string when it is an absolute http(s) URL, else null. */
export function safeHttpUrl(value) {
  if (typeof value !== "string") return null;
  const s = value.trim();
  if (!/^https?:\/\//i.test(s)) return null;
  try {
    const url = new URL(s);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

/** Split text into plain pieces and http(s) links: [{text}] | [{text, url}]. */
export function splitLinks(text) {
  const out = [];
  let last = 0;
  String(text).replace(URL_IN_TEXT, (match, offset) => {
    const trimmed = match.replace(TRAILING_PUNCT, "");
    const url = safeHttpUrl(trimmed);
    if (!url) return match;
    if (offset > last) out.push({ text: text.slice(last, offset) });
    out.push({ text: trimmed, url });
    last = offset + trimmed.length;
    return match;
  });
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** "Nguồn: thủ tục 1.001234 — https://…" -> {code, url}. */
export function parseSourceLine(line) {
  const rest = String(line).replace(SOURCE_LINE, "");
  let url = null;
  const m = rest.match(URL_IN_TEXT);
  if (m) url = safeHttpUrl(m[0].replace(TRAILING_PUNCT, ""));
  const withoutUrl = m ? rest.replace(m[0], " ") : rest;
  const c = withoutUrl.match(/thủ tục\s+([0-9A-Za-z][0-9A-Za-z._-]*[0-9A-Za-z])/i) ||
    withoutUrl.match(/\b(\d{1,2}\.\d{6})\b/);
  return { code: c ? c[1] : null, url, text: rest.replace(/^[\s—–-]+|[\s—–-]+$/g, "") };
}

/**
 * Plain bot text -> blocks for rendering, and the "Nguồn:" line taken out.
 * blocks: {type: "p", text} | {type: "ol", start, items: [text]} | {type: "ul", items: [text]}
 */
export function parseText(text) {
  const blocks = [];
  let source = null;
  let list = null;
  const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
  for (const raw of lines) {
    const line = raw.replace(/\s+$/, "");
    if (!line.trim()) {
      list = null;
      continue;
    }
    if (SOURCE_LINE.test(line)) {
      source = parseSourceLine(line);
      list = null;
      continue;
    }
    let m = line.match(OL_ITEM);
    if (m) {
      if (!list || list.type !== "ol") {
        list = { type: "ol", start: parseInt(m[1], 10), items: [] };
        blocks.push(list);
      }
      list.items.push(m[2].trim());
      continue;
    }
    m = line.match(UL_ITEM);
    if (m) {
      if (!list || list.type !== "ul") {
        list = { type: "ul", items: [] };
        blocks.push(list);
      }
      list.items.push(m[1].trim());
      continue;
    }
    if (list && /^\s{2,}\S/.test(raw)) {
      // an indented line continues the previous list item
      list.items[list.items.length - 1] += " " + line.trim();
      continue;
    }
    list = null;
    blocks.push({ type: "p", text: line.trim() });
  }
  return { blocks, source };
}

/** "Nộp trực tiếp: 7 ngày làm việc" -> {label: "Nộp trực tiếp", value: "7 ngày làm việc"}. */
export function splitLabel(item) {
  const m = String(item).match(/^([^:]{1,48}):\s+(\S.*)$/);
  if (!m || /https?$/i.test(m[1]) || /https?:\/\//i.test(m[1])) return null;
  return { label: m[1].trim(), value: m[2].trim() };
}

function str(v, max) {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string" && typeof v !== "number") return null;
  const s = String(v).trim();
  return s ? s.slice(0, max) : null;
}

/** Keep the known fields of `custom`, with their types checked. */
export function pickCustom(c) {
  if (!c || typeof c !== "object" || Array.isArray(c)) return null;
  const out = {};
  const code = str(c.procedure_code, 40);
  if (code) out.procedure_code = code;
  const name = str(c.procedure_name, 300);
  if (name) out.procedure_name = name;
  const aspect = str(c.aspect, 40);
  if (aspect) out.aspect = aspect;
  if (typeof c.confidence === "number" && isFinite(c.confidence)) out.confidence = c.confidence;
  const url = safeHttpUrl(typeof c.source_url === "string" ? c.source_url : "");
  if (url) out.source_url = url;
  if (c.handoff === true) out.handoff = true;
  const hotline = str(c.hotline, 30);
  if (hotline) out.hotline = hotline;
  if (Array.isArray(c.candidates)) {
    const cands = [];
    for (const x of c.candidates.slice(0, 10)) {
      if (!x || typeof x !== "object") continue;
      const cc = str(x.code, 40);
      const cn = str(x.name, 300);
      if (cc || cn) cands.push({ code: cc, name: cn, score: typeof x.score === "number" ? x.score : null });
    }
    if (cands.length) out.candidates = cands;
  }
  return Object.keys(out).length ? out : null;
}

const CUSTOM_KEYS = ["procedure_code", "source_url", "handoff", "hotline", "aspect", "candidates"];

/**
 * One `bot_uttered` payload -> {text, options: [{title, payload}], custom} or null when empty.
 * Accepts quick_replies or buttons, a message with only text or only custom, a bare string,
 * and the bare custom object that Rasa's stock socket.io output sends for a json message.
 */
export function normalizeBotPayload(data) {
  if (typeof data === "string") data = { text: data };
  if (!data || typeof data !== "object" || Array.isArray(data)) return null;
  const text = typeof data.text === "string" ? data.text.replace(/\r\n?/g, "\n").trim() : "";
  const rawOptions = Array.isArray(data.quick_replies) && data.quick_replies.length
    ? data.quick_replies
    : Array.isArray(data.buttons) ? data.buttons : [];
  const options = [];
  for (const o of rawOptions) {
    if (!o || typeof o !== "object") continue;
    const title = str(o.title != null ? o.title : o.payload, 200);
    const payload = str(o.payload != null ? o.payload : o.title, 1000);
    if (title && payload) options.push({ title, payload });
    if (options.length >= MAX_OPTIONS) break;
  }
  let custom = pickCustom(data.custom);
  if (!custom && !text && !options.length && CUSTOM_KEYS.some((k) => k in data)) custom = pickCustom(data);
  if (!text && !options.length && !custom) return null;
  return { text, options, custom };
}

/** Digits and a leading + only, for a tel: link; null when nothing is left. */
export function telHref(number) {
  const s = String(number || "").trim();
  const digits = s.replace(/[^\d+]/g, "").replace(/(?!^)\+/g, "");
  return /\d{3,}/.test(digits) ? "tel:" + digits : null;
}

/** True when the URL belongs to the national public-service portal. */
export function isNationalPortal(url) {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host === "dichvucong.gov.vn" || host.endsWith(".dichvucong.gov.vn");
  } catch (e) {
    return false;
  }
}

/** The label of a source link, e.g. "Xem thủ tục 1.001234 trên Cổng Dịch vụ công quốc gia". */
export function sourceLinkLabel(code, url) {
  const what = code ? "Xem thủ tục " + code : "Xem nguồn thủ tục";
  if (isNationalPortal(url)) return what + " trên Cổng Dịch vụ công quốc gia";
  try {
    return what + " (" + new URL(url).hostname + ")";
  } catch (e) {
    return what;
  }
}

// ---- colours ---------------------------------------------------------------------------

/** "#abc" / "#aabbcc" -> [r, g, b], or null for anything else (also guards the stylesheet). */
export function parseColor(value) {
  const s = String(value || "").trim();
  let m = s.match(/^#([0-9a-f])([0-9a-f])([0-9a-f])$/i);
  if (m) return [m[1], m[2], m[3]].map((x) => parseInt(x + x, 16));
  m = s.match(/^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i);
  if (m) return [m[1], m[2], m[3]].map((x) => parseInt(x, 16));
  return null;
}

export function toHex(rgb) {
  return "#" + rgb.map((x) => Math.round(Math.max(0, Math.min(255, x))).toString(16).padStart(2, "0")).join("");
}

/** WCAG 2 relative luminance. */
export function luminance(rgb) {
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a, b) {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** White or near-black, whichever reads better on the background colour. */
export function readableTextColor(bg) {
  const cw = contrast(bg, [255, 255, 255]);
  const cd = contrast(bg, [17, 24, 39]);
  const black = contrast(bg, [0, 0, 0]);
  if (cw >= cd) return cw >= 4.5 || cw >= black ? "#ffffff" : "#000000";
  return cd >= 4.5 ? "#111827" : "#000000";
}

/**
 * The accent (links, option buttons, tags) and its light tint, from the primary colour: the
 * accent is darkened until it reads at 4.5:1 on the widget's light grey and on its own tint.
 */
export function accentColors(primary) {
  const light = [247, 247, 248];
  let accent = primary.slice();
  let tint = null;
  for (let i = 0; i < 60; i++) {
    tint = accent.map((x) => x + (255 - x) * 0.9);
    if (contrast(accent, light) >= 4.5 && contrast(accent, tint) >= 4.5) break;
    accent = accent.map((x) => x * 0.92);
  }
  return { accent, tint };
}
