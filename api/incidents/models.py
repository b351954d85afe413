"""Incidents and their review events.

An incident is written once and never updated: a review is a new row in
``incident_review_events``, and an incident's review status is its latest event's
status ("nieuw" when there is none). That keeps the full review history for
supervisors and auditors.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models_base import Base, utcnow


class Incident(Base):
    __tablename__ = "incidents"
    # Supervisors list their locations newest first.
    __table_args__ = (Index("ix_incidents_location_created_at", "location", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    # Chosen by the caller (the action server) so that a retried POST does not
    # record the same decision twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    location: Mapped[str] = mapped_column(ForeignKey("locations.code"))
    protocol: Mapped[str] = mapped_column(String(64), index=True)
    protocol_version: Mapped[str] = mapped_column(String(32))
    acute: Mapped[bool]
    referrals: Mapped[list[str]] = mapped_column(JSON)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(128))
    staff_id: Mapped[str | None] = mapped_column(String(128), index=True)
    channel: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    review_events: Mapped[list[IncidentReviewEvent]] = relationship(
        back_populates="incident", order_by="IncidentReviewEvent.id"
    )


class IncidentReviewEvent(Base):
    __tablename__ = "incident_review_events"

    # Integer id: orders events reliably even when two share a created_at.
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="review_events")
