"""Response models of the protocol endpoints."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SourceOut(BaseModel):
    key: str
    title: str
    url: str


class OptionOut(BaseModel):
    value: str
    label: str


class RangeOut(BaseModel):
    min: int | None
    max: int | None
    next: str


class StepOut(BaseModel):
    id: str
    number: int = Field(description="position in the protocol file, from 1")
    kind: str = Field(description="yes_no | choice | number | text | instruction | outcome")
    text: str
    help: str
    options: list[OptionOut]
    next: dict[str, str] = Field(description="answer → next step id ('*' for any answer)")
    ranges: list[RangeOut]
    unknown: str | None = Field(default=None, description="number question: the step after 'Weet ik niet'")
    unit: str | None = Field(default=None, description="number question: days | weeks | years, or none")
    acute_answers: list[str]
    referrals: list[str] = Field(description="organisation ids")
    actions: list[str]
    key_positions: list[str]
    verify: bool = Field(description="content to be verified before it is relied on ('verifiëren')")
    outcome: str | None
    source: SourceOut


class OrganisationOut(BaseModel):
    id: str
    name: str
    phone: str | None
    phone_note: str | None = Field(description="when the number is answered, e.g. '24/7'")
    website: str | None
    verify: bool = Field(description="number or details to be verified before relied on ('verifiëren')")


class ProtocolSummary(BaseModel):
    id: str
    version: str
    title: str
    summary: str
    start: str
    step_count: int


class ProtocolDetail(ProtocolSummary):
    intent: str
    required_referrals: list[str]
    steps: list[StepOut]
    sources: list[SourceOut]
    organisations: list[OrganisationOut]
