"""Revocable logins (issue 14, finding 5).

Design: a server-side session table, checked on every request. A login writes a
``login_sessions`` row with a random id; the token carries it as ``sid``. Logging
out (or deactivating the account) writes a ``login_session_ends`` row, and from
then on every request with that token is refused (401), bearer or cookie alike.

Why a session table rather than a per-user token version: logging out on one
device ends that login only, not the user's other ones; the table says which
logins exist and when each ended (append-only, like every history here); and
the check is one primary-key lookup joined to the account, which also catches a
deactivated account at once. The access token stays short-lived
(``COA_TOKEN_TTL_HOURS``, default 1) as a second line.

Tokens without ``sid`` are minted by hand with the signing key (``make token``,
the action server's service credential): they have no login to end and expire
on their own; when their ``sub`` is an account, the account must still be active.
In OIDC mode the identity provider's tokens carry no ``sid`` either.

The CSRF token of a cookie session is bound to its login: it is an HMAC of the
``sid`` (``csrf_for``), so a CSRF cookie planted from elsewhere, or one from an
earlier login, does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.models import LoginSession, LoginSessionEnd, UserAccount
from api.auth.schemas import User
from api.auth.service import create_token
from api.config import Settings
from api.models_base import as_utc, utcnow


def start(session: Session, settings: Settings, account: UserAccount) -> tuple[str, str, int]:
    """A new login for ``account``: (access token, its sid, lifetime in seconds)."""
    ttl = timedelta(hours=settings.token_ttl_hours)
    now = utcnow()
    login = LoginSession(id=secrets.token_urlsafe(32), user_id=account.id, created_at=now, expires_at=now + ttl)
    session.add(login)
    session.commit()
    token = create_token(
        settings, sub=account.staff_id, role=account.role, locations=account.locations, ttl=ttl, sid=login.id
    )
    return token, login.id, int(ttl.total_seconds())


def end(session: Session, sid: str, reason: str) -> bool:
    """End one login; False when it does not exist or had already ended."""
    if session.get(LoginSession, sid) is None or session.get(LoginSessionEnd, sid) is not None:
        return False
    session.add(LoginSessionEnd(session_id=sid, ended_at=utcnow(), reason=reason))
    session.commit()
    return True


def deactivate(session: Session, account: UserAccount) -> int:
    """Deactivate an account and end its open logins; returns how many were ended."""
    account.active = False
    open_ids = session.scalars(
        select(LoginSession.id)
        .outerjoin(LoginSessionEnd, LoginSessionEnd.session_id == LoginSession.id)
        .where(LoginSession.user_id == account.id, LoginSessionEnd.session_id.is_(None))
    ).all()
    now = utcnow()
    session.add_all(LoginSessionEnd(session_id=sid, ended_at=now, reason="deactivated") for sid in open_ids)
    session.commit()
    return len(open_ids)


def refusal(session: Session, user: User) -> str | None:
    """Why this verified token may no longer be used, or None when it may."""
    if user.sid is None:
        active = session.scalar(select(UserAccount.active).where(UserAccount.staff_id == user.sub))
        return "account deactivated" if active is False else None
    row = session.execute(
        select(LoginSession.expires_at, UserAccount.active, UserAccount.staff_id, LoginSessionEnd.reason)
        .join(UserAccount, UserAccount.id == LoginSession.user_id)
        .outerjoin(LoginSessionEnd, LoginSessionEnd.session_id == LoginSession.id)
        .where(LoginSession.id == user.sid)
    ).first()
    if row is None or row.staff_id != user.sub:
        return "unknown session"
    if row.reason is not None:
        return f"session ended ({row.reason})"
    if not row.active:
        return "account deactivated"
    if as_utc(row.expires_at) <= utcnow():
        return "session expired"
    return None


def csrf_for(settings: Settings, sid: str) -> str:
    """The CSRF token of the login ``sid`` (bound to it; see the module doc)."""
    return hmac.new(settings.jwt_secret.encode(), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()
