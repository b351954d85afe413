"""Short-lived tokens for the web chat socket (``POST /api/v1/auth/chat-token``).

The chat page runs on the API's origin (:8000), the socket on the Rasa server
(:5005). The session cookie is HttpOnly and SameSite=Strict, so neither the page
script nor the other origin can use it. The page therefore asks this endpoint
(same origin, cookie + ``X-CSRF-Token``) for a token made for the socket only:

- the same HS256 signature with ``COA_JWT_SECRET`` and the same claims as a login
  token (``sub`` = the pseudonymous staff id, ``role``, ``locations``, ``iat``,
  ``exp``), plus ``aud: "webchat"``;
- lifetime ``CHAT_TOKEN_TTL`` (15 minutes), never beyond the session's own expiry;
- the API refuses every token with an audience (PyJWT rejects ``aud`` when no
  audience is expected), so a chat token cannot read incidents; the web chat
  channel (``assistant/channels/webchat.py``) requires ``aud == "webchat"``, so a
  login token cannot open a socket.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from api.auth.schemas import User
from api.auth.service import ALGORITHM
from api.config import Settings

CHAT_AUDIENCE = "webchat"
CHAT_TOKEN_TTL = timedelta(minutes=15)


def create_chat_token(
    settings: Settings,
    user: User,
    *,
    ttl: timedelta = CHAT_TOKEN_TTL,
    not_after: datetime | None = None,
    now: datetime | None = None,
) -> tuple[str, int]:
    """The socket token for ``user`` and its lifetime in seconds."""
    now = now or datetime.now(UTC)
    expires = now + ttl
    if not_after is not None and not_after < expires:
        expires = not_after
    claims = {
        "sub": user.sub,
        "role": user.role,
        "locations": list(user.locations),
        "aud": CHAT_AUDIENCE,
        "iat": now,
        "exp": expires,
    }
    token = jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)
    return token, max(0, int((expires - now).total_seconds()))


def token_expiry(token: str | None) -> datetime | None:
    """``exp`` of an already verified token (to cap the chat token), or None."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None
