"""Follow-up rollup: per UTC day of the incident, location, norm and Veilig Thuis or not.

Revision ID: 0010_follow_up_rollup
Revises: 0009_teams_conversations
Create Date: 2026-12-08

Filled here from the existing follow-ups (set-wise, as ``api.follow_ups.rollup.rebuild``
does); from then on kept in each write's transaction by ``api.follow_ups.rollup``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_follow_up_rollup"
down_revision: str | None = "0009_teams_conversations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follow_up_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("norm", sa.String(length=64), nullable=False),
        sa.Column("veilig_thuis", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("gedaan", sa.Integer(), nullable=False),
        sa.Column("niet_gedaan", sa.Integer(), nullable=False),
        sa.Column("vervallen", sa.Integer(), nullable=False),
        sa.Column("in_time", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "location", "norm", "veilig_thuis", name="pk_follow_up_days"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        day = "(CAST(timezone('UTC', i.created_at) AS DATE) - DATE '1970-01-01')"
    else:
        day = "CAST(julianday(i.created_at) - 2440587.5 AS INTEGER)"
    op.execute(f"""
        INSERT INTO follow_up_days (day, location, norm, veilig_thuis, total, gedaan, niet_gedaan, vervallen, in_time)
        SELECT {day}, i.location, f.norm, COALESCE(f.organisation = 'veilig_thuis', false), COUNT(*),
               SUM(CASE WHEN e.status = 'gedaan' THEN 1 ELSE 0 END),
               SUM(CASE WHEN e.status = 'niet_gedaan' THEN 1 ELSE 0 END),
               SUM(CASE WHEN e.status = 'vervallen' THEN 1 ELSE 0 END),
               SUM(CASE WHEN e.status = 'gedaan' AND e.created_at <= f.due_at THEN 1 ELSE 0 END)
        FROM follow_ups f
        JOIN incidents i ON i.id = f.incident_id
        LEFT JOIN follow_up_events e ON e.follow_up_id = f.id AND e.seq = 1
        GROUP BY 1, 2, 3, 4
    """)


def downgrade() -> None:
    op.drop_table("follow_up_days")
