"""Create, change and deactivate local accounts; every change is in the audit log.

Deactivating is one call, ``deactivate``: the account can no longer log in and its
logins end at once, through api/auth's revocable logins (``api.auth.login_sessions``,
issue 14); a change of role or locations ends them too, because a token carries both.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit.service import record_change
from api.auth import login_sessions
from api.auth.models import LoginSession, LoginSessionEnd, UserAccount
from api.auth.schemas import User
from api.auth.service import hash_password
from api.locations.models import Location
from api.users.schemas import UserChange, UserCreate


class UserError(Exception):
    """Semantic errors, in the shape of FastAPI's 422 ``detail`` items."""

    def __init__(self, loc: str, msg: str, value: object = None) -> None:
        super().__init__(msg)
        self.errors = [{"type": "value_error", "loc": ("body", loc), "msg": msg, "input": value}]


def list_users(session: Session) -> list[UserAccount]:
    stmt = select(UserAccount).where(UserAccount.role != "service").order_by(UserAccount.username)
    return list(session.scalars(stmt))


def get_user(session: Session, user_id: int) -> UserAccount | None:
    account = session.get(UserAccount, user_id)
    return account if account is not None and account.role != "service" else None


def _check_locations(session: Session, role: str, codes: list[str]) -> None:
    known = set(session.scalars(select(Location.code)))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise UserError("locations", f"unknown location codes: {', '.join(unknown)}", unknown)
    if role in ("counsellor", "contact_person", "supervisor") and not codes:
        raise UserError("locations", f"a {role} needs at least one location", codes)


def create_user(session: Session, actor: User, payload: UserCreate) -> UserAccount:
    if session.scalar(select(UserAccount.id).where(UserAccount.username == payload.username)) is not None:
        raise UserError("username", f"username '{payload.username}' is already taken", payload.username)
    _check_locations(session, payload.role, payload.locations)
    account = UserAccount(
        username=payload.username,
        password_hash=hash_password(payload.password),
        role=payload.role,
        # Pseudonymous: what tokens and incidents carry instead of the login name.
        staff_id=f"stf-{secrets.token_hex(6)}",
        locations=payload.locations,
        active=True,
    )
    session.add(account)
    session.flush()
    record_change(session, actor, "user", account.id, "create")
    session.commit()
    return account


def change_user(session: Session, actor: User, account: UserAccount, payload: UserChange) -> UserAccount:
    role = payload.role or account.role
    locations = payload.locations if payload.locations is not None else list(account.locations)
    _check_locations(session, role, locations)
    if account.staff_id == actor.sub and role != account.role:
        raise UserError("role", "you cannot change your own role (ask another admin)", role)
    changed = (role, locations) != (account.role, list(account.locations))
    account.role, account.locations = role, locations
    record_change(session, actor, "user", account.id, "update")
    session.commit()
    if changed:
        # A token carries role and locations: the old ones must not outlive the change.
        for sid in _open_logins(session, account):
            login_sessions.end(session, sid, "logout_everywhere")
    return account


def deactivate(session: Session, actor: User, account: UserAccount) -> UserAccount:
    if account.staff_id == actor.sub:
        raise UserError("id", "you cannot deactivate your own account", account.id)
    record_change(session, actor, "user", account.id, "deactivate")
    # Sets ``active`` false and ends every open login in one commit, with the audit row.
    login_sessions.deactivate(session, account)
    return account


def _open_logins(session: Session, account: UserAccount) -> list[str]:
    stmt = (
        select(LoginSession.id)
        .outerjoin(LoginSessionEnd, LoginSessionEnd.session_id == LoginSession.id)
        .where(LoginSession.user_id == account.id, LoginSessionEnd.session_id.is_(None))
    )
    return list(session.scalars(stmt))
