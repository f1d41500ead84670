"""Talking to Rasa, and turning its chat replies into something to *say*.

Why a separate voice style: replies written for a chat window (bullet lists,
"200.000 đồng", links, markdown) are hard to follow on the phone.  Callers get
short sentences, amounts and durations read as words ("hai trăm nghìn đồng"),
procedure codes and phone numbers read digit by digit, no links (those go by
SMS), and long document lists three items at a time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from vntext import nfc

log = logging.getLogger(__name__)

SORRY_BUSY = "Xin lỗi, hệ thống đang bận. Anh chị vui lòng thử lại sau ít phút."
ASK_MORE = "Anh/chị có muốn nghe tiếp không?"

# --------------------------------------------------------------------------
# Rasa REST channel
# --------------------------------------------------------------------------


@dataclass
class BotReply:
    """What Rasa answered for one caller turn, flattened for the voice channel."""

    texts: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    documents: list[str] = field(default_factory=list)
    #: quick replies (``title``/``payload``); on the phone they become keys 1..N
    buttons: list[dict[str, str]] = field(default_factory=list)
    handoff: bool = False
    error: bool = False

    @property
    def procedure_code(self) -> str:
        return str(self.custom.get("procedure_code") or "")

    @property
    def procedure_name(self) -> str:
        return str(self.custom.get("procedure_name") or "")

    @property
    def source_url(self) -> str:
        return str(self.custom.get("source_url") or "")

    @property
    def aspect(self) -> str:
        return str(self.custom.get("aspect") or "")

    @property
    def candidates(self) -> list[Any]:
        value = self.custom.get("candidates")
        return list(value) if isinstance(value, list) else []

    @property
    def is_empty(self) -> bool:
        return not self.texts and not self.documents and not self.handoff


_HANDOFF_WORDS = {"request_human", "handoff", "human_handoff", "transfer_to_operator"}


def _is_handoff(message: Mapping[str, Any]) -> bool:
    """True when a Rasa message asks for a human (custom payload or flag)."""
    if message.get("handoff"):
        return True
    custom = message.get("custom")
    if not isinstance(custom, Mapping):
        return False
    if custom.get("handoff") or custom.get("request_human"):
        return True
    for key in ("intent", "action", "event", "type", "name"):
        if str(custom.get(key, "")).lower() in _HANDOFF_WORDS:
            return True
    return False


def _document_name(doc: Any) -> str:
    if isinstance(doc, str):
        return doc.strip()
    if isinstance(doc, Mapping):
        for key in ("name", "ten", "title", "ten_giay_to", "text"):
            if doc.get(key):
                return str(doc[key]).strip()
    return ""


def parse_replies(messages: Any) -> BotReply:
    """Flatten the REST channel's list of messages into one :class:`BotReply`.

    Every field is optional: plain-text replies, custom-only replies and
    replies without ``documents`` are all valid.
    """
    reply = BotReply()
    if not isinstance(messages, list):
        log.warning("unexpected Rasa reply (not a list): %r", messages)
        return reply
    for msg in messages:
        if not isinstance(msg, Mapping):
            continue
        text = msg.get("text")
        if isinstance(text, str) and text.strip():
            reply.texts.append(text.strip())
        custom = msg.get("custom")
        docs: Any = msg.get("documents")
        if isinstance(custom, Mapping):
            for key, value in custom.items():
                if key == "documents":
                    docs = docs or value
                elif value is not None:
                    reply.custom[key] = value
            if not reply.texts and isinstance(custom.get("text"), str):
                reply.texts.append(custom["text"].strip())
        if isinstance(docs, list):
            reply.documents.extend(n for n in (_document_name(d) for d in docs) if n)
        for button in msg.get("buttons") or []:
            if isinstance(button, Mapping) and button.get("payload"):
                reply.buttons.append(
                    {"title": str(button.get("title", "")), "payload": str(button["payload"])}
                )
        if _is_handoff(msg):
            reply.handoff = True
    return reply


class RasaClient:
    """POSTs caller turns to Rasa's REST webhook; sender id is the CallSid."""

    def __init__(self, url: str, session: aiohttp.ClientSession, timeout_s: float = 8.0) -> None:
        self.url = url
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, sender: str, text: str) -> BotReply:
        """One turn; on any failure returns an apology instead of raising."""
        # recognisers may emit decomposed Unicode; the NLU expects NFC (vntext is the one place for this)
        payload = {"sender": sender, "message": nfc(text), "metadata": {"channel": "phone"}}
        try:
            async with self.session.post(self.url, json=payload, timeout=self.timeout) as resp:
                if resp.status != 200:
                    body = (await resp.text())[:200]
                    raise RuntimeError(f"HTTP {resp.status}: {body}")
                data = await resp.json(content_type=None)
        except Exception as exc:  # noqa: BLE001 - the caller must hear something
            log.error("Rasa request failed for %s: %s", sender, exc)
            return BotReply(texts=[SORRY_BUSY], error=True)
        return parse_replies(data)


# --------------------------------------------------------------------------
# Vietnamese numbers
# --------------------------------------------------------------------------

_DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
_SCALES = ["", "nghìn", "triệu", "tỷ"]


def _read_triple(n: int, full: bool) -> list[str]:
    """Read 0..999; ``full`` forces "không trăm"/"linh" inside a larger number."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if hundreds or full:
                words.append("linh")
            words.append(_DIGITS[units])
        return words
    if tens == 1:
        words.append("mười")
    else:
        words += [_DIGITS[tens], "mươi"]
    if units == 1:
        words.append("mốt" if tens > 1 else "một")
    elif units == 4:
        words.append("tư" if tens > 1 else "bốn")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(_DIGITS[units])
    return words


def number_to_words(n: int) -> str:
    """Read a non-negative integer the way a Northern Vietnamese speaker does.

    >>> number_to_words(200000)
    'hai trăm nghìn'
    >>> number_to_words(1050)
    'một nghìn không trăm năm mươi'
    """
    if n < 0:
        return "âm " + number_to_words(-n)
    if n == 0:
        return "không"
    if n >= 10**12:
        return " ".join(_DIGITS[int(d)] for d in str(n))
    groups: list[int] = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    words: list[str] = []
    top = len(groups) - 1
    for idx in range(top, -1, -1):
        g = groups[idx]
        if g == 0:
            continue
        words += _read_triple(g, full=idx < top)
        if _SCALES[idx]:
            words.append(_SCALES[idx])
    return " ".join(words)


def digits_to_words(s: str) -> str:
    """Read a digit string one digit at a time (codes, phone numbers)."""
    out = []
    for ch in s:
        if ch.isdigit():
            out.append(_DIGITS[int(ch)])
        elif ch == ".":
            out.append("chấm")
    return " ".join(out)


_CODE_RE = re.compile(r"\b\d\.\d{6}\b")  # national procedure code, e.g. 1.000110
_PHONE_RE = re.compile(r"(?<![\d.,])(?:\+84|0)\d{8,10}(?!\d|[.,]\d)")
_MONEY_UNIT_RE = re.compile(r"(\d)\s*(?:đồng|đ|vnđ|vnd)(?![\wà-ỹ])", re.IGNORECASE)
_USD_RE = re.compile(r"(\d)\s*(?:usd|us\$|\$)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?")


def _read_number_token(tok: str) -> str:
    integer, _, frac = tok.partition(",")
    words = number_to_words(int(integer.replace(".", "")))
    if frac:
        words += " phẩy " + " ".join(_DIGITS[int(d)] for d in frac)
    return words


_ADDRESS_RE = re.compile(r"\b(anh|ông|cô|chú|bạn)\s*/\s*(chị|bà|bác|em)\b", re.IGNORECASE)


def for_tts(text: str) -> str:
    """Last touches before synthesis: "Anh/chị" is said "anh chị", not "anh gạch chị"."""
    return _ADDRESS_RE.sub(r"\1 \2", text)


def speak_numbers(text: str) -> str:
    """Replace numbers, amounts, codes and phone numbers by spoken words."""
    text = for_tts(text)
    text = _CODE_RE.sub(lambda m: " " + digits_to_words(m.group(0)) + " ", text)
    text = _PHONE_RE.sub(lambda m: " " + digits_to_words(m.group(0).replace("+84", "0")) + " ", text)
    text = _MONEY_UNIT_RE.sub(r"\1 đồng", text)
    text = _USD_RE.sub(r"\1 đô la Mỹ", text)
    text = re.sub(r"(\d)\s*%", r"\1 phần trăm", text)
    text = re.sub(r"(?<=[^\W\d_])\s*/\s*(?=[^\W\d_])", " mỗi ", text)  # đồng/lần
    text = _NUMBER_RE.sub(lambda m: _read_number_token(m.group(0)), text)
    text = text.replace("/", " trên ")
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------
# Voice style
# --------------------------------------------------------------------------

_URL_RE = re.compile(r"(?:https?://|www\.)\S+?(?=[.,;:!?)]*(?:\s|$))")
_MD_RE = re.compile(r"[*_`#>|«»“”\"]+")
_PARENS_RE = re.compile(r"\s*\(([^()]*)\)")
_BULLET_RE = re.compile(r"^\s*(?:[-•+]|\d{1,2}[.)])\s+")
MAX_WORDS = 18


def _split_long(sentence: str, max_words: int = MAX_WORDS) -> list[str]:
    """Split a long sentence at commas/semicolons so each part stays short."""
    if len(sentence.split()) <= max_words:
        return [sentence]
    parts = [p.strip() for p in re.split(r"[,;:]\s+", sentence) if p.strip()]
    out: list[str] = []
    cur = ""
    for part in parts:
        cand = f"{cur}, {part}" if cur else part
        if cur and len(cand.split()) > max_words:
            out.append(cur)
            cur = part
        else:
            cur = cand
    if cur:
        out.append(cur)
    return out


def voice_sentences(text: str, drop_bullets: bool = False) -> list[str]:
    """Chat text -> short spoken sentences (no markdown, no links)."""
    sentences: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        is_bullet = bool(_BULLET_RE.match(line))
        if is_bullet and drop_bullets:
            continue
        line = _BULLET_RE.sub("", line)
        had_link = bool(_URL_RE.search(line))
        line = _URL_RE.sub("", line)
        line = _MD_RE.sub("", line)
        line = _PARENS_RE.sub(r", \1,", line)
        line = speak_numbers(line)
        # Sentence ends: . ! ? followed by space (numbers are words by now).
        for piece in re.split(r"(?<=[.!?])\s+", line):
            piece = piece.strip(" .").rstrip(":").strip()
            if not piece or (had_link and len(piece.split()) < 2):
                continue
            for short in _split_long(piece):
                short = short.strip().rstrip(",;:").strip()
                if short and short[-1] not in ".!?":
                    short += "."
                short = short[:1].upper() + short[1:]
                if short:
                    sentences.append(short)
    return sentences


_ORDINALS = ["Thứ nhất", "Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu",
             "Thứ bảy", "Thứ tám", "Thứ chín", "Thứ mười"]


def document_sentences(documents: Sequence[str], start: int, count: int) -> list[str]:
    """Sentences reading ``documents[start:start+count]``, numbered from start."""
    out = []
    for i, doc in enumerate(documents[start : start + count], start=start):
        label = _ORDINALS[i] if i < len(_ORDINALS) else f"Giấy tờ số {number_to_words(i + 1)}"
        body = " ".join(voice_sentences(doc)) or doc
        if len(body) > 1 and body[1].islower():
            body = body[0].lower() + body[1:]
        out.append(f"{label}, {body}")
    return out


def split_list(text: str) -> tuple[list[str], list[str]]:
    """Separate a chat text's ordinary lines from its bulleted/numbered items."""
    plain: list[str] = []
    items: list[str] = []
    for line in text.splitlines():
        if _BULLET_RE.match(line):
            item = _BULLET_RE.sub("", line).strip()
            if item:
                items.append(item)
        elif line.strip():
            plain.append(line)
    return plain, items


