"""Indicator rollup: per day, location and protocol (and norm); review times and their histogram.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

The tables start empty and unmarked (no ``indicator_rollup_state`` row), so the
indicators read directly until ``python -m api.seed`` (run by ``make run``) has
built the rollup from the existing incidents (``api.indicators.rollup``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = [
    sa.Column("day", sa.Integer(), nullable=False),
    sa.Column("location", sa.String(length=64), nullable=False),
    sa.Column("protocol", sa.String(length=64), nullable=False),
]


def upgrade() -> None:
    op.create_table(
        "indicator_days",
        *(column.copy() for column in _KEY),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("reviewed", sa.Integer(), nullable=False),
        sa.Column("review_hours_sum", sa.Float(), nullable=False),
        sa.Column("open_corrections", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "location", "protocol", name="pk_indicator_days"),
    )
    op.create_table(
        "indicator_norm_days",
        *(column.copy() for column in _KEY),
        sa.Column("norm_id", sa.String(length=64), nullable=False),
        sa.Column("applies", sa.Integer(), nullable=False),
        sa.Column("met", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "location", "protocol", "norm_id", name="pk_indicator_norm_days"),
    )
    op.create_table(
        "indicator_review_times",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_indicator_review_times_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("incident_id", name="pk_indicator_review_times"),
    )
    op.create_index(
        "ix_indicator_review_times_created_at",
        "indicator_review_times",
        ["created_at"],
        postgresql_include=["location", "bucket", "hours"],
    )
    op.create_index(
        "ix_indicator_review_times_location_bucket_created_at",
        "indicator_review_times",
        ["location", "bucket", "created_at"],
        postgresql_include=["hours"],
    )
    op.create_table(
        "indicator_review_histogram",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "location", "bucket", name="pk_indicator_review_histogram"),
    )
    op.create_table(
        "indicator_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("norms_fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_indicator_rollup_state"),
    )


def downgrade() -> None:
    op.drop_table("indicator_rollup_state")
    op.drop_table("indicator_review_histogram")
    op.drop_index("ix_indicator_review_times_location_bucket_created_at", table_name="indicator_review_times")
    op.drop_index("ix_indicator_review_times_created_at", table_name="indicator_review_times")
    op.drop_table("indicator_review_times")
    op.drop_table("indicator_norm_days")
    op.drop_table("indicator_days")
