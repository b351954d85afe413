"""Follow-ups of a recorded decision, their status history, the reminder log, staff e-mail.

Revision ID: 0005_follow_ups
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_follow_ups"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=True),
        sa.Column("norm", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_follow_ups_incident_id_incidents"),
        sa.PrimaryKeyConstraint("id", name="pk_follow_ups"),
        sa.UniqueConstraint("incident_id", "key", name="uq_follow_ups_incident_id_key"),
    )
    op.create_index("ix_follow_ups_incident_id", "follow_ups", ["incident_id"])
    op.create_index("ix_follow_ups_due_at", "follow_ups", ["due_at"])
    op.create_table(
        "follow_up_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_id"], ["follow_ups.id"], name="fk_follow_up_events_follow_up_id_follow_ups"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_follow_up_events"),
        sa.UniqueConstraint("follow_up_id", "seq", name="uq_follow_up_events_follow_up_id_seq"),
    )
    op.create_index("ix_follow_up_events_follow_up_id", "follow_up_events", ["follow_up_id"])
    op.create_table(
        "follow_up_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=1000), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["follow_up_id"], ["follow_ups.id"], name="fk_follow_up_notifications_follow_up_id_follow_ups"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_follow_up_notifications"),
        sa.UniqueConstraint("follow_up_id", "kind", name="uq_follow_up_notifications_follow_up_id_kind"),
    )
    op.create_index("ix_follow_up_notifications_follow_up_id", "follow_up_notifications", ["follow_up_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
    op.drop_table("follow_up_notifications")
    op.drop_table("follow_up_events")
    op.drop_table("follow_ups")
