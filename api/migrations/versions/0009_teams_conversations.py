"""Teams conversation references for proactive reminders (issue 15 part 4).

Revision ID: 0009_teams_conversations
Revises: 0008_incident_handovers
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_teams_conversations"
down_revision: str | None = "0008_incident_handovers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_conversations",
        sa.Column("staff_id", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("service_url", sa.String(length=500), nullable=False),
        sa.Column("conversation_id", sa.String(length=500), nullable=False),
        sa.Column("bot_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("staff_id", name="pk_teams_conversations"),
    )


def downgrade() -> None:
    op.drop_table("teams_conversations")
