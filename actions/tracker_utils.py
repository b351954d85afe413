"""Reading what the actions need from a rasa_sdk ``Tracker``.

Where Rasa 3.6 puts the channel metadata (checked in rasa 3.6.21's source):
``UserUttered.parse_data`` carries ``"metadata"``, and the tracker state sent to
the action server has ``latest_message`` = that parse data, so
``tracker.latest_message["metadata"]`` holds the metadata of the current
message. The user event in ``tracker.events`` carries it too. When a message
starts a new session, Rasa also stores its metadata in the
``session_started_metadata`` slot, which keeps it for later messages that are
sent without metadata.

Whose metadata counts (issue 14): ``staff_id`` and ``location`` are believed only
from a channel that verified who is talking (``VERIFIED_CHANNELS``: the web chat's
chat token, Teams' Bot Framework token and staff mapping), judged by the input
channel Rasa recorded on the user event (set by the channel, not by the client)
and by the conversation id being in that channel's namespace. Any other channel
(the development REST channel) records the staff id ``unverified``; its
``location`` is a claim the contract allows (the assistant would otherwise ask).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from actions.engine import UserInput
from actions.slots import ACTION_LISTEN
from assistant.channels.namespaces import TEAMS, TEAMS_PREFIX, UNVERIFIED_STAFF, WEBCHAT, WEBCHAT_PREFIX

SESSION_METADATA_SLOT = "session_started_metadata"
_NAMESPACES = {WEBCHAT: WEBCHAT_PREFIX, TEAMS: TEAMS_PREFIX}


def message_metadata(tracker: Tracker) -> dict[str, Any]:
    """Metadata of the latest message, else of the session start."""
    metadata = tracker.latest_message.get("metadata")
    if not metadata:
        for event in reversed(tracker.events):
            if event.get("event") == "user":
                metadata = event.get("metadata")
                break
    if not metadata:
        metadata = tracker.get_slot(SESSION_METADATA_SLOT)
    return dict(metadata) if isinstance(metadata, dict) else {}


def verified_channel(tracker: Tracker) -> str | None:
    """The channel of the latest message when it proves who is talking, else None."""
    channel = tracker.get_latest_input_channel()
    prefix = _NAMESPACES.get(channel or "")
    if prefix is None or not str(tracker.sender_id).startswith(prefix):
        return None
    return channel


def staff_id(tracker: Tracker) -> str:
    """Pseudonymous id of the staff member as a verified channel states it; otherwise
    the explicit marker ``unverified`` (never what an unauthenticated client sent)."""
    if verified_channel(tracker):
        value = message_metadata(tracker).get("staff_id")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return UNVERIFIED_STAFF


def metadata_location(tracker: Tracker) -> str | None:
    value = message_metadata(tracker).get("location")
    return (str(value).strip() or None) if value else None


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_intent_confidence(tracker: Tracker) -> float:
    try:
        return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def latest_entity(tracker: Tracker, entity: str) -> str | None:
    value = next(tracker.get_latest_entity_values(entity), None)
    return str(value) if value is not None else None


def user_input(tracker: Tracker) -> UserInput:
    """The latest message as the engine's input."""
    return UserInput(
        text=tracker.latest_message.get("text") or "",
        intent=latest_intent(tracker),
        keuze=latest_entity(tracker, "keuze"),
    )


def last_action_among(tracker: Tracker, names: set[str]) -> str | None:
    """The most recent of the given actions that ran in this conversation."""
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") in names:
            return event["name"]
    return None


def previous_action(tracker: Tracker) -> str | None:
    """The bot's last action before the latest message (``action_listen`` aside)."""
    seen_message = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_message = True
        elif seen_message and event.get("event") == "action" and event.get("name") != ACTION_LISTEN:
            return event["name"]
    return None


def action_timestamp(tracker: Tracker, name: str) -> float | None:
    """Timestamp of the most recent run of action ``name``."""
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == name:
            return event.get("timestamp")
    return None
