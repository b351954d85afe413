"""``key_position_assignments``: one row per version of an assignment, never updated.

An assignment (``assignment_id``) puts a person on a key position of a location for
a period, as the holder (``houder``) or as the deputy (``vervanger``) for leave and
absence. Creating, changing and ending it each append a version with who and when
(``recorded_by``, ``recorded_at``); the newest version is the assignment's state. So
the directory as it was known at any moment can be rebuilt: an incident shows the
holders of the day it was recorded, even after they changed.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models_base import Base, utcnow

KINDS: tuple[str, ...] = ("houder", "vervanger")
ACTIONS: tuple[str, ...] = ("aangemaakt", "gewijzigd", "beeindigd")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class KeyPositionAssignment(Base):
    __tablename__ = "key_position_assignments"
    # No CHECK on ``position``: the ids live in knowledge/key_positions.yml and a new
    # one must not need a migration; the service refuses unknown ids with a 422.
    __table_args__ = (
        UniqueConstraint("assignment_id", "version"),
        CheckConstraint(f"kind IN ({_in(KINDS)})", name="kind"),
        CheckConstraint(f"action IN ({_in(ACTIONS)})", name="action"),
        Index("ix_key_position_assignments_location_position", "location_code", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int]
    location_code: Mapped[str] = mapped_column(ForeignKey("locations.code"))
    position: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    teams_id: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    valid_from: Mapped[date]
    # Inclusive last day; None = open-ended.
    valid_until: Mapped[date | None]
    action: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(128))
