"""``teams_conversations``: where the bot can reach a staff member in Teams later.

One row per staff member (the pseudonymous ``staff_id`` of the incidents): the
conversation reference of its personal chat with the bot, stored when the
counsellor first talks to the bot and refreshed on later contacts (Teams may move
a tenant to another ``service_url``). It holds no message content: only what the Bot
Connector needs to post into that conversation. This is state, not history, so a
newer contact overwrites it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from api.models_base import Base, utcnow


class TeamsConversation(Base):
    __tablename__ = "teams_conversations"

    staff_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    service_url: Mapped[str] = mapped_column(String(500))
    conversation_id: Mapped[str] = mapped_column(String(500))
    #: The bot's id in that conversation (``28:<app id>``), the ``from`` of a proactive message.
    bot_id: Mapped[str] = mapped_column(String(200))
    #: The staff member's Teams user id (``29:...``), the ``recipient``.
    user_id: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
