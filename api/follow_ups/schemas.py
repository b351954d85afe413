"""Follow-up payloads. ``FollowUpItem`` is the incident contract's shape (DESIGN.md):
exactly ``id``, ``action``, ``organisation``, ``due_at``, ``status``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer, model_validator

from api.models_base import as_utc

FollowUpStatus = Literal["open", "gedaan", "niet_gedaan", "vervallen"]
OPEN: FollowUpStatus = "open"
#: Where an open follow-up may go; every target is final (a mistake is a new incident note, not an undo).
TARGETS: tuple[FollowUpStatus, ...] = ("gedaan", "niet_gedaan", "vervallen")


class FollowUpItem(BaseModel):
    id: uuid.UUID
    action: str
    organisation: str | None
    due_at: datetime
    status: FollowUpStatus

    @field_serializer("id")
    def _id_as_str(self, value: uuid.UUID) -> str:
        return str(value)

    @field_serializer("due_at")
    def _due_at_utc(self, value: datetime) -> str:
        return as_utc(value).isoformat()


class FollowUpEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: FollowUpStatus
    reason: str | None
    actor: str
    created_at: datetime

    @field_serializer("created_at")
    def _created_at_utc(self, value: datetime) -> str:
        return as_utc(value).isoformat()


class FollowUpOut(FollowUpItem):
    """A follow-up in the "Mijn acties" list: with its incident and whether it is overdue."""

    key: str
    norm: str
    incident_id: uuid.UUID
    reference: str
    location: str
    overdue: bool
    history: list[FollowUpEventOut] = Field(default_factory=list)

    @field_serializer("incident_id")
    def _incident_as_str(self, value: uuid.UUID) -> str:
        return str(value)


class FollowUpList(BaseModel):
    items: list[FollowUpOut]
    total: int
    open: int
    overdue: int


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class FollowUpEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["gedaan", "niet_gedaan", "vervallen"]
    reason: Reason | None = None
    #: Service role only (the chat): the counsellor who answered, who must have recorded the incident.
    staff_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _reason_when_not_done(self) -> FollowUpEventCreate:
        if self.status == "niet_gedaan" and not self.reason:
            raise ValueError(f"status '{self.status}' needs a reason: say why the action was not done")
        return self
