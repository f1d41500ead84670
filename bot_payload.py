"""The one definition of the structured payload every bot message carries (``custom``).

Why one module, stdlib only: the action server writes this payload (pydantic 2
venv), the Rasa REST/socket.io/Zalo channels pass it on (pydantic 1 venv) and the
phone gateway speaks from it.  Writing it three times let the shapes drift, so the
gateway's tests used replies the bot never sent.  Plain dataclasses and a
``validate`` function import in both environments.

The facts are data, not chat text: a channel renders them in its own style (the
chat answer lists documents with form codes; the phone reads three at a time, money
in words).  Every key is always present in a message's ``custom``; ``None``/``[]``
where it does not apply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: What kind of message this is; the phone gateway chooses its wording from it.
KINDS = (
    "answer",  # facts about one procedure (``facts``, ``aspect``)
    "answer_all",  # the same facts hold for every candidate; the choice stays open
    "choice",  # which procedure? (``candidates``, buttons "số N")
    "invalid_choice",  # a number outside the offered options
    "fallback",  # honest "I don't know" with the hotline
    "rephrase",  # noise or another language
    "handoff",  # the citizen asked for a person (``handoff``: a desk took it)
    "hotline",  # the citizen asked for the hotline's number: ``hotline``, ``hotline_hours``; nobody is called
    "prompt",  # a short question back to the citizen (no facts)
)
ASPECTS = ("overview", "documents", "fee", "duration", "where", "steps", "online", "legal_basis")
CHANNELS = ("truc_tiep", "truc_tuyen", "buu_chinh")
FEE_KINDS = ("free", "fixed", "range", "provincial", "unknown")
CURRENCIES = ("VND", "USD")
DURATION_UNITS = ("ngay_lam_viec", "ngay", "gio", "trong_ngay", "thang")


class PayloadError(ValueError):
    """A ``custom`` payload that does not match this model (names the field)."""


def _check(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise PayloadError(f"{where}: {what}")


def _opt(value: Any, types: type | tuple[type, ...], where: str) -> None:
    """``value`` is null or of ``types`` (a bool is not a number here)."""
    types = types if isinstance(types, tuple) else (types,)
    ok = value is None or (isinstance(value, types) and (bool in types or not isinstance(value, bool)))
    _check(ok, where, f"expected {'/'.join(t.__name__ for t in types)} or null, got {value!r}")


def _keys(data: Any, cls: type, where: str) -> dict[str, Any]:
    _check(isinstance(data, dict), where, f"expected an object, got {type(data).__name__}")
    allowed = {f.name for f in fields(cls)}
    unknown = set(data) - allowed
    _check(not unknown, where, f"unknown keys {sorted(unknown)}")
    return data


@dataclass
class DocumentFact:
    """One document to bring: its name, how many copies of which kind, its form code."""

    name: str
    copies: int | None = None
    copy_type: str | None = None  # "bản chính", "bản sao có chứng thực"…
    template: str | None = None  # form code: "CT01", "TK1-TS"
    note: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "document") -> DocumentFact:
        d = _keys(data, cls, where)
        _check(isinstance(d.get("name"), str) and d["name"].strip() != "", f"{where}.name", "a non-empty string")
        _opt(d.get("copies"), int, f"{where}.copies")
        for key in ("copy_type", "template", "note"):
            _opt(d.get(key), str, f"{where}.{key}")
        return cls(**d)


@dataclass
class FeeFact:
    """A fee: free, a fixed amount, a range, or set by the provincial council (HĐND)."""

    kind: str
    amount: float | None = None
    min_amount: float | None = None
    max_amount: float | None = None
    currency: str = "VND"
    note: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "fee") -> FeeFact:
        d = _keys(data, cls, where)
        _check(d.get("kind") in FEE_KINDS, f"{where}.kind", f"one of {FEE_KINDS}")
        _check(d.get("currency", "VND") in CURRENCIES, f"{where}.currency", f"one of {CURRENCIES}")
        for key in ("amount", "min_amount", "max_amount"):
            _opt(d.get(key), (int, float), f"{where}.{key}")
        _opt(d.get("note"), str, f"{where}.note")
        _check(d["kind"] != "fixed" or d.get("amount") is not None, f"{where}.amount", "a fixed fee needs an amount")
        _check(d["kind"] != "range" or (d.get("min_amount") is not None and d.get("max_amount") is not None),
               f"{where}.min_amount", "a range needs min_amount and max_amount")
        return cls(**d)


@dataclass
class DurationFact:
    """Processing time with its unit; ``max_value`` for "10 đến 15 ngày"."""

    unit: str
    value: float | None = None
    max_value: float | None = None
    note: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "duration") -> DurationFact:
        d = _keys(data, cls, where)
        _check(d.get("unit") in DURATION_UNITS, f"{where}.unit", f"one of {DURATION_UNITS}")
        _opt(d.get("value"), (int, float), f"{where}.value")
        _opt(d.get("max_value"), (int, float), f"{where}.max_value")
        _opt(d.get("note"), str, f"{where}.note")
        _check(d["unit"] == "trong_ngay" or d.get("value") is not None, f"{where}.value", "needed unless trong_ngay")
        return cls(**d)


@dataclass
class ChannelFact:
    """One way to submit (in person, online, by post), with its time and fees."""

    channel: str
    duration: DurationFact | None = None
    fees: list[FeeFact] = field(default_factory=list)
    note: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "channel") -> ChannelFact:
        d = _keys(data, cls, where)
        _check(d.get("channel") in CHANNELS, f"{where}.channel", f"one of {CHANNELS}")
        _check(isinstance(d.get("fees", []), list), f"{where}.fees", "a list")
        _opt(d.get("note"), str, f"{where}.note")
        return cls(
            channel=d["channel"],
            duration=DurationFact.from_dict(d["duration"], f"{where}.duration") if d.get("duration") is not None else None,
            fees=[FeeFact.from_dict(f, f"{where}.fees[{i}]") for i, f in enumerate(d.get("fees", []))],
            note=d.get("note"),
        )


@dataclass
class LegalFact:
    """A legal basis: its number ("25/2021/TT-BTC") and title."""

    number: str
    title: str

    @classmethod
    def from_dict(cls, data: Any, where: str = "legal_basis") -> LegalFact:
        d = _keys(data, cls, where)
        _check(isinstance(d.get("number"), str) and isinstance(d.get("title"), str), where, "number and title strings")
        return cls(**d)


@dataclass
class Facts:
    """Everything the catalogue says about one procedure, as data."""

    code: str
    name: str
    agency: str
    source_url: str
    online: bool
    where_to_submit: str | None = None
    documents: list[DocumentFact] = field(default_factory=list)
    channels: list[ChannelFact] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    legal_basis: list[LegalFact] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, where: str = "facts") -> Facts:
        d = _keys(data, cls, where)
        for key in ("code", "name", "agency", "source_url"):
            _check(isinstance(d.get(key), str), f"{where}.{key}", "a string")
        _check(isinstance(d.get("online"), bool), f"{where}.online", "a boolean")
        _opt(d.get("where_to_submit"), str, f"{where}.where_to_submit")
        for key in ("documents", "channels", "steps", "legal_basis"):
            _check(isinstance(d.get(key, []), list), f"{where}.{key}", "a list")
        _check(all(isinstance(s, str) for s in d.get("steps", [])), f"{where}.steps", "strings")
        return cls(
            code=d["code"], name=d["name"], agency=d["agency"], source_url=d["source_url"], online=d["online"],
            where_to_submit=d.get("where_to_submit"),
            documents=[DocumentFact.from_dict(x, f"{where}.documents[{i}]") for i, x in enumerate(d.get("documents", []))],
            channels=[ChannelFact.from_dict(x, f"{where}.channels[{i}]") for i, x in enumerate(d.get("channels", []))],
            steps=list(d.get("steps", [])),
            legal_basis=[LegalFact.from_dict(x, f"{where}.legal_basis[{i}]") for i, x in enumerate(d.get("legal_basis", []))],
        )


@dataclass
class Candidate:
    """A procedure offered in a choice (or considered by the search)."""

    code: str
    name: str
    score: float | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "candidate") -> Candidate:
        d = _keys(data, cls, where)
        _check(isinstance(d.get("code"), str) and isinstance(d.get("name"), str), where, "code and name strings")
        _opt(d.get("score"), (int, float), f"{where}.score")
        return cls(**d)


@dataclass
class Payload:
    """A bot message's ``custom`` payload."""

    procedure_code: str | None = None
    procedure_name: str | None = None
    aspect: str | None = None
    confidence: float | None = None
    candidates: list[Candidate] = field(default_factory=list)
    source_url: str | None = None
    kind: str | None = None  # one of KINDS; None for a plain message (greeting, thanks)
    facts: Facts | None = None
    hotline: str | None = None
    hotline_hours: str | None = None
    handoff: bool | None = None  # kind "handoff": True when a live desk took the conversation
    rephrase: bool | None = None
    detail: bool | None = None  # kind "answer": no fact of its own for the detail asked; ``facts`` are the nearest

    @classmethod
    def from_dict(cls, data: Any, where: str = "custom") -> Payload:
        """Validate a ``custom`` object (all keys optional on input) into a Payload."""
        d = _keys(data, cls, where)
        for key in ("procedure_code", "procedure_name", "source_url", "hotline", "hotline_hours"):
            _opt(d.get(key), str, f"{where}.{key}")
        _check(d.get("aspect") is None or d["aspect"] in ASPECTS, f"{where}.aspect", f"null or one of {ASPECTS}")
        _check(d.get("kind") is None or d["kind"] in KINDS, f"{where}.kind", f"null or one of {KINDS}")
        _opt(d.get("confidence"), (int, float), f"{where}.confidence")
        for key in ("handoff", "rephrase", "detail"):
            _check(d.get(key) is None or isinstance(d[key], bool), f"{where}.{key}", "null or a boolean")
        _check(isinstance(d.get("candidates") or [], list), f"{where}.candidates", "a list")
        return cls(
            procedure_code=d.get("procedure_code"), procedure_name=d.get("procedure_name"), aspect=d.get("aspect"),
            confidence=d.get("confidence"),
            candidates=[Candidate.from_dict(c, f"{where}.candidates[{i}]") for i, c in enumerate(d.get("candidates") or [])],
            source_url=d.get("source_url"), kind=d.get("kind"),
            facts=Facts.from_dict(d["facts"], f"{where}.facts") if d.get("facts") is not None else None,
            hotline=d.get("hotline"), hotline_hours=d.get("hotline_hours"), handoff=d.get("handoff"),
            rephrase=d.get("rephrase"), detail=d.get("detail"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, every key present."""
        return asdict(self)


def validate(custom: Any) -> dict[str, Any]:
    """The full ``custom`` dict for a message (every key present), or PayloadError naming the bad field."""
    return Payload.from_dict(custom or {}).to_dict()


def empty() -> dict[str, Any]:
    """The payload of a message that carries no facts."""
    return Payload().to_dict()


def facts_of(proc: Any) -> Facts:
    """Facts from a ``knowledge_base.schema.Procedure`` (duck-typed: this module imports no pydantic)."""

    def val(x: Any) -> Any:
        return getattr(x, "value", x)

    return Facts(
        code=proc.code, name=proc.name, agency=proc.agency, source_url=proc.source_url, online=bool(proc.online),
        where_to_submit=proc.where_to_submit,
        documents=[DocumentFact(d.name, d.copies, d.copy_type, d.template, d.note) for d in proc.documents],
        channels=[
            ChannelFact(
                channel=val(ch.channel),
                duration=DurationFact(val(ch.duration.unit), ch.duration.value, ch.duration.max_value, ch.duration.note)
                if ch.duration is not None else None,
                fees=[FeeFact(val(f.kind), f.amount, f.min_amount, f.max_amount, val(f.currency), f.note) for f in ch.fees],
                note=ch.note,
            )
            for ch in proc.channels
        ],
        steps=list(proc.steps),
        legal_basis=[LegalFact(lb.number, lb.title) for lb in proc.legal_basis],
    )


__all__ = [
    "ASPECTS", "KINDS", "Candidate", "ChannelFact", "DocumentFact", "DurationFact", "Facts", "FeeFact", "LegalFact",
    "Payload", "PayloadError", "empty", "facts_of", "validate",
]
