"""Conversation ids per channel, and which channels may say who the staff member is.

Every authenticated channel puts its own prefix in front of the conversation ids it
makes (web chat ``wc-<owner>-<random>``, Teams ``teams-<conversation id>``). The
development REST channel keeps the client's ``sender`` unchanged (the contract looks
incidents up by it) and refuses every sender that starts with another channel's
prefix, so a REST client can never address a web chat or Teams conversation.

Standard library only: imported by the action server as well.
"""

from __future__ import annotations

import re

WEBCHAT = "webchat"
TEAMS = "teams"
REST = "rest"

WEBCHAT_PREFIX = "wc-"
TEAMS_PREFIX = "teams-"
RESERVED_PREFIXES = (WEBCHAT_PREFIX, TEAMS_PREFIX)

#: Channels whose metadata (``staff_id``, ``location``) comes from a verified token
#: (web chat: the API's chat token; Teams: the Bot Framework token plus the staff
#: mapping). Rasa records the input channel on every ``UserUttered`` event; the
#: action server trusts identity metadata only from these names.
VERIFIED_CHANNELS = frozenset({WEBCHAT, TEAMS})

#: The staff id recorded for a conversation whose channel proves no identity.
UNVERIFIED_STAFF = "unverified"

#: Longest message text any channel passes to Rasa (characters).
MAX_MESSAGE_CHARS = 4000

REST_SENDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def rest_sender_problem(sender: object) -> str | None:
    """Why a REST ``sender`` is refused, or None when it may be used as is."""
    if not isinstance(sender, str) or not REST_SENDER.match(sender):
        return "sender must be 1-128 characters: letters, digits, '.', '_', ':' or '-'"
    if sender.lower().startswith(RESERVED_PREFIXES):
        return f"sender may not start with {' or '.join(RESERVED_PREFIXES)} (another channel's conversations)"
    return None


def teams_conversation_id(conversation_id: str) -> str:
    return TEAMS_PREFIX + conversation_id
