"""Open follow-ups: one row per follow-up without a status event, indexed by deadline.

Revision ID: 0011_open_follow_ups
Revises: 0010_follow_up_rollup
Create Date: 2026-12-08

Filled here from the existing follow-ups (as ``api.follow_ups.rollup.rebuild`` does);
from then on kept in each write's transaction by ``api.follow_ups.rollup``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_open_follow_ups"
down_revision: str | None = "0010_follow_up_rollup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open_follow_ups",
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("norm", sa.String(length=64), nullable=False),
        sa.Column("veilig_thuis", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_id"], ["follow_ups.id"], name="fk_open_follow_ups_follow_up_id_follow_ups"
        ),
        sa.PrimaryKeyConstraint("follow_up_id", name="pk_open_follow_ups"),
    )
    op.create_index(
        "ix_open_follow_ups_due_at",
        "open_follow_ups",
        ["due_at"],
        postgresql_include=["day", "location", "norm", "veilig_thuis"],
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        day = "(CAST(timezone('UTC', i.created_at) AS DATE) - DATE '1970-01-01')"
    else:
        day = "CAST(julianday(i.created_at) - 2440587.5 AS INTEGER)"
    op.execute(f"""
        INSERT INTO open_follow_ups (follow_up_id, due_at, day, location, norm, veilig_thuis)
        SELECT f.id, f.due_at, {day}, i.location, f.norm, COALESCE(f.organisation = 'veilig_thuis', false)
        FROM follow_ups f
        JOIN incidents i ON i.id = f.incident_id
        LEFT JOIN follow_up_events e ON e.follow_up_id = f.id AND e.seq = 1
        WHERE e.id IS NULL
    """)


def downgrade() -> None:
    op.drop_index("ix_open_follow_ups_due_at", table_name="open_follow_ups")
    op.drop_table("open_follow_ups")
