from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    aliases: list[str]


class KeyPositionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: str
    name: str
    phone: str | None
