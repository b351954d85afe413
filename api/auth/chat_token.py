"""Short-lived tokens for the web chat socket (``POST /api/v1/auth/chat-token``).

The chat page runs on the API's origin (:8000), the socket on the Rasa server
(:5005). The session cookie is HttpOnly and SameSite=Strict, so neither the page
script nor the other origin can use it. The page therefore asks this endpoint
(same origin, cookie + ``X-CSRF-Token``) for a token made for the socket only:

- signed with a key of its own, asymmetric (issue 14): EdDSA (Ed25519) with the
  private key ``COA_CHAT_TOKEN_PRIVATE_KEY`` / ``_FILE`` (PEM) that only the API
  holds; the web chat channel in the internet-facing Rasa server verifies with the
  public key only, so a compromised Rasa cannot mint chat tokens, and it never
  holds ``COA_JWT_SECRET`` (which would let it mint API tokens). Claims as a login
  token (``sub`` = the pseudonymous staff id, ``role``, ``locations``, ``iat``,
  ``exp``), plus ``aud: "webchat"``;
- without a configured key: the development key pair derived from the public
  ``DEV_CHAT_KEY_SEED`` (``make run`` needs no set-up); the web chat channel refuses
  its public key when ``COA_ENV=production``;
- lifetime ``CHAT_TOKEN_TTL`` (15 minutes), never beyond the session's own expiry;
- the API refuses every token with an audience (PyJWT rejects ``aud`` when no
  audience is expected), so a chat token cannot read incidents; the web chat
  channel (``assistant/channels/webchat.py``) requires ``aud == "webchat"``, so a
  login token cannot open a socket.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.auth.schemas import User
from api.config import Settings

CHAT_AUDIENCE = "webchat"
CHAT_ALGORITHM = "EdDSA"
CHAT_TOKEN_TTL = timedelta(minutes=15)
#: Public on purpose (as DEV_JWT_SECRET): the development key pair; the web chat
#: channel derives the same public key and refuses it in production.
DEV_CHAT_KEY_SEED = hashlib.sha256(b"coa-development-chat-token-key").digest()


@lru_cache(maxsize=4)
def _private_key(pem: str | None) -> Ed25519PrivateKey:
    if not pem:
        return Ed25519PrivateKey.from_private_bytes(DEV_CHAT_KEY_SEED)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(
            "COA_CHAT_TOKEN_PRIVATE_KEY must be an Ed25519 private key (openssl genpkey -algorithm ed25519)"
        )
    return key


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The chat token key: configured (PEM or file), else the development key."""
    pem = settings.chat_token_private_key
    if not pem and settings.chat_token_private_key_file:
        pem = Path(settings.chat_token_private_key_file).read_text(encoding="utf-8")
    return _private_key(pem or None)


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
    token = jwt.encode(claims, signing_key(settings), algorithm=CHAT_ALGORITHM)
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
