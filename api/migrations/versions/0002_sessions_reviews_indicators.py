"""Guidance sessions and their events; indexes for the review workflow and indicators.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of api.sessions.models.EVENT_TYPES at this revision.
EVENT_TYPES = (
    "'started', 'question_asked', 'answer_given', 'advice_shown', 'lookup_answered', 'step_back', "
    "'restarted', 'outcome', 'stopped', 'incident_recorded', 'error'"
)


def upgrade() -> None:
    op.create_table(
        "guidance_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("staff_id", sa.String(length=128), nullable=True),
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("protocol", sa.String(length=64), nullable=False),
        sa.Column("protocol_version", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["location"], ["locations.code"], name=op.f("fk_guidance_sessions_location_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guidance_sessions")),
        # A conversation may run several protocols: one session per (conversation, run).
        sa.UniqueConstraint("conversation_id", "run_id", name=op.f("uq_guidance_sessions_conversation_id_run_id")),
    )
    op.create_index("ix_guidance_sessions_location_started_at", "guidance_sessions", ["location", "started_at"])
    op.create_index(op.f("ix_guidance_sessions_staff_id"), "guidance_sessions", ["staff_id"])
    op.create_index(op.f("ix_guidance_sessions_started_at"), "guidance_sessions", ["started_at"])
    op.create_table(
        "session_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=128), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=128), nullable=True),
        sa.Column("incident_reference", sa.String(length=32), nullable=True),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"type IN ({EVENT_TYPES})", name=op.f("ck_session_events_type")),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_session_events_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["guidance_sessions.id"], name=op.f("fk_session_events_session_id_guidance_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_session_events_idempotency_key")),
        sa.UniqueConstraint("session_id", "seq", name=op.f("uq_session_events_session_id_seq")),
    )
    op.create_index(op.f("ix_session_events_incident_id"), "session_events", ["incident_id"])
    # Review workflow (latest status per incident) and indicators.
    op.create_index("ix_incident_review_events_incident_id_id", "incident_review_events", ["incident_id", "id"])
    op.create_index(
        "ix_incident_review_events_incident_id_status_created_at",
        "incident_review_events",
        ["incident_id", "status", "created_at"],
    )
    op.create_index("ix_incidents_location_protocol_created_at", "incidents", ["location", "protocol", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_location_protocol_created_at", table_name="incidents")
    op.drop_index("ix_incident_review_events_incident_id_status_created_at", table_name="incident_review_events")
    op.drop_index("ix_incident_review_events_incident_id_id", table_name="incident_review_events")
    op.drop_table("session_events")
    op.drop_table("guidance_sessions")
