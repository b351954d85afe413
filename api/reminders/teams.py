"""A reminder or an escalation as a Teams message (issue 15, part 4).

The same words as the e-mail (``mail.py``): the incident's reference, the action, the
deadline and a link to "Mijn acties" that needs a login; never the resident's
situation, because a chat message may show on a locked phone's screen.
"""

from __future__ import annotations

from typing import Any

from api.reminders.mail import Notice
from api.reminders.models import ESCALATION
from api.reminders.settings import ReminderSettings
from api.teams.connector import BotConnector
from api.teams.service import TeamsAddress
from api.teams.settings import TeamsSettings
from knowledge.local_time import local_deadline


def text(settings: ReminderSettings, notice: Notice) -> str:
    link = settings.public_url.rstrip("/") + "/acties"
    deadline = local_deadline(notice.due_at)
    if notice.kind == ESCALATION:
        opening = (f"**Te laat**: de actie '{notice.action}' bij melding {notice.reference} is niet bevestigd "
                   f"vóór de termijn ({deadline}). U krijgt dit bericht als sleutelfunctionaris van de locatie.")
    else:
        opening = (f"**Herinnering**: de actie '{notice.action}' bij melding {notice.reference} moet uiterlijk "
                   f"{deadline} gedaan zijn.")  # fmt: skip
    return (f"{opening}\n\nBevestig de actie na inloggen op [Mijn acties]({link}).\n\n"
            "Dit bericht bevat bewust geen gegevens over de situatie van de bewoner.")


def activity(address: TeamsAddress, conversation_id: str, body: str) -> dict[str, Any]:
    """A proactive message activity (Bot Framework schema: ``message``)."""
    return {
        "type": "message",
        "from": {"id": address.bot_id},
        "recipient": {"id": address.user_id},
        "conversation": {"id": conversation_id},
        "channelData": {"tenant": {"id": address.tenant_id}},
        "text": body,
        "textFormat": "markdown",
    }


class TeamsNotifier:
    """Posts into a stored conversation, or first creates the personal one (a holder)."""

    def __init__(self, settings: TeamsSettings, connector: BotConnector | None = None) -> None:
        self.settings = settings
        self.connector = connector or BotConnector(settings)

    def send(self, address: TeamsAddress, body: str) -> str:
        """Delivers ``body``; returns where it went (``teams:<conversation id>``). Raises TeamsError."""
        conversation_id = address.conversation_id or self.connector.create_conversation(
            address.service_url, address.bot_id, address.tenant_id, address.user_id
        )
        self.connector.send(address.service_url, conversation_id, activity(address, conversation_id, body))
        return f"teams:{conversation_id}"
