"""Key-position directory with history: ``key_position_assignments`` replaces ``key_position_holders``.

Revision ID: 0006_directory
Revises: 0005_follow_ups
Create Date: 2026-12-04

Every holder becomes an open-ended assignment (``houder``). They were known before
history was kept, so their first version is stamped 2000-01-01 (valid and recorded):
incidents recorded before this migration then still show them as the holders of
their day.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006_directory"
down_revision: str | None = "0005_follow_ups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KNOWN_SINCE = date(2000, 1, 1)
RECORDED_BY = "migratie-0006"


def upgrade() -> None:
    assignments = op.create_table(
        "key_position_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=False),
        sa.Column("position", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("teams_id", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint("kind IN ('houder', 'vervanger')", name=op.f("ck_key_position_assignments_kind")),
        sa.CheckConstraint(
            "action IN ('aangemaakt', 'gewijzigd', 'beeindigd')", name=op.f("ck_key_position_assignments_action")
        ),
        sa.ForeignKeyConstraint(
            ["location_code"], ["locations.code"], name=op.f("fk_key_position_assignments_location_code_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_position_assignments")),
        sa.UniqueConstraint(
            "assignment_id", "version", name=op.f("uq_key_position_assignments_assignment_id_version")
        ),
    )
    op.create_index(
        op.f("ix_key_position_assignments_assignment_id"), "key_position_assignments", ["assignment_id"]
    )
    op.create_index(
        "ix_key_position_assignments_location_position", "key_position_assignments", ["location_code", "position"]
    )
    bind = op.get_bind()
    old = bind.execute(sa.text("SELECT location_code, position, name, phone FROM key_position_holders ORDER BY id"))
    recorded_at = datetime(2000, 1, 1, tzinfo=UTC)
    rows = [
        {"assignment_id": uuid.uuid4().hex, "version": 1, "location_code": code, "position": position,
         "kind": "houder", "name": name, "phone": phone, "teams_id": None, "email": None,
         "valid_from": KNOWN_SINCE, "valid_until": None, "action": "aangemaakt",
         "recorded_at": recorded_at, "recorded_by": RECORDED_BY}
        for code, position, name, phone in old
    ]
    if rows:
        op.bulk_insert(assignments, rows)
    op.drop_table("key_position_holders")


def downgrade() -> None:
    holders = op.create_table(
        "key_position_holders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=False),
        sa.Column("position", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_code"], ["locations.code"], name=op.f("fk_key_position_holders_location_code_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_position_holders")),
        sa.UniqueConstraint(
            "location_code", "position", "name", name=op.f("uq_key_position_holders_location_code_position_name")
        ),
    )
    op.create_index(op.f("ix_key_position_holders_location_code"), "key_position_holders", ["location_code"])
    # Back to one row per holder: the newest version of every holder assignment still open today.
    newest = op.get_bind().execute(sa.text(
        "SELECT a.location_code, a.position, a.name, a.phone, a.valid_until FROM key_position_assignments a "
        "JOIN (SELECT assignment_id, MAX(version) AS version FROM key_position_assignments GROUP BY assignment_id) n "
        "ON a.assignment_id = n.assignment_id AND a.version = n.version WHERE a.kind = 'houder'"
    ))
    today = date.today()
    seen: dict[tuple[str, str, str], dict] = {}
    for code, position, name, phone, until in newest:
        if until is None or date.fromisoformat(str(until)) >= today:
            seen.setdefault((code, position, name), {"location_code": code, "position": position,
                                                    "name": name, "phone": phone})
    if seen:
        op.bulk_insert(holders, list(seen.values()))
    op.drop_index("ix_key_position_assignments_location_position", table_name="key_position_assignments")
    op.drop_index(op.f("ix_key_position_assignments_assignment_id"), table_name="key_position_assignments")
    op.drop_table("key_position_assignments")
