from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Roles a person's account may have (``service`` is the action server's credential, not a person).
StaffRole = Literal["counsellor", "contact_person", "supervisor", "admin"]
#: Ids are database integers: a larger number is a 422, not an overflow in the driver.
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _codes(value: object) -> object:
    if isinstance(value, str):  # a form's comma-separated field
        value = value.split(",")
    if isinstance(value, list):
        return sorted({str(code).strip().upper() for code in value if str(code).strip()})
    return value


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: str
    locations: list[str]
    active: bool
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    username: str = Field(min_length=3, max_length=120, pattern=r"^[a-z0-9][a-z0-9._-]*$",
                          description="lower case letters, digits, '.', '_' and '-'")
    # bcrypt only looks at 72 bytes; longer input is refused rather than truncated.
    password: str = Field(min_length=10, max_length=72)
    role: StaffRole
    locations: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("username", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, value: object) -> object:
        return _codes(value)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: StaffRole | None = None
    locations: list[str] | None = Field(default=None, max_length=50)

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, value: object) -> object:
        return _codes(value)
