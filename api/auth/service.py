"""Password hashing, token issuing and verification."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import bcrypt
import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.models import UserAccount
from api.auth.schemas import ROLES, User
from api.config import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "role", "locations"]


# Checked against when the username does not exist, so that a wrong username costs
# as much time as a wrong password and does not reveal which accounts exist.
@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return bcrypt.hashpw(b"no-such-user", bcrypt.gensalt(rounds=12)).decode()


class InvalidToken(Exception):
    pass


def hash_password(password: str, rounds: int = 12) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:  # malformed hash or over-long password
        return False


def create_token(
    settings: Settings,
    *,
    sub: str,
    role: str,
    locations: Iterable[str] = (),
    ttl: timedelta | None = None,
    sid: str | None = None,
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    now = datetime.now(UTC)
    claims = {
        "sub": sub,
        "role": role,
        "locations": sorted({code.strip().upper() for code in locations if code.strip()}),
        "iat": now,
        "exp": now + (ttl or timedelta(hours=settings.token_ttl_hours)),
    }
    if sid is not None:
        claims["sid"] = sid  # the login this token belongs to (api/auth/login_sessions.py)
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def decode_token(settings: Settings, token: str) -> User:
    if settings.auth_mode == "oidc":
        # Production: the identity provider's RS256 tokens only (api/auth/oidc.py).
        from api.auth.oidc import OidcError, decode_oidc_token, load_mapping

        try:
            return decode_oidc_token(
                token,
                issuer=str(settings.oidc_issuer),
                audience=str(settings.oidc_audience),
                jwks_url=str(settings.oidc_jwks_url),
                mapping=load_mapping(str(settings.oidc_mapping)),
                cache_seconds=settings.oidc_jwks_cache_seconds,
                cooldown_seconds=settings.oidc_jwks_cooldown_seconds,
            )
        except OidcError as exc:
            raise InvalidToken(str(exc)) from exc
    try:
        # The algorithm list is fixed: never trust the token header's "alg".
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS, "verify_exp": True, "verify_signature": True},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    sub, role, locations = claims["sub"], claims["role"], claims["locations"]
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("claim 'sub' must be a non-empty string")
    if role not in ROLES:
        raise InvalidToken(f"unknown role {role!r}")
    if not isinstance(locations, list) or not all(isinstance(code, str) for code in locations):
        raise InvalidToken("claim 'locations' must be a list of location codes")
    sid = claims.get("sid")
    if sid is not None and (not isinstance(sid, str) or not sid):
        raise InvalidToken("claim 'sid' must be a non-empty string")
    return User(sub=sub, role=role, locations=tuple(code.upper() for code in locations), sid=sid)


def authenticate(session: Session, username: str, password: str) -> UserAccount | None:
    account = session.scalar(select(UserAccount).where(UserAccount.username == username.strip().lower()))
    if account is None:
        verify_password(password, _dummy_hash())
        return None
    if not verify_password(password, account.password_hash) or not account.active:
        return None
    return account
