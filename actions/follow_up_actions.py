"""Follow-up actions in the chat (issue 15, part 2): the counsellor confirms what it did.

When the counsellor comes back (the greeting) or after its next recorded decision,
the assistant asks about its open follow-ups that are overdue or due within
``ASK_WITHIN_HOURS``, one at a time: "Is Veilig Thuis gebeld voor EGG-…?" with Ja /
Nee / Later. Ja records ``gedaan``; Nee asks the reason in one question
(``follow_up_reason_form``) and records ``niet_gedaan`` with it; Later leaves it open
and it is not asked again in this conversation. Only a verified channel's counsellor is
asked (the open REST channel's ``unverified`` names nobody); the answer goes to the API
with the service credential and that staff id, which the API checks against the
incident.

On the same occasions the Teams conversation reference that the channel put in the
metadata is stored in the API, so that reminders reach the counsellor in Teams.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import presenter
from actions.api_client import ApiError, get_api_client
from actions.knowledge_cache import get_engine
from actions.tracker_utils import (
    latest_entity,
    latest_intent,
    message_metadata,
    staff_id,
    user_input,
    verified_channel,
)
from actions.understanding import confirms_done, means_later
from assistant.channels.namespaces import TEAMS, UNVERIFIED_STAFF
from knowledge.local_time import local_deadline

logger = logging.getLogger(__name__)

ASKED = "follow_up_asked"
FOLLOW_UP_ID = "follow_up_id"
LATER_IDS = "follow_up_later"
REASON = "follow_up_reason"
REQUESTED_SLOT = "requested_slot"
#: Overdue, or due within a day: what a counsellor can still act on today.
ASK_WITHIN_HOURS = 24.0
LATER = "later"
BUTTONS = [
    *presenter.YES_NO_BUTTONS,
    {"title": "Later", "payload": f'/kies{{"keuze": "{LATER}"}}'},
]


def _deadline(due_at: str) -> str:
    try:
        moment = datetime.fromisoformat(due_at)
    except (TypeError, ValueError):
        return str(due_at)
    return local_deadline(moment)


def question(item: dict[str, Any]) -> dict[str, Any]:
    """"Is Veilig Thuis gebeld voor EGG-…?": the action names are past participles."""
    when = f"de termijn was {_deadline(item['due_at'])}" if item.get("overdue") else \
        f"termijn {_deadline(item['due_at'])}"
    return {"text": f"Is {item['action']} voor {item['reference']}? ({when})", "buttons": [dict(b) for b in BUTTONS]}


def question_explained() -> dict[str, Any]:
    """A typed answer to the follow-up question that was not understood."""
    return {"text": "Ik begreep uw antwoord op de vraag hierboven niet. Kies Ja als de actie gedaan is, Nee als "
                    "ze niet gedaan is (dan vraag ik de reden), of Later als ze nog open blijft.",
            "buttons": [dict(b) for b in BUTTONS]}


def _cleared(tracker: Tracker) -> list[EventType]:
    """Nothing asked: the question's slots emptied (no events when they are empty already)."""
    values = {ASKED: False, FOLLOW_UP_ID: None, REASON: None}
    if not any(tracker.get_slot(slot) for slot in values):
        return []
    return [SlotSet(slot, value) for slot, value in values.items()]


async def due_follow_ups(tracker: Tracker) -> list[dict[str, Any]] | None:
    """The counsellor's open follow-ups, overdue or due within ``ASK_WITHIN_HOURS``; None
    when the counsellor is not verified or the API does not answer (asked again next time)."""
    staff = staff_id(tracker)
    if staff == UNVERIFIED_STAFF:
        return None
    try:
        return await asyncio.to_thread(get_api_client().due_follow_ups, staff, ASK_WITHIN_HOURS)
    except ApiError:
        return None


def ask_first(dispatcher: CollectingDispatcher, tracker: Tracker, items: list[dict[str, Any]] | None, *,
              exclude_reference: str | None = None, later: list[str] | None = None) -> list[EventType]:
    """Ask about the first of ``items`` (``due_follow_ups``) not put off with Later; nothing
    when there is none."""
    skipped = set(later if later is not None else tracker.get_slot(LATER_IDS) or [])
    due = [i for i in items or [] if str(i.get("id")) not in skipped and i.get("reference") != exclude_reference]
    if not due:
        return _cleared(tracker)
    dispatcher.utter_message(**question(due[0]))
    return [SlotSet(ASKED, True), SlotSet(FOLLOW_UP_ID, str(due[0]["id"])), SlotSet(REASON, None)]


