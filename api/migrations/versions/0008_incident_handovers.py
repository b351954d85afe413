"""Handovers of an incident to another counsellor or location (issue 15 part 6).

Revision ID: 0008_incident_handovers
Revises: 0007_login_sessions
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_incident_handovers"
down_revision: str | None = "0007_login_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_location", sa.String(length=32), nullable=False),
        sa.Column("from_staff_id", sa.String(length=128), nullable=True),
        sa.Column("to_location", sa.String(length=32), nullable=False),
        sa.Column("to_staff_id", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_incident_handovers_incident_id_incidents"),
        sa.ForeignKeyConstraint(
            ["from_location"], ["locations.code"], name="fk_incident_handovers_from_location_locations"
        ),
        sa.ForeignKeyConstraint(
            ["to_location"], ["locations.code"], name="fk_incident_handovers_to_location_locations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_handovers"),
        sa.UniqueConstraint("incident_id", "seq", name="uq_incident_handovers_incident_id_seq"),
    )
    op.create_index("ix_incident_handovers_incident_id", "incident_handovers", ["incident_id"])
    op.create_index("ix_incident_handovers_to_location", "incident_handovers", ["to_location"])
    op.create_index("ix_incident_handovers_to_staff_id", "incident_handovers", ["to_staff_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_handovers_to_staff_id", table_name="incident_handovers")
    op.drop_index("ix_incident_handovers_to_location", table_name="incident_handovers")
    op.drop_index("ix_incident_handovers_incident_id", table_name="incident_handovers")
    op.drop_table("incident_handovers")
