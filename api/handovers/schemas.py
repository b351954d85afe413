"""Handover payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_serializer, model_validator

from api.models_base import as_utc


class HandoverCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Another location (the resident moves); None: the location it is at now.
    to_location: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1,
                                                  max_length=32)] | None = None  # fmt: skip
    #: The pseudonymous staff id of a counsellor of the target location; None when the
    #: new location has not named one yet (its contact persons and supervisors take it).
    to_staff_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _somewhere(self) -> HandoverCreate:
        if self.to_location is None and self.to_staff_id is None:
            raise ValueError("name the counsellor (to_staff_id) or the location (to_location) to hand over to")
        return self


class HandoverOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    from_location: str
    from_staff_id: str | None
    to_location: str
    to_staff_id: str | None
    reason: str
    actor: str
    created_at: datetime
    #: Open follow-ups that moved with the incident (set on the POST's answer).
    open_follow_ups: int | None = None

    @field_serializer("created_at")
    def _created_at_utc(self, value: datetime) -> str:
        return as_utc(value).isoformat()


class HandoverList(BaseModel):
    #: Where the incident is now: its latest handover's target, else where it was recorded.
    current_location: str
    current_staff_id: str | None
    items: list[HandoverOut]
