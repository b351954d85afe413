"""Review payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer, model_validator

from api.models_base import as_utc

TargetStatus = Literal["in_behandeling", "correctie_gevraagd", "gecorrigeerd", "afgehandeld"]


class ReviewEventCreate(BaseModel):
    """A transition (``status``) with an optional note, or a note alone (``status``
    omitted): a note never changes the status and is stored as a new row too."""

    model_config = ConfigDict(extra="forbid")

    status: TargetStatus | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)] | None = None

    @model_validator(mode="after")
    def _something(self) -> ReviewEventCreate:
        if self.status is None and self.note is None:
            raise ValueError("give a status, a note or both")
        return self


class ReviewEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: uuid.UUID
    status: str
    actor: str
    note: str | None
    created_at: datetime

    @field_serializer("incident_id")
    def _id(self, value: uuid.UUID) -> str:
        return str(value)

    @field_serializer("created_at")
    def _at(self, value: datetime) -> str:
        return as_utc(value).isoformat()


class ReviewHistory(BaseModel):
    incident_id: str
    review_status: str
    allowed_next: list[str] = Field(description="targets the transition table allows from the current status")
    allowed_for_user: list[str] = Field(
        default_factory=list, description="of those, the ones the caller may make (role, location, four eyes)"
    )
    items: list[ReviewEventOut]


class CorrectionItem(BaseModel):
    incident_id: str
    reference: str
    location: str
    protocol: str
    created_at: str
    requested_by: str
    requested_at: str
    note: str | None
