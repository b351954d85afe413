"""The look-up actions: outside the form a rule maps each ``vraag_*`` intent to one of
them; the answers themselves are in ``look_ups`` (shared with the form)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.look_ups import LOOKUPS, asked_look_up
from actions.presenter import utter
from actions.protocol_actions import ActionNotUnderstood

ACTION_LOOKUP_STEP = "action_lookup_step"
ACTION_LOOKUP_STEPS = "action_lookup_steps"
ACTION_LOOKUP_ORGANISATION = "action_lookup_organisation"
ACTION_LOOKUP_WHEN_TO_REPORT = "action_lookup_when_to_report"
ACTION_LOOKUP_KEY_POSITION = "action_lookup_key_position"


# --------------------------------------------------------------------------- actions


class _LookupAction(Action, ABC):
    """Answers one look-up intent; abstract, so the action server does not register it."""

    intent: str = ""

    @abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if asked_look_up(tracker, self.intent) is None:
            # "ze is 7" (to the NLU: vraag_stap) asks nothing and names no step: a message
            # not understood (the safe general path when it speaks of someone's safety).
            return await ActionNotUnderstood().run(dispatcher, tracker, domain)
        utter(dispatcher, await LOOKUPS[self.intent](tracker))
        return []


class ActionLookupStep(_LookupAction):
    intent = "vraag_stap"

    def name(self) -> str:
        return ACTION_LOOKUP_STEP


class ActionLookupSteps(_LookupAction):
    intent = "vraag_stappen"

    def name(self) -> str:
        return ACTION_LOOKUP_STEPS


class ActionLookupOrganisation(_LookupAction):
    intent = "vraag_organisatie"

    def name(self) -> str:
        return ACTION_LOOKUP_ORGANISATION


class ActionLookupWhenToReport(_LookupAction):
    intent = "vraag_wanneer_melden"

    def name(self) -> str:
        return ACTION_LOOKUP_WHEN_TO_REPORT


class ActionLookupKeyPosition(_LookupAction):
    intent = "vraag_sleutelpersoon"

    def name(self) -> str:
        return ACTION_LOOKUP_KEY_POSITION
