"""The procedure edit form: a Procedure to plain form values and back, with Vietnamese error messages.

Why plain text areas with one item per line (documents as "tên | số bản |
loại bản | mẫu | ghi chú") and a fixed row per submission channel: the staff
edit these lists often, the form works without JavaScript, and every value
goes through the same pydantic model the bot answers from, so a form can
never store what the bot could not read.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from knowledge_base.publish import CHANNEL_LABELS, FIELD_LABELS
from knowledge_base.schema import UNIT_NAMES, Channel, Currency, DurationUnit, FeeKind, Procedure

FEE_KIND_NAMES = {
    "": "— không có —",
    FeeKind.FIXED.value: "Số tiền cố định",
    FeeKind.RANGE.value: "Khoảng (tối thiểu – tối đa)",
    FeeKind.FREE.value: "Miễn phí",
    FeeKind.PROVINCIAL.value: "HĐND tỉnh quyết định",
    FeeKind.UNKNOWN.value: "Chưa rõ",
}
UNIT_CHOICES = {"": "— không có —", **{u.value: name for u, name in UNIT_NAMES.items()}}
CURRENCIES = [c.value for c in Currency]
LIST_FIELDS = ("aliases", "levels", "audience", "steps", "conditions")
TEXT_FIELDS = ("name", "field", "agency", "where_to_submit", "result", "source_url")
MAX_FIELD_CHARS = 20_000


class FormError(Exception):
    """The submitted form does not make a valid procedure; ``errors`` are (field label, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))
        self.errors = errors


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{int(value):,}".replace(",", ".") if float(value).is_integer() else f"{value:g}".replace(".", ",")


def values_from(proc: Procedure) -> dict[str, Any]:
    """Form values of a procedure (what the edit page shows)."""
    v: dict[str, Any] = {k: getattr(proc, k) or "" for k in TEXT_FIELDS}
    for k in LIST_FIELDS:
        v[k] = "\n".join(getattr(proc, k))
    v["documents"] = "\n".join(
        " | ".join([d.name, str(d.copies or ""), d.copy_type or "", d.template or "", d.note or ""]).rstrip(" |")
        for d in proc.documents
    )
    v["legal_basis"] = "\n".join(f"{lb.number} | {lb.title}" for lb in proc.legal_basis)
    by = {c.channel: c for c in proc.channels}
    rows = []
    for ch in Channel:
        c = by.get(ch)
        d = c.duration if c else None
        fees = [
            {"kind": f.kind.value, "amount": _num(f.amount), "min": _num(f.min_amount), "max": _num(f.max_amount),
             "currency": f.currency.value, "note": f.note or ""}
            for f in (c.fees if c else [])
        ]
        fees.append({"kind": "", "amount": "", "min": "", "max": "", "currency": "VND", "note": ""})
        rows.append({
            "code": ch.value, "label": CHANNEL_LABELS[ch], "on": c is not None, "note": (c.note or "") if c else "",
            "dur_value": _num(d.value) if d else "", "dur_max": _num(d.max_value) if d else "",
            "dur_unit": d.unit.value if d else "", "dur_note": (d.note or "") if d and d.note else "", "fees": fees,
        })
    v["channels"] = rows
    return v


def values_from_form(form: dict[str, str]) -> dict[str, Any]:
    """Form values from a submitted form (re-shown with the errors)."""
    v: dict[str, Any] = {k: form.get(k, "") for k in (*TEXT_FIELDS, *LIST_FIELDS, "documents", "legal_basis")}
    rows = []
    for ch in Channel:
        p = f"ch_{ch.value}_"
        fees = []
        i = 0
        while f"{p}fee{i}_kind" in form:
            fees.append({k: form.get(f"{p}fee{i}_{k}", "") for k in ("kind", "amount", "min", "max", "currency", "note")})
            i += 1
        if not fees or fees[-1]["kind"]:
            fees.append({"kind": "", "amount": "", "min": "", "max": "", "currency": "VND", "note": ""})
        rows.append({
            "code": ch.value, "label": CHANNEL_LABELS[ch], "on": form.get(p + "on") == "1", "note": form.get(p + "note", ""),
            "dur_value": form.get(p + "dur_value", ""), "dur_max": form.get(p + "dur_max", ""),
            "dur_unit": form.get(p + "dur_unit", ""), "dur_note": form.get(p + "dur_note", ""), "fees": fees,
        })
    v["channels"] = rows
    return v


def _parse_number(text: str, label: str, errors: list[tuple[str, str]]) -> float | None:
    """"200.000", "200000", "1,5" → number; Vietnamese writes "." between thousands and "," for decimals."""
    t = text.strip().replace(" ", "").replace("đồng", "").replace("đ", "")
    if not t:
        return None
    t = t.replace(".", "").replace(",", ".")
    try:
        value = float(t)
    except ValueError:
        errors.append((label, f"«{text[:40]}» không phải là số"))
        return None
    if value < 0:
        errors.append((label, "không được âm"))
        return None
    return value


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.replace("\r", "").split("\n") if line.strip()]


