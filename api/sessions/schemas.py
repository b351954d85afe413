"""Session payloads: the event the action server logs, the list item, the detail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer

from api.incidents.schemas import IncidentOut
from api.models_base import as_utc
from api.reviews.schemas import ReviewEventOut

EventType = Literal[
    "started",
    "question_asked",
    "answer_given",
    "advice_shown",
    "lookup_answered",
    "step_back",
    "restarted",
    "outcome",
    "stopped",
    "incident_recorded",
    "error",
]
#: Derived from the events: gestopt (a stop event), afgerond (an outcome), onderbroken
#: (neither, and no event for longer than the assistant keeps a conversation's session:
#: the counsellor left the run and nothing was recorded), lopend.
SessionState = Literal["lopend", "onderbroken", "afgerond", "gestopt"]


def _limited(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


S32 = Annotated[str, _limited(32)]
S64 = Annotated[str, _limited(64)]
S128 = Annotated[str, _limited(128)]
S200 = Annotated[str, _limited(200)]
S1000 = Annotated[str, _limited(1000)]
S4000 = Annotated[str, _limited(4000)]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: EventType
    step: S128 | None = None
    # The question, advice or outcome text as shown to the counsellor.
    text: S4000 | None = None
    # "ja"/"nee", a choice value, a number or free text.
    answer: bool | int | float | S1000 | None = None
    outcome: S128 | None = None
    incident_reference: S32 | None = None


class SessionEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: S200
    conversation_id: S200
    # The protocol run within the conversation (the marker of its ``started``
    # event): a second protocol in the same conversation is its own session.
    # Omitted: the conversation's single default run.
    run_id: S200 | None = None
    location: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=32)]
    protocol: S64
    protocol_version: S32
    staff_id: S128 | None = None
    channel: S32 | None = None
    event: EventIn


#: At most this many events in one ``POST /sessions/events/batch``.
BATCH_MAX_EVENTS = 100


class SessionEventBatchCreate(BaseModel):
    """Several events, processed in this order in one transaction."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[SessionEventCreate], Field(min_length=1, max_length=BATCH_MAX_EVENTS)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_serializer("*", when_used="json")
    def _serialise(self, value: object) -> object:
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, datetime):
            return as_utc(value).isoformat()
        return value


class SessionEventOut(_Out):
    session_id: uuid.UUID
    seq: int
    type: str
    step: str | None
    text: str | None
    answer: str | None
    outcome: str | None
    incident_reference: str | None
    incident_id: uuid.UUID | None
    created_at: datetime


class SessionEventBatchOut(BaseModel):
    events: list[SessionEventOut] = Field(description="the stored events, in the order sent")
    created: int = Field(description="how many of them are new (the others: idempotency_key seen before)")


class SessionItem(_Out):
    id: uuid.UUID
    conversation_id: str
    location: str
    protocol: str
    protocol_version: str
    staff_id: str | None
    channel: str | None
    run_id: str = Field(description="the protocol run within the conversation")
    started_at: datetime
    ended_at: datetime | None = Field(description="time of the stop/outcome event; null while lopend or onderbroken")
    last_event_at: datetime | None
    state: SessionState
    last_outcome: str | None
    event_count: int
    incident_reference: str | None = Field(description="the conversation's latest incident")
    review_status: str | None = Field(description="that incident's review status; null without incident")
    overdue: bool = Field(description="an incident of the session is past its review deadline")


class SessionList(BaseModel):
    items: list[SessionItem]
    total: int


class SessionIncident(BaseModel):
    incident: IncidentOut
    review_history: list[ReviewEventOut]


class SessionDetail(SessionItem):
    events: list[SessionEventOut]
    incidents: list[SessionIncident]
