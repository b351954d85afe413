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
    title: str | None = Field(default=None, description="an outcome's short title (what the decision lists show)")
    hand_over: str | None = Field(default=None, description="protocol offered after the decision of a run "
                                  "that passes this step")
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


class GiveWayOut(BaseModel):
    protocol: str = Field(description="the protocol that leads when the opening report says one of `phrases`")
    title: str
    phrases: list[str] = Field(description="word stems, matched at the start of a word")
    text: str = Field(description="why, as the assistant says it")
    source: SourceOut


class ProtocolDetail(ProtocolSummary):
    intent: str
    required_referrals: list[str]
    steps: list[StepOut]
    sources: list[SourceOut]
    organisations: list[OrganisationOut]
    gives_way: list[GiveWayOut] = Field(default_factory=list, description="situations in the opening report "
                                        "that another protocol leads; this one is offered after its decision")
    danger_phrases: list[str] = Field(default_factory=list, description="word stems that mean danger now in "
                                      "this protocol's context (112 first), matched at the start of a word")
    acute_step: str | None = Field(default=None, description="the instruction step said as the 112 advice on "
                                   "danger now in a run of this protocol; none: the general 112 advice")