def procedure_from_form(form: dict[str, str], original: Procedure) -> Procedure:
    """Build the edited procedure; code, curated flag and priority come from the original, not the form."""
    errors: list[tuple[str, str]] = []
    for key, value in form.items():
        if len(value) > MAX_FIELD_CHARS:
            errors.append((FIELD_LABELS.get(key, key), f"quá dài (tối đa {MAX_FIELD_CHARS} ký tự)"))
    data: dict[str, Any] = original.model_dump(mode="json")
    for k in TEXT_FIELDS:
        data[k] = " ".join(form.get(k, "").split()) or None
    for k in ("name", "field", "agency", "source_url"):
        if not data[k]:
            errors.append((FIELD_LABELS[k], "không được để trống"))
            data[k] = data[k] or ""
    for k in LIST_FIELDS:
        data[k] = _lines(form.get(k, ""))
    docs = []
    for i, line in enumerate(_lines(form.get("documents", "")), 1):
        parts = [p.strip() for p in line.split("|")] + [""] * 5
        copies = None
        if parts[1]:
            if parts[1].isdigit():
                copies = int(parts[1])
            else:
                errors.append((FIELD_LABELS["documents"], f"dòng {i}: số bản «{parts[1][:20]}» phải là số nguyên"))
        docs.append({"name": parts[0], "copies": copies, "copy_type": parts[2] or None, "template": parts[3] or None,
                     "note": parts[4] or None})
        if not parts[0]:
            errors.append((FIELD_LABELS["documents"], f"dòng {i}: thiếu tên giấy tờ"))
    data["documents"] = docs
    legal = []
    for i, line in enumerate(_lines(form.get("legal_basis", "")), 1):
        number, _, title = line.partition("|")
        if not number.strip() or not title.strip():
            errors.append((FIELD_LABELS["legal_basis"], f"dòng {i}: cần dạng «số hiệu | tên văn bản»"))
        legal.append({"number": number.strip(), "title": title.strip()})
    data["legal_basis"] = legal
    channels = []
    for ch in Channel:
        p = f"ch_{ch.value}_"
        if form.get(p + "on") != "1":
            continue
        label = f"Hình thức {CHANNEL_LABELS[ch].lower()}"
        entry: dict[str, Any] = {"channel": ch.value, "note": form.get(p + "note", "").strip() or None, "fees": []}
        unit = form.get(p + "dur_unit", "")
        if unit:
            if unit not in {u.value for u in DurationUnit}:
                errors.append((label, "đơn vị thời hạn không hợp lệ"))
            else:
                value = _parse_number(form.get(p + "dur_value", ""), label + " (thời hạn)", errors)
                vmax = _parse_number(form.get(p + "dur_max", ""), label + " (thời hạn tối đa)", errors)
                if unit != DurationUnit.TRONG_NGAY.value and value is None:
                    errors.append((label, "thời hạn cần một con số (hoặc chọn «trong ngày»)"))
                entry["duration"] = {"value": value, "max_value": vmax, "unit": unit,
                                     "note": form.get(p + "dur_note", "").strip() or None}
        i = 0
        while f"{p}fee{i}_kind" in form:
            kind = form.get(f"{p}fee{i}_kind", "")
            if kind:
                flabel = f"{label} (lệ phí {i + 1})"
                if kind not in {k.value for k in FeeKind}:
                    errors.append((flabel, "loại lệ phí không hợp lệ"))
                currency = form.get(f"{p}fee{i}_currency", "VND") or "VND"
                if currency not in CURRENCIES:
                    errors.append((flabel, "đơn vị tiền không hợp lệ"))
                    currency = "VND"
                fee = {"kind": kind, "currency": currency, "note": form.get(f"{p}fee{i}_note", "").strip() or None,
                       "amount": _parse_number(form.get(f"{p}fee{i}_amount", ""), flabel, errors),
                       "min_amount": _parse_number(form.get(f"{p}fee{i}_min", ""), flabel + " tối thiểu", errors),
                       "max_amount": _parse_number(form.get(f"{p}fee{i}_max", ""), flabel + " tối đa", errors)}
                if kind == FeeKind.FIXED.value and fee["amount"] is None:
                    errors.append((flabel, "số tiền cố định cần một con số"))
                if kind == FeeKind.RANGE.value and (fee["min_amount"] is None or fee["max_amount"] is None):
                    errors.append((flabel, "khoảng lệ phí cần cả mức tối thiểu và tối đa"))
                if kind == FeeKind.PROVINCIAL.value and not fee["note"]:
                    errors.append((flabel, "«HĐND tỉnh quyết định» cần ghi chú nêu nghị quyết hoặc mức thu"))
                entry["fees"].append(fee)
            i += 1
        channels.append(entry)
    order = [c.channel.value for c in original.channels]  # keep the procedure's own channel order
    channels.sort(key=lambda c: order.index(c["channel"]) if c["channel"] in order else len(order))
    data["channels"] = channels
    if data["source_url"] and not str(data["source_url"]).startswith(("https://", "http://")):
        errors.append((FIELD_LABELS["source_url"], "phải là địa chỉ http:// hoặc https://"))
    if errors:
        raise FormError(errors)
    try:
        return Procedure.model_validate(data)
    except ValidationError as exc:
        raise FormError(
            [(FIELD_LABELS.get(str(e["loc"][0]), str(e["loc"][0])) if e.get("loc") else "Thủ tục", e.get("msg", "không hợp lệ"))
             for e in exc.errors()]
        ) from exc
