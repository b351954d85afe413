"""The conversation reference the chat hands over (no message content)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

UNVERIFIED_STAFF = "unverified"


Text64 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text128 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ConversationReferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: Text128
    tenant_id: Text64
    service_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://[^\s/]+")]
    conversation_id: Text500
    bot_id: Text200
    user_id: Text200

    @field_validator("staff_id")
    @classmethod
    def _verified(cls, value: str) -> str:
        if value == UNVERIFIED_STAFF:
            raise ValueError("'unverified' names nobody: only a verified channel's staff id has a conversation")
        return value
