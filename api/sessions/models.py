"""Guidance sessions and their events (append-only).

A session row is written once, on the session's first event, and never updated;
everything that changes over a conversation (questions, answers, advice, the
outcome, a stop, the recorded incident) is a new ``session_events`` row. End time,
state and last outcome are derived from the events when read.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models_base import Base, utcnow

#: Event types the action server may log. Frozen in migration 0002's check constraint.
EVENT_TYPES: tuple[str, ...] = (
    "started",
    "question_asked",
    "answer_given",
    "advice_shown",
    "lookup_answered",
    "step_back",
    "restarted",
    "outcome",
    "stopped",
    "incident_recorded",
    "error",
)
#: The run of a client that does not send ``run_id`` (one protocol per conversation).
DEFAULT_RUN_ID = "0"
_TYPE_LIST = ", ".join(f"'{kind}'" for kind in EVENT_TYPES)


class GuidanceSession(Base):
    __tablename__ = "guidance_sessions"
    __table_args__ = (
        Index("ix_guidance_sessions_location_started_at", "location", "started_at"),
        # One conversation may run several protocols (a second topic, "opnieuw"):
        # each protocol run is its own session.
        UniqueConstraint("conversation_id", "run_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[str] = mapped_column(String(200))
    # Identifies the protocol run within the conversation: the action server sends
    # the marker of the run's ``started`` event. DEFAULT_RUN_ID when a client omits it.
    run_id: Mapped[str] = mapped_column(String(200), default=DEFAULT_RUN_ID)
    # Pseudonymous staff id (never a name): the counsellor who was guided.
    staff_id: Mapped[str | None] = mapped_column(String(128), index=True)
    location: Mapped[str] = mapped_column(ForeignKey("locations.code"))
    channel: Mapped[str | None] = mapped_column(String(32))
    protocol: Mapped[str] = mapped_column(String(64))
    protocol_version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    events: Mapped[list[SessionEvent]] = relationship(back_populates="session", order_by="SessionEvent.seq")


class SessionEvent(Base):
    __tablename__ = "session_events"
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        CheckConstraint(f"type IN ({_TYPE_LIST})", name="type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("guidance_sessions.id"))
    # 1, 2, 3 … within the session, assigned by the API in arrival order.
    seq: Mapped[int]
    # Chosen by the action server per event: a retried POST does not log twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(128))
    # The question / advice / outcome text as shown (protocol text, not case data).
    text: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(128))
    incident_reference: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[GuidanceSession] = relationship(back_populates="events")
