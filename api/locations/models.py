"""Locations and key-position holders (managed by admins, seeded for the demo)."""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

import knowledge
from api.models_base import Base

# The ids of knowledge/key_positions.yml (safety first), shared with the protocols' steps.
KEY_POSITIONS: tuple[str, ...] = knowledge.KEY_POSITIONS
_POSITION_LIST = ", ".join(f"'{position}'" for position in KEY_POSITIONS)


class Location(Base):
    __tablename__ = "locations"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Lower-case names people type ("ter apel", "terapel"), for recognising a
    # location in a message.
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)

    key_positions: Mapped[list[KeyPositionHolder]] = relationship(
        back_populates="location", order_by="KeyPositionHolder.id"
    )


class KeyPositionHolder(Base):
    __tablename__ = "key_position_holders"
    __table_args__ = (
        UniqueConstraint("location_code", "position", "name"),
        CheckConstraint(f"position IN ({_POSITION_LIST})", name="position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_code: Mapped[str] = mapped_column(ForeignKey("locations.code"), index=True)
    position: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))

    location: Mapped[Location] = relationship(back_populates="key_positions")
