"""Storing a staff member's conversation reference and finding where to reach someone."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.models_base import utcnow
from api.teams.models import TeamsConversation
from api.teams.schemas import ConversationReferenceIn


def store(session: Session, reference: ConversationReferenceIn) -> None:
    """Insert or refresh the staff member's reference (the newest contact wins)."""
    values = reference.model_dump()
    for attempt in (1, 2):
        row = session.get(TeamsConversation, reference.staff_id)
        if row is None:
            session.add(TeamsConversation(**values, updated_at=utcnow()))
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        try:
            session.commit()
            return
        except IntegrityError:
            session.rollback()  # a concurrent first contact inserted it: update that row
            if attempt == 2:
                raise


@dataclass(frozen=True)
class TeamsAddress:
    """Where a proactive message goes. ``conversation_id`` None: create the personal
    conversation with ``user_id`` first (a holder the bot has no reference for)."""

    service_url: str
    tenant_id: str
    bot_id: str
    user_id: str
    conversation_id: str | None


def _address(row: TeamsConversation) -> TeamsAddress:
    return TeamsAddress(service_url=row.service_url, tenant_id=row.tenant_id, bot_id=row.bot_id,
                        user_id=row.user_id, conversation_id=row.conversation_id)  # fmt: skip


def address_of_staff(session: Session, staff_id: str | None) -> TeamsAddress | None:
    """The stored conversation of the counsellor who recorded an incident."""
    if not staff_id:
        return None
    row = session.get(TeamsConversation, staff_id)
    return None if row is None else _address(row)


def address_of_teams_user(session: Session, teams_id: str | None) -> TeamsAddress | None:
    """A key-position holder by its Teams id: its own stored conversation when it talked
    to the bot, else a new personal conversation on the service URL and bot of the
    latest contact (one bot, one tenant); None when nobody ever talked to the bot."""
    if not teams_id:
        return None
    own = session.scalars(select(TeamsConversation).where(TeamsConversation.user_id == teams_id)
                          .order_by(TeamsConversation.updated_at.desc()).limit(1)).first()  # fmt: skip
    if own is not None:
        return _address(own)
    latest = session.scalars(select(TeamsConversation).order_by(TeamsConversation.updated_at.desc()).limit(1)).first()
    if latest is None:
        return None
    return TeamsAddress(service_url=latest.service_url, tenant_id=latest.tenant_id, bot_id=latest.bot_id,
                        user_id=teams_id, conversation_id=None)  # fmt: skip
