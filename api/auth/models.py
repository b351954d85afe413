"""Staff accounts that can log in. Tokens from ``token_cli`` need no account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, String
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
