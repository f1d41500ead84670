"""The typed procedure model every answer is built from.

A wrong fee or a missing document sends a citizen on a wasted trip, so the
model is strict: amounts are numbers with a currency, durations carry their
unit, and a fee the provincial council sets is recorded as exactly that
instead of a made-up single number.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Channel(StrEnum):
    """How the dossier is submitted."""

    TRUC_TIEP = "truc_tiep"  # in person
    TRUC_TUYEN = "truc_tuyen"  # online (Cổng dịch vụ công)
    BUU_CHINH = "buu_chinh"  # by post


class DurationUnit(StrEnum):
    NGAY_LAM_VIEC = "ngay_lam_viec"
    NGAY = "ngay"
    GIO = "gio"
    TRONG_NGAY = "trong_ngay"  # same day; value is not used
    THANG = "thang"


# How each unit and channel reads in Vietnamese: one place for the chat answers and the verify report.
UNIT_NAMES = {
    DurationUnit.NGAY_LAM_VIEC: "ngày làm việc",
    DurationUnit.NGAY: "ngày",
    DurationUnit.GIO: "giờ",
    DurationUnit.TRONG_NGAY: "trong ngày",
    DurationUnit.THANG: "tháng",
}


class FeeKind(StrEnum):
    FREE = "free"  # miễn phí / không thu
    FIXED = "fixed"  # one amount (per the note's unit, e.g. per page)
    RANGE = "range"  # min..max set by law
    PROVINCIAL = "provincial"  # HĐND tỉnh quyết định; min/max give the typical range
    UNKNOWN = "unknown"  # the source gives no usable figure


class Currency(StrEnum):
    VND = "VND"
    USD = "USD"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, use_enum_values=False)


class Duration(_Strict):
    """Processing time.  ``max_value`` is set for ranges such as "10 đến 15 ngày"."""

    value: float | None = None
    max_value: float | None = None
    unit: DurationUnit
    note: str | None = None

    @model_validator(mode="after")
    def _value_needed(self) -> Duration:
        if self.unit != DurationUnit.TRONG_NGAY and self.value is None:
            raise ValueError("duration needs a value unless unit is trong_ngay")
        if self.max_value is not None and self.value is not None and self.max_value < self.value:
            raise ValueError("max_value is smaller than value")
        return self


class Fee(_Strict):
    kind: FeeKind
    amount: float | None = None
    min_amount: float | None = None
    max_amount: float | None = None
    currency: Currency = Currency.VND
    note: str | None = None

    @model_validator(mode="after")
    def _amounts_match_kind(self) -> Fee:
        if self.kind == FeeKind.FIXED and self.amount is None:
            raise ValueError("a fixed fee needs an amount")
        if self.kind == FeeKind.RANGE and (self.min_amount is None or self.max_amount is None):
            raise ValueError("a fee range needs min_amount and max_amount")
        if self.kind == FeeKind.PROVINCIAL and not self.note:
            raise ValueError("a provincial fee needs a note naming who sets it")
        return self


class SubmissionChannel(_Strict):
    channel: Channel
    duration: Duration | None = None
    fees: list[Fee] = Field(default_factory=list)
    note: str | None = None


class Document(_Strict):
    name: str
    copies: int | None = None
    copy_type: str | None = None  # "bản chính", "bản sao", "bản sao có chứng thực"...
    template: str | None = None  # form code such as "CT01", "TK1-TS"
    note: str | None = None


class LegalBasis(_Strict):
    number: str  # "60/2014/QH13"
    title: str


class Procedure(_Strict):
    code: str = Field(pattern=r"^[0-9]\.[0-9]{6}$")
    name: str
    aliases: list[str] = Field(default_factory=list)
    field: str
    levels: list[str] = Field(default_factory=list)  # "Cấp xã", "Cấp tỉnh", "Cấp bộ"
    audience: list[str] = Field(default_factory=list)  # "Công dân Việt Nam", "Doanh nghiệp"...
    agency: str
    where_to_submit: str | None = None
    channels: list[SubmissionChannel] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)
    result: str | None = None
    legal_basis: list[LegalBasis] = Field(default_factory=list)
    source_url: str
    last_verified: dt.date | None = None
    curated: bool = False  # written by the project (True) or imported from the portal
    citizen_priority: float = Field(default=0.0, ge=0.0, le=1.0)

    @field_validator("name", "agency", "field")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()

    @property
    def online(self) -> bool:
        """True when the procedure can be submitted on the public-service portal."""
        return any(c.channel == Channel.TRUC_TUYEN for c in self.channels)


def portal_url(code: str) -> str:
    """Link to a procedure's page on the national public-service portal."""
    return f"https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc={code}"
