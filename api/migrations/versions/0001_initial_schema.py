"""Initial schema: locations, key-position holders, users, incidents, review events.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values at this revision: migrations must not import models.
ROLES = "'counsellor', 'contact_person', 'supervisor', 'admin', 'service'"
KEY_POSITIONS = (
    "'contactpersoon_veiligheid', 'aandachtsfunctionaris', 'contactpersoon_mensenhandel', "
    "'aandachtsfunctionaris_zwangere', 'lhbti_contactpersoon'"
)


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_locations")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=128), nullable=False),
        sa.Column("locations", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_users_staff_id")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("protocol", sa.String(length=64), nullable=False),
        sa.Column("protocol_version", sa.String(length=32), nullable=False),
        sa.Column("acute", sa.Boolean(), nullable=False),
        sa.Column("referrals", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=128), nullable=True),
        sa.Column("staff_id", sa.String(length=128), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location"], ["locations.code"], name=op.f("fk_incidents_location_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_incidents_idempotency_key")),
        sa.UniqueConstraint("reference", name=op.f("uq_incidents_reference")),
    )
    op.create_index(op.f("ix_incidents_conversation_id"), "incidents", ["conversation_id"])
    op.create_index(op.f("ix_incidents_created_at"), "incidents", ["created_at"])
    op.create_index("ix_incidents_location_created_at", "incidents", ["location", "created_at"])
    op.create_index(op.f("ix_incidents_protocol"), "incidents", ["protocol"])
    op.create_index(op.f("ix_incidents_staff_id"), "incidents", ["staff_id"])
    op.create_table(
        "key_position_holders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_code", sa.String(length=32), nullable=False),
        sa.Column("position", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.CheckConstraint(f"position IN ({KEY_POSITIONS})", name=op.f("ck_key_position_holders_position")),
        sa.ForeignKeyConstraint(
            ["location_code"],
            ["locations.code"],
            name=op.f("fk_key_position_holders_location_code_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_position_holders")),
        sa.UniqueConstraint(
            "location_code",
            "position",
            "name",
            name=op.f("uq_key_position_holders_location_code_position_name"),
        ),
    )
    op.create_index(op.f("ix_key_position_holders_location_code"), "key_position_holders", ["location_code"])
    op.create_table(
        "incident_review_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_review_events_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_review_events")),
    )
    op.create_index(op.f("ix_incident_review_events_incident_id"), "incident_review_events", ["incident_id"])


def downgrade() -> None:
    # Children before parents, so the foreign keys never dangle.
    op.drop_table("incident_review_events")
    op.drop_table("key_position_holders")
    op.drop_table("incidents")
    op.drop_table("users")
    op.drop_table("locations")
