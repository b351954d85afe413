"""The delivery log of reminders and escalations.

One row per (follow-up, kind), unique: inserting it is how a worker claims the
notification, so that with several API workers each is sent once (see runner.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models_base import Base, utcnow

#: Before the deadline, to whoever recorded the decision.
REMINDER = "herinnering"
#: After the deadline, to the location's contactpersoon veiligheid (and, for honour-based
#: violence and domestic violence, the aandachtsfunctionaris).
ESCALATION = "escalatie"


class FollowUpNotification(Base):
    __tablename__ = "follow_up_notifications"
    __table_args__ = (UniqueConstraint("follow_up_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("follow_ups.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: Where it went (e-mail addresses, comma separated); None while not delivered or
    #: when nobody had an address (then ``error`` says so and it is not retried).
    recipient: Mapped[str | None] = mapped_column(String(1000))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Worker that holds the claim; another may take it over once the lease ran out.
    claimed_by: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