async def ask_next(dispatcher: CollectingDispatcher, tracker: Tracker, *, later: list[str] | None = None
                   ) -> list[EventType]:
    """Ask about the first due follow-up not put off with Later (see ``ask_first``)."""
    return ask_first(dispatcher, tracker, await due_follow_ups(tracker), later=later)


async def store_teams_reference(tracker: Tracker) -> None:
    """Where Teams reaches this counsellor later (the channel's reference; no content)."""
    if verified_channel(tracker) != TEAMS:
        return
    metadata = message_metadata(tracker)
    reference, staff = metadata.get("conversation_reference"), staff_id(tracker)
    if not isinstance(reference, dict) or staff == UNVERIFIED_STAFF or not metadata.get("tenant"):
        return
    body = {**{key: str(value) for key, value in reference.items()}, "staff_id": staff,
            "tenant_id": str(metadata["tenant"])}  # fmt: skip
    try:
        await asyncio.to_thread(get_api_client().store_teams_reference, body)
    except ApiError:
        logger.warning("Teams conversation reference not stored (stored at the next contact)")


class ActionFollowUpCheck(Action):
    """After the greeting: store where Teams reaches the counsellor, then ask about a due follow-up."""

    def name(self) -> str:
        return "action_follow_up_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        await store_teams_reference(tracker)
        return await ask_next(dispatcher, tracker)


def _recorded(answer: dict[str, Any], status: str) -> str:
    if status == "gedaan":
        return f"Vastgelegd: {answer.get('action')} voor {answer.get('reference')} is gedaan. Dank u."
    return (f"Vastgelegd: {answer.get('action')} voor {answer.get('reference')} is niet gedaan, met uw reden. "
            "De contactpersoon veiligheid ziet dit op Mijn acties.")


class ActionFollowUpAnswer(Action):
    """Ja / Later to the question, or the reason after Nee: record it, then ask the next one."""

    def name(self) -> str:
        return "action_follow_up_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        follow_up_id = tracker.get_slot(FOLLOW_UP_ID)
        later = list(tracker.get_slot(LATER_IDS) or [])
        if not follow_up_id:
            return _cleared(tracker)
        reason = tracker.get_slot(REASON)
        text = user_input(tracker).text
        typed = not text.startswith("/")  # a button sends its payload
        intent = latest_intent(tracker)
        if reason:
            status: str | None = "niet_gedaan"
        elif typed and means_later(text):
            status = None
        elif intent == "affirm":
            if typed and not confirms_done(text):
                # Only a clear yes records "gedaan" (the NLU takes "straks" for a yes).
                dispatcher.utter_message(**question_explained())
                return []
            status = "gedaan"
        else:  # Later, leaving ("doei", "tot later"), or the reason question was stopped: it stays open
            status = None
        if status is None:
            later.append(follow_up_id)
            dispatcher.utter_message(text="Goed, die actie blijft open. Ik vraag er een volgende keer weer naar; "
                                          "u kunt haar ook bevestigen op Mijn acties.")
        else:
            await self._record(dispatcher, tracker, follow_up_id, status, reason)
        if intent == "goodbye":
            dispatcher.utter_message(response="utter_goodbye")
            return [SlotSet(LATER_IDS, later), *_cleared(tracker)]
        return [SlotSet(LATER_IDS, later), *await ask_next(dispatcher, tracker, later=later)]

    @staticmethod
    async def _record(dispatcher: CollectingDispatcher, tracker: Tracker, follow_up_id: str, status: str,
                      reason: str | None) -> None:
        try:
            answer = await asyncio.to_thread(get_api_client().record_follow_up, follow_up_id, staff_id(tracker),
                                             status, reason)  # fmt: skip
        except ApiError as error:
            if error.status == 409:
                dispatcher.utter_message(text="Die actie was al bevestigd, bijvoorbeeld op Mijn acties.")
            else:
                dispatcher.utter_message(text="Uw antwoord kon nu niet worden vastgelegd. De actie blijft open: "
                                              "bevestig haar later op Mijn acties.")
            return
        dispatcher.utter_message(text=_recorded(answer, status))


class ValidateFollowUpReasonForm(FormValidationAction):
    """The reason after Nee. Danger now gets 112 first (contract) and the question again;
    "stop" ends the question and leaves the follow-up open."""

    def name(self) -> str:
        return "validate_follow_up_reason_form"

    async def validate_follow_up_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> dict[str, Any]:
        if get_engine().signals_danger(user_input(tracker)):
            dispatcher.utter_message(**presenter.acute_danger())
            return {REASON: None}
        if latest_intent(tracker) == "stop" or latest_entity(tracker, "keuze") == LATER:
            return {REASON: None, REQUESTED_SLOT: None}
        text = str(value or "").strip()
        return {REASON: text[:1000] or None}
