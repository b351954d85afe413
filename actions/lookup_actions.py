"""The look-up actions: outside the form a rule maps each ``vraag_*`` intent to one of
them; the answers themselves are in ``look_ups`` (shared with the form). Also "wie ben
jij?", which the NLU confuses with "wie is Pharos?"."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge_cache import get_engine
from actions.look_ups import LOOKUPS, asked_look_up
from actions.presenter import utter
from actions.protocol_actions import ActionNotUnderstood
from actions.tracker_utils import latest_intent, user_input

ACTION_LOOKUP_STEP = "action_lookup_step"
ACTION_LOOKUP_STEPS = "action_lookup_steps"
ACTION_LOOKUP_ORGANISATION = "action_lookup_organisation"
ACTION_LOOKUP_WHEN_TO_REPORT = "action_lookup_when_to_report"
ACTION_LOOKUP_KEY_POSITION = "action_lookup_key_position"
ACTION_WIE_BEN_JIJ = "action_wie_ben_jij"


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


class ActionWieBenJij(Action):
    """``bot_challenge`` outside a protocol. "wie is Pharos?" reads to the NLU like "wie
    ben jij?" (0.71): a question that names an organisation or a key position gets its
    look-up, as under any other intent. A message that also speaks of someone's safety
    is not answered with "ik ben een assistent": it is a message not understood, which
    takes the safe general path."""

    def name(self) -> str:
        return ACTION_WIE_BEN_JIJ

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        look_up = asked_look_up(tracker, latest_intent(tracker))
        if look_up is not None:
            utter(dispatcher, await LOOKUPS[look_up](tracker))
            return []
        if get_engine().signals_safety_problem(user_input(tracker)):
            return await ActionNotUnderstood().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_bot_challenge")
        return []
