"""Incident payloads. Shapes are fixed by docs/INTERFACES.md and DESIGN.md."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer

from api.directory.schemas import HolderOut
from api.follow_ups.schemas import FollowUpItem
from api.models_base import as_utc

# The review workflow's states (api/reviews/transitions.py holds the transition table).
ReviewStatus = Literal["nieuw", "in_behandeling", "correctie_gevraagd", "gecorrigeerd", "afgehandeld"]
INITIAL_REVIEW_STATUS: ReviewStatus = "nieuw"

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# An answer is "ja"/"nee", a choice value, a number or free text; None for a text
# step that was skipped.
Answer = bool | int | float | str | None


class StepAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    answer: Answer = None


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    conversation_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    location: Annotated[
        str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=32)
    ]
    protocol: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    protocol_version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    acute: bool
    referrals: list[NonEmpty] = Field(default_factory=list, max_length=50)
    steps: list[StepAnswer] = Field(default_factory=list, max_length=500)
    outcome: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None = (
        None
    )
    staff_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None
    ) = None
    channel: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None = (
        None
    )


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    conversation_id: str
    location: str
    protocol: str
    protocol_version: str
    acute: bool
    referrals: list[str]
    steps: list[StepAnswer]
    outcome: str | None
    staff_id: str | None
    channel: str | None
    created_at: datetime
    review_status: ReviewStatus | str = INITIAL_REVIEW_STATUS
    # Ids of the minimum norms (knowledge/norms.yml) this incident deviates from.
    deviations: list[str] = Field(default_factory=list)
    # The actions the decision asks for, each with its deadline and latest status (contract).
    follow_ups: list[FollowUpItem] = Field(default_factory=list)

    @field_serializer("id")
    def _id_as_str(self, value: uuid.UUID) -> str:
        return str(value)

    @field_serializer("created_at")
    def _created_at_utc(self, value: datetime) -> str:
        return as_utc(value).isoformat()


class IncidentDetail(IncidentOut):
    key_position_holders: list[HolderOut] = Field(
        default_factory=list,
        description="who was to be contacted per key position on the incident's day, as the directory "
        "knew it when the incident was recorded (later changes do not show here)",
    )


class IncidentList(BaseModel):
    items: list[IncidentOut]
    total: int
