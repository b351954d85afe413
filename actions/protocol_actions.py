"""Starting a protocol, and danger-now outside a protocol."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import presenter, session_events
from actions import slots as names
from actions.knowledge_cache import get_engine
from actions.tracker_utils import last_action_among, latest_intent, metadata_location, user_input


def utter(dispatcher: CollectingDispatcher, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        dispatcher.utter_message(**message)


class ActionStartProtocol(Action):
    """Starts the protocol that belongs to the latest intent, with fresh protocol slots."""

    def name(self) -> str:
        return names.ACTION_START_PROTOCOL

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        engine = get_engine()
        protocol = engine.knowledge.protocol_for_intent(latest_intent(tracker) or "")
        if protocol is None:
            dispatcher.utter_message(**presenter.no_protocol())
            return []

        # The report itself may say the danger is now ("hij staat nu met een mes
        # voor de deur"): the contract wants 112 in the very next reply.
        danger_now = engine.signals_danger(user_input(tracker))
        if danger_now:
            dispatcher.utter_message(**presenter.acute_danger())
        # Danger flagged by action_acute_danger just before (the counsellor then
        # picked the topic) belongs to this protocol run; an acute flag left by an
        # earlier, recorded or stopped, run does not.
        flagged_before = tracker.get_slot(names.ACUTE) is True and last_action_among(
            tracker, {names.ACTION_ACUTE_DANGER, names.ACTION_RECORD_DECISION, names.ACTION_START_PROTOCOL}
        ) == names.ACTION_ACUTE_DANGER
        state = engine.start(protocol.id, acute=danger_now or flagged_before)
        run_id = session_events.new_run_id(tracker)
        await session_events.run_started(tracker, run_id, state, acute_shown=state.acute)

        values: dict[str, Any] = {
            **state.to_slots(),
            names.PROTOCOL_ANSWER: None,
            names.MISSES: 0.0,
            names.INCIDENT_REFERENCE: None,
            names.PROTOCOL_RUN: run_id,
        }
        if tracker.get_slot(names.PENDING_PROTOCOL) == protocol.id:
            # The second topic noted earlier is the one being started now.
            values[names.PENDING_PROTOCOL] = None
        location = metadata_location(tracker)
        if location:
            # Raw value: the form validates it (validate_location) when it activates.
            values[names.LOCATION] = location
        return [SlotSet(slot, value) for slot, value in values.items()]


class ActionAcuteDanger(Action):
    """Danger now outside a protocol: 112 first, then ask which protocol applies."""

    def name(self) -> str:
        return names.ACTION_ACUTE_DANGER

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(**presenter.acute_danger())
        dispatcher.utter_message(**presenter.topic_question(get_engine().knowledge.protocols.values()))
        return [SlotSet(names.ACUTE, True)]
