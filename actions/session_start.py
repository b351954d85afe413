"""A conversation's new Rasa session (``action_session_start``).

Rasa starts a new session when a conversation was quiet for longer than
``session_expiration_time`` (assistant/domain/base.yml). Its own action carries the
slots over but not the active form, so a counsellor who came back to a protocol run
after a break got "Waar gaat de melding over?" for the answer they typed, and the run
stayed unfinished with nothing recorded. Here the run goes on: the form is active again,
and the counsellor is told why the assistant still knows where they were.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import presenter
from actions import slots as names
from actions.knowledge_cache import get_engine
from knowledge import Protocol

ACTION_SESSION_START = "action_session_start"


class ActionSessionStart(Action):
    """Rasa's session start (every slot carried over, as ``carry_over_slots_to_new_session``
    says), and an unfinished protocol run resumed."""

    def name(self) -> str:
        return ACTION_SESSION_START

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        carried = [SlotSet(slot, value) for slot, value in tracker.slots.items() if value is not None]
        events: list[EventType] = [SessionStarted(), *carried]
        guide = _running_guide(tracker)
        if guide is not None:
            dispatcher.utter_message(**presenter.resumed(guide.title))
            events.append(ActiveLoop(names.FORM))
        return [*events, ActionExecuted(names.ACTION_LISTEN)]


def _running_guide(tracker: Tracker) -> Protocol | None:
    """The protocol (or general path) whose run was open when the last session ended."""
    protocol_id = tracker.get_slot(names.PROTOCOL)
    if tracker.active_loop_name != names.FORM or not protocol_id:
        return None
    return get_engine().knowledge.guide(str(protocol_id))
