"""What a caller hears: speech composed from the bot's structured facts, never from chat text.

Why compose instead of re-parsing the chat answer: the chat text is written for a
screen (numbered lists, form codes in parentheses, legal numbers, the source line with
the procedure code and a link).  Read aloud it became "Thông tư hai mươi lăm trên hai
nghìn…" and "Nguồn: thủ tục một chấm không không…".  The bot sends the same facts as
data in every message's ``custom`` payload (``bot_payload``); here they are said in the
phone's own style:

* at most about three short sentences, then an offer ("Anh chị muốn nghe tiếp hồ sơ,
  lệ phí hay thời gian?");
* documents (and steps) three at a time;
* no links, procedure codes or legal-document numbers unless the caller asked for the
  legal basis; the details and the portal link go by SMS instead, when SMS is on;
* every figure read by ``vntext.numbers`` (money, durations, hotline, form codes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot_payload import ChannelFact, DocumentFact, Facts, FeeFact, Payload
from vntext.numbers import money_words, number_words, phone_words, speak_text, spell_code

ASPECT_WORDS = {"documents": "hồ sơ", "fee": "lệ phí", "duration": "thời gian", "where": "nơi nộp",
                "steps": "các bước", "online": "nộp trực tuyến", "legal_basis": "căn cứ pháp lý", "overview": "thông tin"}
CHANNEL_WORDS = {"truc_tiep": "nộp trực tiếp", "truc_tuyen": "nộp trực tuyến", "buu_chinh": "gửi qua bưu điện"}
UNIT_WORDS = {"ngay_lam_viec": "ngày làm việc", "ngay": "ngày", "gio": "giờ", "thang": "tháng"}
ORDINALS = ("Thứ nhất", "Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Thứ tám", "Thứ chín", "Thứ mười")

ASK_MORE = "Anh chị có muốn nghe tiếp không?"
SMS_OFFER = "Hoặc anh chị nói có, tôi sẽ nhắn tin chi tiết và đường dẫn."
DETAIL_LEAD = "Tôi chưa có thông tin riêng cho câu hỏi này, các thông tin sau có thể có điều anh chị cần."
STILL_HERE = "Tôi vẫn có thể trả lời các câu hỏi về thủ tục."
REPHRASE = "Xin lỗi, tôi chưa hiểu. Anh chị vui lòng hỏi lại, ví dụ: làm căn cước cần giấy tờ gì."

# A legal reference inside a note: "(Thông tư 25/2021/TT-BTC)", "theo Nghị định 151/2025/NĐ-CP", "25/2021/TT-BTC".
_LEGAL_REF = re.compile(
    r"\s*\(?(?:theo\s+|ban hành kèm\s+)?(?:Thông tư|Nghị định|Quyết định|Luật|Nghị quyết)?\s*(?:số\s*)?"
    r"\d+/\d{4}/[\wĐđ-]+\)?", re.IGNORECASE
)
_CODE = re.compile(r"\b\d\.\d{6}\b")
_PARENS = re.compile(r"\s*\([^()]*\)")
_SYMBOLS = re.compile(r"[«»“”\"*_`#|<>{}\[\]~^=+@\\]")


def offer(aspect: str | None) -> str:
    """The closing offer; the aspect just answered is swapped for "nơi nộp".

    The overview has just said the time limit and the fee: offering them again would sound
    as if the caller had not been listening, so it offers the documents, the place and the steps."""
    if aspect == "overview":
        return "Anh chị muốn nghe tiếp hồ sơ, nơi nộp hay các bước?"
    options = [a for a in ("hồ sơ", "lệ phí", "thời gian") if a != ASPECT_WORDS.get(aspect or "")]
    if len(options) == 2:
        options.append("nơi nộp")
    return f"Anh chị muốn nghe tiếp {options[0]}, {options[1]} hay {options[2]}?"


def clean(text: str) -> str:
    """Screen text → speakable text: no links, codes, legal numbers or symbols; figures as words."""
    text = _LEGAL_REF.sub("", text)
    text = _CODE.sub("", text)
    text = _SYMBOLS.sub("", text)
    text = re.sub(r"\b(Anh|anh|Ông|ông|Cô|cô)\s*/\s*(Chị|chị|Bà|bà)\b", lambda m: f"{m.group(1)} {m.group(2).lower()}", text)
    text = speak_text(text)
    text = re.sub(r"\(\s*\)", "", text).replace("(", ", ").replace(")", ",")
    text = re.sub(r"\s*;\s*", ", ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r":\s*$", "", text)
    return re.sub(r"\s+", " ", text).strip(" ,;:")


_NAME_TAIL = re.compile(r"\s+(?:thực hiện tại|thực hiện bằng|bằng dịch vụ công|được thực hiện)\b.*$", re.IGNORECASE)


def short_name(name: str, max_words: int = 12) -> str:
    """A procedure or agency name as said on the phone, lower-cased inside a sentence.

    Parenthesised details and "thực hiện tại cấp …" tails go; a name still longer than
    ``max_words`` is cut at its first comma ("chứng thực bản sao từ bản chính giấy tờ, văn
    bản do cơ quan…" → "chứng thực bản sao từ bản chính giấy tờ"): the caller knows what
    was asked, and the full name goes by SMS.
    """
    text = _NAME_TAIL.sub("", _PARENS.sub("", name)).strip() or name
    if len(text.split()) > max_words:
        text = re.split(r"[,:;]\s", text, maxsplit=1)[0]
    text = clean(text) or clean(name)
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def sentence(text: str) -> str:
    """Capitalised, with a final full stop (question marks kept)."""
    text = text.strip(" ,;:")
    if not text:
        return ""
    if text[-1] not in ".?!":
        text += "."
    return text[0].upper() + text[1:]


def first_clause(note: str | None, max_words: int = 16) -> str:
    """The first clause of a note, cleaned, when it is short enough to say."""
    if not note:
        return ""
    clause = clean(re.split(r"[;.]\s", note, maxsplit=1)[0])
    return clause if 0 < len(clause.split()) <= max_words else ""


def step_words(step: str, max_words: int = 32) -> str:
    """One step as said: its first sentence, or of a longer one the part up to its last comma
    within ``max_words``.  Why not :func:`short_name`: a step often opens with its condition
    ("Với trẻ dưới 6 tuổi: cha hoặc mẹ đăng nhập VNeID, …"), and cutting at the colon leaves the
    caller the condition without what to do.  The whole step goes by SMS."""
    first = clean(re.split(r"[;.]\s", step, maxsplit=1)[0])
    words = first.split()
    if 0 < len(words) <= max_words:
        return first
    head = " ".join(words[:max_words])
    cut = max(head.rfind(", "), head.rfind("; "))
    return head[:cut] if len(head[:cut].split()) >= 8 else short_name(step)


# ------------------------------------------------------------------ facts


def fee_words(fee: FeeFact) -> str:
    """One fee as words, the HĐND case included."""
    if fee.kind == "free":
        return "miễn phí"
    if fee.kind == "fixed":
        return money_words(fee.amount or 0, fee.currency)
    if fee.kind == "range":
        return f"từ {money_words(fee.min_amount or 0, fee.currency)} đến {money_words(fee.max_amount or 0, fee.currency)}"
    if fee.kind == "provincial":
        typical = ""
        if fee.max_amount:
            low = money_words(fee.min_amount, fee.currency) if fee.min_amount else "không"
            typical = f", thường từ {low} đến {money_words(fee.max_amount, fee.currency)}"
            typical = typical.replace("từ không đến", "không quá")
        return "do Hội đồng nhân dân tỉnh quyết định" + typical
    return "chưa có thông tin chính xác"


_NOT_NEWS = ("do hội đồng", "cổng dịch vụ công ghi", "như nộp", "thanh toán trực tuyến")


def fee_note(fees: Sequence[FeeFact]) -> str:
    """The first clause of the fee notes that adds something to the amounts just said.

    A clause that only restates an amount ("200.000 đ/lần") or only cites a law is skipped;
    "cấp lại do bị mất… 400.000 đ" or "trẻ em… được miễn" is kept.
    """
    said = {f"{int(f.amount):,}".replace(",", ".") for f in fees if f.amount}
    for fee in fees:
        for raw in re.split(r";\s*|\.\s+", fee.note or ""):
            raw = raw.strip()
            if not raw or any(raw.startswith(a) for a in said):
                continue
            clause = first_clause(raw, 18)
            if clause and len(clause.split()) >= 3 and not clause.lower().startswith(_NOT_NEWS):
                return clause
    return ""


def duration_words(ch: ChannelFact) -> str:
    d = ch.duration
    if d is None:
        return "chưa có thông tin"
    if d.unit == "trong_ngay":
        return "trong ngày"
    unit = UNIT_WORDS.get(d.unit, "")
    if d.max_value is not None:
        return f"từ {_num(d.value or 0)} đến {_num(d.max_value)} {unit}"
    return f"{_num(d.value or 0)} {unit}"


def _num(value: float) -> str:
    return speak_text(f"{value:g}".replace(".", ","))


def _per_channel(channels: Sequence[ChannelFact], say: str) -> list[tuple[str, str]]:
    """(channels said together, value) pairs: channels with the same value are said once."""
    groups: dict[str, list[str]] = {}
    for ch in channels:
        if say == "fee":
            value = ", cộng ".join(dict.fromkeys(fee_words(f) for f in ch.fees)) or "chưa có thông tin"
        else:
            value = duration_words(ch)
        groups.setdefault(value, []).append(CHANNEL_WORDS.get(ch.channel, ""))
    return [(" hay ".join(names), value) for value, names in groups.items()]


def form_words(template: str | None) -> str:
    """"theo mẫu xê tê không một" for a form code; "theo mẫu số mười tám" for "Mẫu số 18 ban hành kèm…"."""
    if not template:
        return ""
    head = re.split(r"\s+(?:ban hành|theo|tại|kèm)\s+|\s*\(|\s*/\s+", template.strip(), maxsplit=1)[0].strip()
    head = re.sub(r"^(?:mẫu|mẫu đơn|mẫu tờ khai)\s*", "", head, flags=re.IGNORECASE).strip()
    m = re.fullmatch(r"số\s+(\d+)", head, flags=re.IGNORECASE)
    if m:
        return f"theo mẫu số {number_words(int(m.group(1)))}"
    if re.fullmatch(r"[0-9A-ZĐa-z][0-9A-ZĐa-z/.\-–]*", head) and re.search(r"\d|[A-ZĐ]{2}", head):
        return f"theo mẫu {spell_code(head)}"
    return "theo mẫu"


def document_item(i: int, doc: DocumentFact) -> str:
    """"Thứ nhất, tờ khai căn cước, một bản chính, theo mẫu xê xê không một."."""
    label = ORDINALS[i] if i < len(ORDINALS) else f"Giấy tờ số {number_words(i + 1)}"
    name = clean(re.split(r":\s", _PARENS.sub("", doc.name), maxsplit=1)[0])
    words = name.split()
    if len(words) > 16:
        name = " ".join(words[:16])
    parts = [name[:1].lower() + name[1:] if name[1:2].islower() else name]
    if doc.copies:
        parts.append(f"{number_words(doc.copies)} {clean(doc.copy_type or 'bản')}")
    form = form_words(doc.template)
    if form:
        parts.append(form)
    return sentence(f"{label}, " + ", ".join(p for p in parts if p))


def legal_number_words(number: str) -> str:
    """"25/2021/TT-BTC" → "số hai mươi lăm năm hai nghìn không trăm hai mươi mốt, tê tê, gạch ngang, bê tê xê"."""
    m = re.fullmatch(r"(\d+)/(\d{4})/(.+)", number.strip())
    if not m:
        return spell_code(number)
    return f"số {number_words(int(m.group(1)))} năm {number_words(int(m.group(2)))}, {spell_code(m.group(3))}"


@dataclass
class Spoken:
    """One reply as the phone says it."""

    sentences: list[str] = field(default_factory=list)  # said now
    items: list[str] = field(default_factory=list)  # documents or steps, read three at a time
    choices: list[str] = field(default_factory=list)  # payloads for keys 1..N
    facts: Facts | None = None  # what an SMS would carry
    aspect: str | None = None
    handoff: bool = False
    offer: bool = False  # end with the "nghe tiếp" offer


def answer(facts: Facts, aspect: str | None, shared_by: int = 0) -> Spoken:
    """The spoken answer about one aspect of a procedure (``shared_by``: several procedures agree)."""
    name = short_name(facts.name)
    about = "các thủ tục này" if shared_by > 1 else name
    out = Spoken(facts=facts, aspect=aspect, offer=True)
    say = out.sentences.append
    if shared_by > 1:
        say(f"Các thủ tục anh chị hỏi có cùng {ASPECT_WORDS.get(aspect or '', 'thông tin')}.")
    if aspect == "documents":
        if facts.documents:
            say(sentence(f"Hồ sơ {about} gồm {number_words(len(facts.documents))} loại giấy tờ"))
            out.items = [document_item(i, d) for i, d in enumerate(facts.documents)]
        else:
            say(sentence(f"Danh mục chưa ghi hồ sơ của {about}, anh chị vui lòng hỏi nơi tiếp nhận"))
    elif aspect == "fee":
        groups = _per_channel(facts.channels, "fee")
        if not groups:
            say(sentence(f"Danh mục chưa ghi lệ phí của {about}"))
        elif len(groups) == 1:
            say(sentence(f"Lệ phí {about} là {groups[0][1]}"))
        else:
            say(sentence(f"Lệ phí {about}: " + "; ".join(f"{ch} {v}" for ch, v in groups)))
        note = fee_note([f for ch in facts.channels for f in ch.fees])
        if note:
            say(sentence(note))
    elif aspect == "duration":
        groups = _per_channel(facts.channels, "duration")
        if not groups:
            say(sentence(f"Danh mục chưa ghi thời hạn giải quyết {about}"))
        elif len(groups) == 1:
            say(sentence(f"Thời hạn giải quyết {about} là {groups[0][1]}"))
        else:
            say(sentence(f"Thời hạn giải quyết {about}: " + "; ".join(f"{ch} {v}" for ch, v in groups)))
    elif aspect == "where":
        say(sentence(f"{name} do {short_name(facts.agency)} giải quyết"))
        if facts.where_to_submit:
            say(sentence(f"Anh chị nộp hồ sơ tại {first_clause(_PARENS.sub('', facts.where_to_submit), 24) or short_name(facts.where_to_submit)}"))
    elif aspect == "online":
        if facts.online:
            say(sentence(f"Có, {about} nộp trực tuyến được trên Cổng Dịch vụ công quốc gia"))
        else:
            say(sentence(f"Theo danh mục, {about} chưa nộp trực tuyến được, anh chị nộp trực tiếp hoặc qua bưu điện"))
    elif aspect == "steps":
        if facts.steps:
            say(sentence(f"{name} có {number_words(len(facts.steps))} bước"))
            out.items = [sentence(f"Bước {number_words(i + 1)}, {_lower_first(step_words(s))}")
                         for i, s in enumerate(facts.steps)]
        else:
            say(sentence(f"Danh mục chưa ghi trình tự của {about}"))
    elif aspect == "legal_basis":  # the caller asked: numbers are read, spelled
        if facts.legal_basis:
            say(sentence(f"{name} căn cứ vào {number_words(len(facts.legal_basis))} văn bản"))
            out.items = [sentence(f"{short_name(lb.title)}, {legal_number_words(lb.number)}") for lb in facts.legal_basis]
        else:
            say(sentence(f"Danh mục chưa ghi căn cứ pháp lý của {about}"))
    else:  # overview
        say(sentence(f"{name} do {short_name(facts.agency)} giải quyết"))
        if facts.channels:
            ch = facts.channels[0]
            fees = ", cộng ".join(dict.fromkeys(fee_words(f) for f in ch.fees)) or "chưa có thông tin"
            fee_part = "không mất lệ phí" if fees == "miễn phí" else f"lệ phí {fees}"
            say(sentence(f"Thời hạn {duration_words(ch)}, {fee_part}"))
    return out


def plain(text: str) -> list[str]:
    """A short conversational message (greeting, "dạ vâng…") cleaned for speech, one sentence per line/stop."""
    out: list[str] = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-•+]|\d{1,2}[.)])\s+", "", line)
        for piece in re.split(r"(?<=[.!?])\s+", clean(line)):
            piece = sentence(piece)
            if len(piece.split()) >= 1 and piece not in out:
                out.append(piece)
    return out


def compose(text: str, buttons: Sequence[dict[str, str]], custom: Payload, *, hotline: str = "") -> Spoken:
    """One bot message, spoken: from its facts and kind; its text only for plain conversation."""
    kind = custom.kind
    if kind == "answer" and custom.facts is not None:
        out = answer(custom.facts, custom.aspect)
        if custom.detail:  # the nearest facts, not an answer to the detail: the caller must hear that first
            out.sentences.insert(0, DETAIL_LEAD)
        return out
    if kind == "answer_all" and custom.facts is not None:
        return answer(custom.facts, custom.aspect, shared_by=max(2, len(custom.candidates)))
    if kind == "choice":
        names = [short_name(c.name, max_words=24) for c in custom.candidates]
        if buttons:
            names = names[: len(buttons)]
        what = ASPECT_WORDS.get(custom.aspect or "", "thông tin")
        out = Spoken(sentences=[f"Anh chị muốn hỏi về {what} của thủ tục nào?"], aspect=custom.aspect)
        out.sentences += [sentence(f"Số {number_words(i)}, {n}") for i, n in enumerate(names, 1)]
        out.sentences.append("Anh chị bấm phím hoặc nói số thứ tự.")
        out.choices = [str(b.get("payload", "")) for b in buttons] or [f"số {i}" for i in range(1, len(names) + 1)]
        return out
    if kind == "invalid_choice":
        n = len(custom.candidates)
        if n:
            return Spoken(sentences=[f"Anh chị vui lòng chọn một số từ một đến {number_words(n)}."])
        return Spoken(sentences=plain(text) or ["Anh chị vui lòng nói số thứ tự của thủ tục."])
    if kind == "fallback":
        sentences = ["Xin lỗi, tôi chưa có thông tin chính xác cho câu hỏi này nên không dám trả lời đoán."]
        return Spoken(sentences=sentences + _hotline(custom, hotline))
    if kind == "hotline":  # the number was asked for: say it; a transfer is only for "gặp tổng đài viên"
        return Spoken(sentences=(_hotline(custom, hotline) or plain(text)) + [STILL_HERE])
    if kind == "rephrase":
        return Spoken(sentences=[REPHRASE])
    if kind == "handoff":
        return Spoken(handoff=True)
    return Spoken(sentences=plain(text))


def _hotline(custom: Payload, default: str) -> list[str]:
    """The hotline sentence, its number read digit by digit, with its opening hours when known."""
    number = custom.hotline or default
    if not number:
        return []
    hours = f", {clean(custom.hotline_hours)}" if custom.hotline_hours else ""
    return [sentence(f"Anh chị có thể gọi đường dây nóng {phone_words(number)}{hours}")]


def sms_text(facts: Facts, aspect: str | None, limit: int = 600) -> str:
    """The written details for the caller's phone: name, code, the facts asked about, the link."""
    lines = [f"{facts.name} (mã {facts.code})"]
    if aspect in ("documents", None, "overview") and facts.documents:
        lines.append("Hồ sơ: " + "; ".join(d.name + (f" (mẫu {d.template})" if d.template else "") for d in facts.documents))
    if aspect in ("fee", "overview") and facts.channels:
        lines.append("Lệ phí: " + "; ".join(f"{CHANNEL_WORDS.get(c.channel, '')}: "
                                             + ", ".join(_fee_text(f) for f in c.fees) for c in facts.channels))
    if aspect in ("duration", "overview") and facts.channels:
        lines.append("Thời hạn: " + "; ".join(f"{CHANNEL_WORDS.get(c.channel, '')}: {_duration_text(c)}" for c in facts.channels))
    if aspect == "where":
        lines.append(f"Nơi nộp: {facts.where_to_submit or facts.agency}")
    link = f"Chi tiết: {facts.source_url}"
    body = "\n".join(lines)
    room = limit - len(link) - 1
    if len(body) > room:
        body = body[: room - 1] + "…"
    return body + "\n" + link


def _fee_text(fee: FeeFact) -> str:
    def money(x: float | None) -> str:
        return f"{x:g} USD" if fee.currency == "USD" else f"{int(x or 0):,}".replace(",", ".") + " đ"

    if fee.kind == "free":
        return "miễn phí"
    if fee.kind == "fixed":
        return money(fee.amount)
    if fee.kind == "range":
        return f"{money(fee.min_amount)}–{money(fee.max_amount)}"
    if fee.kind == "provincial":
        return "do HĐND tỉnh quyết định"
    return "chưa rõ"


def _duration_text(ch: ChannelFact) -> str:
    d = ch.duration
    if d is None:
        return "chưa rõ"
    if d.unit == "trong_ngay":
        return "trong ngày"
    span = f"{d.value:g}" + (f"–{d.max_value:g}" if d.max_value is not None else "")
    return f"{span} {UNIT_WORDS.get(d.unit, '')}"


def first_turn(said: Spoken, per_turn: int = 3, sms_ok: bool = False) -> tuple[list[str], int, str]:
    """What the phone says right after a reply: (sentences, items read, next mode).

    One definition for the gateway (``CallSession``) and the admin preview (``python -m voice
    say``), so the preview prints exactly what a caller hears.  Modes: ``more_docs`` (a yes/no
    question about the next items), ``choose`` (keys 1..N), ``sms`` (the SMS offer is open)
    or ``free``.
    """
    sentences = list(said.sentences)
    items = said.items[:per_turn]
    sentences += items
    if len(said.items) > per_turn:
        return sentences + [ASK_MORE], len(items), "more_docs"
    if said.choices:
        return sentences, len(items), "choose"
    if not said.offer:
        return sentences, len(items), "free"
    sentences.append(offer(said.aspect))
    if sms_ok and said.facts is not None:
        return sentences + [SMS_OFFER], len(items), "sms"
    return sentences, len(items), "free"