@dataclass
class SpokenReply:
    """How a reply is said: sentences now, then documents in groups."""

    sentences: list[str]
    documents: list[str]
    choices: list[str]  # payloads for keys 1..N


def plan_reply(reply: BotReply, per_turn: int = 3) -> SpokenReply:
    """Decide how to say a reply on the phone.

    * an explicit ``documents`` list is read in groups of ``per_turn``, and
      any bullet copy of it in the text is dropped;
    * a reply with buttons (the assistant asking which procedure) reads its
      numbered options as "Số một, …" and maps them to keys 1..N;
    * a long list in the text (more than ``per_turn`` items, or any list
      when the aspect is "documents") is read in groups too, so a chat
      answer with twelve numbered documents does not become a monologue;
    * anything else is read as it is, in short sentences.
    """
    sentences: list[str] = []
    documents = list(reply.documents)
    choices = [b["payload"] for b in reply.buttons]
    for text in reply.texts:
        plain, items = split_list(text)
        if choices:
            # Options stay in place, numbered as the keys that pick them.
            keep, n = [], 0
            for line in text.splitlines():
                if _BULLET_RE.match(line):
                    n += 1
                    keep.append(f"Số {number_to_words(n)}, {_BULLET_RE.sub('', line).strip()}")
                else:
                    keep.append(line)
        elif documents:
            keep = plain
        elif items and (len(items) > per_turn or reply.aspect == "documents"):
            documents.extend(items)
            keep = plain
        else:
            keep = text.splitlines()
        sentences.extend(voice_sentences("\n".join(keep)))
    if not sentences and reply.candidates:
        names = [
            str(c.get("procedure_name") or c.get("name") or "") if isinstance(c, Mapping) else str(c)
            for c in reply.candidates[:3]
        ]
        names = [n for n in names if n]
        if names:
            sentences.append("Anh/chị muốn hỏi về thủ tục nào.")
            sentences.extend(f"{_ORDINALS[i]}, {n}." for i, n in enumerate(names))
    return SpokenReply(sentences, documents, choices)


def reply_sentences(reply: BotReply) -> list[str]:
    """The spoken sentences of a reply (documents are read separately)."""
    return plan_reply(reply).sentences


def sms_body(reply: BotReply, limit: int = 1500) -> str:
    """The full written answer for the caller's phone (links included)."""
    lines: list[str] = []
    if reply.procedure_name:
        code = f" ({reply.procedure_code})" if reply.procedure_code else ""
        lines.append(f"{reply.procedure_name}{code}")
    lines.extend(reply.texts)
    if reply.documents:
        lines.append("Hồ sơ:")
        lines.extend(f"{i}. {d}" for i, d in enumerate(reply.documents, start=1))
    if reply.source_url:
        lines.append(f"Chi tiết: {reply.source_url}")
    body = "\n".join(lines)
    return body if len(body) <= limit else body[: limit - 1] + "…"


def join_sentences(sentences: Iterable[str]) -> str:
    """One string to synthesise (kept short by the caller)."""
    return " ".join(s for s in sentences if s)
