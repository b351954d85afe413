"""Roles, the authenticated principal and the login payloads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["counsellor", "contact_person", "supervisor", "admin", "service"]
ROLES: tuple[str, ...] = ("counsellor", "contact_person", "supervisor", "admin", "service")


class User(BaseModel):
    """Who is calling, as stated by a verified token (not necessarily a DB account)."""

    model_config = ConfigDict(frozen=True)

    sub: str
    role: Role
    locations: tuple[str, ...] = ()
    # The login session (api/auth/login_sessions.py); None for hand-minted and OIDC tokens.
    sid: str | None = None


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=120)
    # bcrypt only looks at 72 bytes; longer input is refused rather than truncated.
    password: str = Field(min_length=1, max_length=72)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


class ChatTokenResponse(BaseModel):
    token: str = Field(description="JWT for the web chat socket only (aud: webchat)")
    expires_in: int = Field(description="seconds until the token expires")
    audience: Literal["webchat"] = "webchat"
