"""Handovers of an incident (append-only).

The incident row keeps who recorded it and where; it is never updated. Handing it
to another counsellor, or to another location when the resident moves, is a new
``incident_handovers`` row with who, when, from, to and why. The incident's current
counsellor and location are its latest handover's ``to_*`` (the recorded ones when
there is none). ``seq`` numbers an incident's handovers; the unique
(incident_id, seq) makes two concurrent handovers of the same incident end in one winner.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models_base import Base, utcnow


class IncidentHandover(Base):
    __tablename__ = "incident_handovers"
    __table_args__ = (UniqueConstraint("incident_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), index=True)
    seq: Mapped[int]
    from_location: Mapped[str] = mapped_column(ForeignKey("locations.code"))
    #: Pseudonymous staff ids (never names); None: no counsellor named.
    from_staff_id: Mapped[str | None] = mapped_column(String(128))
    to_location: Mapped[str] = mapped_column(ForeignKey("locations.code"), index=True)
    to_staff_id: Mapped[str | None] = mapped_column(String(128), index=True)
    #: Free text, de-identified before storage like every other note.
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
