"""Payloads of the key-position directory."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal["houder", "vervanger"]
#: A pragmatic address check (no extra dependency): something@domain.tld, no spaces.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


#: Periods are real working days: outside these a date is a typo (and ``date.min - 1 day``
#: would overflow).
EARLIEST, LATEST = date(1990, 1, 1), date(2100, 12, 31)


def _in_range(value: date | None) -> date | None:
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValueError(f"date must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    return value


def _blank_to_none(value: object) -> object:
    # HTML forms send empty strings for empty optional fields.
    return None if isinstance(value, str) and not value.strip() else value


class _Person(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    phone: str | None = Field(default=None, max_length=32, description="phone extension ('toestel 4102')")
    teams_id: str | None = Field(default=None, max_length=200, description="Teams user id or UPN, for notifications")
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)

    @field_validator("phone", "teams_id", "email", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return _blank_to_none(value)


class AssignmentCreate(_Person):
    position: str = Field(min_length=1, max_length=64, description="a key-position id of knowledge/key_positions.yml")
    kind: Kind = "houder"
    name: str = Field(min_length=1, max_length=120, description="display name")
    valid_from: date
    valid_until: date | None = Field(default=None, description="last day (inclusive); empty = open-ended")
    replaces: str | None = Field(
        default=None, description="assignment id this one succeeds: it is ended the day before valid_from"
    )

    @field_validator("valid_until", "replaces", mode="before")
    @classmethod
    def _empty_optional(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _dates(cls, value: date | None) -> date | None:
        return _in_range(value)

    @model_validator(mode="after")
    def _check(self) -> AssignmentCreate:
        if not self.teams_id and not self.email:
            raise ValueError("give a Teams id or an e-mail address (notifications go there)")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class AssignmentChange(_Person):
    """Only the fields given change; the period may be moved, the position and kind not."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    valid_from: date | None = None
    valid_until: date | None = None

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _dates(cls, value: date | None) -> date | None:
        return _in_range(value)


class AssignmentEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_day: date | None = Field(default=None, description="the last day it holds; default yesterday (ends now)")

    @field_validator("last_day")
    @classmethod
    def _dates(cls, value: date | None) -> date | None:
        return _in_range(value)


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    assignment_id: str
    version: int
    location_code: str
    position: str
    kind: Kind
    name: str
    phone: str | None
    teams_id: str | None
    email: str | None
    valid_from: date
    valid_until: date | None
    action: str
    recorded_at: datetime
    recorded_by: str


class AssignmentWithHistory(AssignmentOut):
    history: list[AssignmentOut] = Field(description="every version, oldest first")


class HolderOut(BaseModel):
    """Who to contact for a key position on a day: the deputy when one is valid, else the holder."""

    position: str
    name: str
    phone: str | None
    kind: Kind
    valid_until: date | None
    teams_id: str | None = None
    email: str | None = None


class Gap(BaseModel):
    location: str
    position: str
    reason: Literal["nooit_bezet", "periode_verlopen"]
    last_holder: str | None
    last_day: date | None
    deputy: str | None = Field(description="a deputy valid today, who covers the gap for now")
