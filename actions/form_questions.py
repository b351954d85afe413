"""Asking the ``protocol_form``'s next question, from ``validate_protocol_form`` itself.

Why here and not in ``action_ask_<slot>`` actions: Rasa's ``FormAction`` calls the
validation action on every run of the form (activation, an answer, a return after
an interruption) and then, for the next slot, an ``action_ask_<slot>`` if the
domain has one. That is two round trips to the action server per turn, each
carrying the whole tracker, plus the domain. With no ask action in the domain
the form asks nothing itself ("the user might have asked as part of a custom
action", ``FormAction._ask_for_slot``), and a ``SlotSet(requested_slot, slot)``
from the validation action is taken as the slot asked (``request_next_slot``)
and, at activation, keeps the form from validating a second time
(``FormAction.do``). Issue 8 measured this: one call per turn instead of two.

Decided the way Rasa decides: the form ends when the validation set
``requested_slot`` to None or deactivated the loop; else the first required slot
(domain order) that is still empty is asked; none left: the form is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import presenter, session_events
from actions import slots as names
from actions.engine import EngineError, ProtocolState
from actions.knowledge_cache import get_engine
from actions.lookups import fetch_locations
from actions.presenter import utter

logger = logging.getLogger(__name__)


def form_ends(events: Sequence[EventType]) -> bool:
    """The validation ended the form (``FormAction.is_done``): the latest
    ``requested_slot`` it set is None, or it deactivated the loop."""
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == names.REQUESTED_SLOT:
            return event.get("value") is None
        if event.get("event") == "active_loop":
            return event.get("name") is None
    return False


def slot_to_ask(tracker: Tracker, required: Sequence[str], events: Sequence[EventType]) -> str | None:
    """The slot the form requests next, as ``FormAction.request_next_slot`` picks it.

    ``tracker.slots`` already hold the validated values (rasa_sdk's
    ``FormValidationAction`` adds them to the tracker)."""
    if form_ends(events):
        return None
    chosen = next((e.get("value") for e in events
                   if e.get("event") == "slot" and e.get("name") == names.REQUESTED_SLOT), None)
    if chosen:
        return str(chosen)
    return next((slot for slot in required if tracker.get_slot(slot) is None), None)


def asked_again(tracker: Tracker, events: Sequence[EventType]) -> bool:
    """The form already ran for this message and did not move to another step: the
    same question is being asked again (after a look-up or danger handled by
    another action, the form resumes).

    Looks at the events since the latest user message plus ``events``, the ones
    this run of the validation returns."""
    if any(e.get("event") == "slot" and e.get("name") == names.PROTOCOL_STEP for e in events):
        return False
    form_ran = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            break
        if kind == "slot" and event.get("name") == names.PROTOCOL_STEP:
            return False
        if kind == "action" and event.get("name") == names.FORM:
            form_ran = True
    return form_ran


def _end_form() -> list[EventType]:
    """Ends the form: asking again could only loop."""
    return [SlotSet(names.REQUESTED_SLOT, None),
            *(SlotSet(slot, value) for slot, value in names.cleared_protocol().items())]


async def ask_location(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(**presenter.location_question(await fetch_locations() or []))
    return [SlotSet(names.REQUESTED_SLOT, names.LOCATION)]


async def ask_protocol_question(
    dispatcher: CollectingDispatcher, tracker: Tracker, events: Sequence[EventType]
) -> list[EventType]:
    """The question of the current step, after the instructions passed on the way.

    Instructions are shown once, on arrival; a question asked again (after a
    misunderstanding, a look-up, a second topic or danger) comes without them."""
    engine = get_engine()
    state = ProtocolState.from_slots(tracker.slots)
    if state is None:
        dispatcher.utter_message(**presenter.no_protocol())
        return _end_form()
    try:
        step = engine.step(state)
        first_ask = not tracker.get_slot(names.MISSES) and not asked_again(tracker, events)
        instructions = engine.pending_instructions(state) if first_ask else ()
    except EngineError:
        logger.exception("protocol state does not fit the knowledge")
        dispatcher.utter_message(**presenter.state_lost())
        return _end_form()
    messages = presenter.question(step, instructions=instructions)
    utter(dispatcher, messages)
    await session_events.question_asked(tracker, state, step, messages, instructions)
    return [SlotSet(names.REQUESTED_SLOT, names.PROTOCOL_ANSWER)]


async def ask_next(
    dispatcher: CollectingDispatcher, tracker: Tracker, required: Sequence[str], events: Sequence[EventType]
) -> list[EventType]:
    """Asks the form's next slot, if any; returns the events that say so."""
    slot = slot_to_ask(tracker, required, events)
    if slot == names.PROTOCOL_ANSWER:
        return await ask_protocol_question(dispatcher, tracker, events)
    if slot == names.LOCATION:
        return await ask_location(dispatcher)
    if slot is not None:
        logger.error("protocol_form requests %r, which nothing asks", slot)
    return []

