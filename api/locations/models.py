"""Locations (managed by admins, seeded from knowledge/locations.yml).

Who holds the key positions there is in ``api.directory`` (append-only assignments).
"""

from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

import knowledge
from api.models_base import Base

# The ids of knowledge/key_positions.yml (safety first), shared with the protocols' steps.
KEY_POSITIONS: tuple[str, ...] = knowledge.KEY_POSITIONS


class Location(Base):
    __tablename__ = "locations"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Lower-case names people type ("ter apel", "terapel"), for recognising a
    # location in a message.
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
