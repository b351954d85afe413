"""Staff accounts that can log in. Tokens from ``token_cli`` need no account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.auth.schemas import ROLES
from api.models_base import Base, utcnow

_ROLE_LIST = ", ".join(f"'{role}'" for role in ROLES)


class UserAccount(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({_ROLE_LIST})", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    # Pseudonymous staff id: the token's `sub` and what incidents store as staff_id,
    # so incidents never carry a login name.
    staff_id: Mapped[str] = mapped_column(String(128), unique=True)
    locations: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # Where reminders of the staff member's follow-ups go (issue 15); None: no e-mail.
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """One login (issue 14, finding 5): the token's ``sid`` claim names this row, and
    every request checks that it has not ended. Written once; ending it is a new row
    in ``login_session_ends`` (append-only, like every history in this API)."""

    __tablename__ = "login_sessions"

    # Random, unguessable (secrets.token_urlsafe): it is the token's `sid` claim.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class LoginSessionEnd(Base):
    __tablename__ = "login_session_ends"

    session_id: Mapped[str] = mapped_column(ForeignKey("login_sessions.id"), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(default=utcnow)
    # logout | deactivated | logout_everywhere
    reason: Mapped[str] = mapped_column(String(32))
