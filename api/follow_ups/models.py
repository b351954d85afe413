"""Follow-ups and their status history.

A follow-up is written once, when its incident is recorded, and never updated:
each status change is a new ``follow_up_events`` row (who, when, why), like the
review history. Its status is its latest event's status, ``open`` when there is
none. ``seq`` numbers a follow-up's events; the unique (follow_up_id, seq) makes
two concurrent confirmations of the same open follow-up end in one winner.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models_base import Base, utcnow


class FollowUp(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("incident_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), index=True)
    #: The follow-up's id in the protocol file (``veilig_thuis_gebeld``).
    key: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(64))
    #: The deadline's id in norms.yml's ``follow_up_norms``.
    norm: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    events: Mapped[list[FollowUpEvent]] = relationship(back_populates="follow_up", order_by="FollowUpEvent.seq")


class FollowUpEvent(Base):
    __tablename__ = "follow_up_events"
    __table_args__ = (UniqueConstraint("follow_up_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("follow_ups.id"), index=True)
    seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    follow_up: Mapped[FollowUp] = relationship(back_populates="events")


class FollowUpDay(Base):
    """The follow-up figures per UTC day of the incident, location, norm and whether it
    is the Veilig Thuis follow-up: kept in the write's own transaction by
    ``api.follow_ups.rollup`` (a follow-up is written once and gets at most one, final,
    status event, so each write only adds). The dashboard reads whole days here."""

    __tablename__ = "follow_up_days"

    day: Mapped[int] = mapped_column(primary_key=True)
    location: Mapped[str] = mapped_column(String(64), primary_key=True)
    norm: Mapped[str] = mapped_column(String(64), primary_key=True)
    veilig_thuis: Mapped[bool] = mapped_column(primary_key=True)
    total: Mapped[int]
    gedaan: Mapped[int]
    niet_gedaan: Mapped[int]
    vervallen: Mapped[int]
    in_time: Mapped[int] = mapped_column(doc="gedaan before the deadline")


class OpenFollowUp(Base):
    """The follow-ups without a status event, one row each, with what the dashboard
    groups them by: kept beside ``FollowUpDay`` by ``api.follow_ups.rollup`` (a row
    added with the follow-up, removed with its one, final, status event).

    Why: "open and past the deadline" depends on "now", so the dashboard counts the
    open follow-ups not yet due at read time. From the base tables that joined every
    such follow-up to its incident and probed its events (160 ms of the dashboard at a
    million incidents); here it is one range of the covering index on ``due_at``."""

    __tablename__ = "open_follow_ups"
    __table_args__ = (
        Index("ix_open_follow_ups_due_at", "due_at", postgresql_include=["day", "location", "norm", "veilig_thuis"]),
    )

    follow_up_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("follow_ups.id"), primary_key=True)
    due_at: Mapped[datetime]
    #: The incident's UTC day, as in ``FollowUpDay``.
    day: Mapped[int]
    location: Mapped[str] = mapped_column(String(64))
    norm: Mapped[str] = mapped_column(String(64))
    veilig_thuis: Mapped[bool]
