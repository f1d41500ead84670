"""Turn structured procedure fields into short Vietnamese chat answers.

Answers are built only from the catalogue's fields, never generated, so a
fee or a document list is exactly what the catalogue says; every answer
ends with its source (procedure code and portal link).
"""

from __future__ import annotations

from knowledge_base.schema import (
    UNIT_NAMES,
    Channel,
    Currency,
    Document,
    Duration,
    DurationUnit,
    Fee,
    FeeKind,
    Procedure,
    SubmissionChannel,
)

ASPECTS = ("overview", "documents", "fee", "duration", "where", "steps", "online", "legal_basis")

INTENT_ASPECT = {
    "ask_procedure": "overview",
    "ask_documents": "documents",
    "ask_fee": "fee",
    "ask_duration": "duration",
    "ask_where": "where",
    "ask_steps": "steps",
    "ask_online": "online",
    "ask_legal_basis": "legal_basis",
}

CHANNEL_NAMES = {
    Channel.TRUC_TIEP: "Nộp trực tiếp",
    Channel.TRUC_TUYEN: "Nộp trực tuyến",
    Channel.BUU_CHINH: "Nộp qua bưu chính",
}



def money(amount: float, currency: Currency = Currency.VND) -> str:
    """200000 → "200.000 đồng"; 25 USD → "25 USD"."""
    if currency == Currency.USD:
        return f"{amount:g} USD"
    return f"{int(round(amount)):,}".replace(",", ".") + " đồng"


def number(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def format_fee(fee: Fee) -> str:
    note = f" ({fee.note})" if fee.note else ""
    if fee.kind == FeeKind.FREE:
        return "Miễn phí" + note
    if fee.kind == FeeKind.FIXED:
        return money(fee.amount or 0, fee.currency) + note
    if fee.kind == FeeKind.RANGE:
        return f"Từ {money(fee.min_amount or 0, fee.currency)} đến {money(fee.max_amount or 0, fee.currency)}" + note
    if fee.kind == FeeKind.PROVINCIAL:
        if fee.min_amount is not None and fee.max_amount is not None:
            typical = f"; thường từ {money(fee.min_amount, fee.currency)} đến {money(fee.max_amount, fee.currency)}"
        else:
            typical = ""
        return f"Do HĐND cấp tỉnh quyết định{typical}" + (f" ({fee.note})" if fee.note and "HĐND" not in fee.note else "")
    return "Chưa có thông tin chính xác về lệ phí" + note


def format_duration(duration: Duration | None) -> str:
    if duration is None:
        return "chưa có thông tin"
    if duration.unit == DurationUnit.TRONG_NGAY:
        text = "trong ngày"
    elif duration.max_value is not None:
        text = f"từ {number(duration.value or 0)} đến {number(duration.max_value)} {UNIT_NAMES[duration.unit]}"
    else:
        text = f"{number(duration.value or 0)} {UNIT_NAMES[duration.unit]}"
    return text + (f" ({duration.note})" if duration.note else "")


def format_document(doc: Document) -> str:
    extras = []
    if doc.copies:
        extras.append(f"{doc.copies} {doc.copy_type or 'bản'}")
    elif doc.copy_type:
        extras.append(doc.copy_type)
    if doc.template:
        extras.append(f"mẫu {doc.template}")
    text = doc.name + (f" ({', '.join(extras)})" if extras else "")
    return text + (f" — {doc.note}" if doc.note else "")


def source_line(proc: Procedure) -> str:
    return f"Nguồn: thủ tục {proc.code} — {proc.source_url}"


def _channel_lines(channels: list[SubmissionChannel], what: str) -> list[str]:
    lines = []
    for ch in channels:
        if what == "fee":
            fees = "; ".join(format_fee(f) for f in ch.fees) or "chưa có thông tin"
            lines.append(f"- {CHANNEL_NAMES[ch.channel]}: {fees}")
        else:
            lines.append(f"- {CHANNEL_NAMES[ch.channel]}: {format_duration(ch.duration)}")
    return lines


def answer(proc: Procedure, aspect: str) -> str:
    """The chat answer for one aspect of a procedure, with its source."""
    title = f"«{proc.name}»"
    if aspect == "documents":
        if proc.documents:
            body = [f"Hồ sơ {title} gồm:"] + [f"{i}. {format_document(d)}" for i, d in enumerate(proc.documents, 1)]
        else:
            body = [f"Danh mục chưa ghi thành phần hồ sơ của {title}. Anh/Chị vui lòng hỏi trực tiếp nơi tiếp nhận."]
    elif aspect == "fee":
        lines = _channel_lines(proc.channels, "fee")
        body = [f"Lệ phí {title}:"] + lines if lines else [f"Danh mục chưa ghi lệ phí của {title}."]
    elif aspect == "duration":
        lines = _channel_lines(proc.channels, "duration")
        body = [f"Thời hạn giải quyết {title}:"] + lines if lines else [f"Danh mục chưa ghi thời hạn của {title}."]
    elif aspect == "where":
        body = [f"Cơ quan giải quyết {title}: {proc.agency}."]
        if proc.where_to_submit:
            body.append(f"Nơi nộp hồ sơ: {proc.where_to_submit}.")
    elif aspect == "steps":
        body = [f"Các bước thực hiện {title}:"] + [f"{i}. {s}" for i, s in enumerate(proc.steps, 1)] if proc.steps else [
            f"Danh mục chưa ghi trình tự của {title}."
        ]
    elif aspect == "online":
        if proc.online:
            body = [f"Có. {title} nộp trực tuyến được trên Cổng Dịch vụ công quốc gia (dichvucong.gov.vn)."]
        else:
            body = [f"Theo danh mục, {title} chưa nộp trực tuyến được; Anh/Chị nộp trực tiếp hoặc qua bưu chính nếu có."]
    elif aspect == "legal_basis":
        body = [f"Căn cứ pháp lý của {title}:"] + [f"- {lb.title} ({lb.number})" for lb in proc.legal_basis] if proc.legal_basis else [
            f"Danh mục chưa ghi căn cứ pháp lý của {title}."
        ]
    else:  # overview
        body = [f"Thủ tục {title} ({proc.field}) do {proc.agency} giải quyết."]
        if proc.documents:
            body.append(f"Hồ sơ gồm {len(proc.documents)} loại giấy tờ, chủ yếu: " + "; ".join(d.name for d in proc.documents[:3])
                        + ("…" if len(proc.documents) > 3 else "."))
        if proc.channels:
            ch = proc.channels[0]
            body.append(f"Thời hạn: {format_duration(ch.duration)}. Lệ phí: " + ("; ".join(format_fee(f) for f in ch.fees) or "chưa có thông tin") + ".")
        body.append("Anh/Chị muốn hỏi thêm về hồ sơ, lệ phí, thời gian hay nơi nộp?")
    return "\n".join(body + [source_line(proc)])


def facts_key(proc: Procedure, aspect: str) -> tuple:
    """The facts an answer about ``aspect`` states, comparable across procedures."""
    if aspect == "fee":
        return tuple((ch.channel, tuple(format_fee(f) for f in ch.fees)) for ch in proc.channels)
    if aspect == "duration":
        return tuple((ch.channel, format_duration(ch.duration)) for ch in proc.channels)
    if aspect == "online":
        return (proc.online,)
    if aspect == "where":
        return (proc.agency, proc.where_to_submit)
    if aspect == "documents":
        return tuple(format_document(d) for d in proc.documents)
    if aspect == "steps":
        return tuple(proc.steps)
    if aspect == "legal_basis":
        return tuple(lb.number for lb in proc.legal_basis)
    return (proc.code,)  # an overview is never shared


def answer_for_all(procs: list[Procedure], aspect: str) -> str:
    """One answer for several procedures whose facts about ``aspect`` are the same."""
    body = answer(procs[0], aspect).split("\n")[:-1]  # without the first procedure's source line
    names = "; ".join(f"«{p.name}»" for p in procs)
    lines = [f"Các thủ tục {names} có cùng thông tin này:"]
    lines += [line.replace(f"«{procs[0].name}»", "các thủ tục trên") for line in body]
    lines += [source_line(p) for p in procs]
    return "\n".join(lines)
