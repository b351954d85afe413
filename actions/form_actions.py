"""The ``protocol_form``: its validation and the actions that ask its slots.

Form semantics relied on (rasa_sdk 3.6 ``FormValidationAction``, Rasa 3.6.21
``FormAction``):

- ``validate_<slot>`` is called only for slots set since the form's last
  ``ActionExecuted`` (``Tracker.slots_to_validate``); its returned dict becomes
  ``SlotSet`` events, other slots included.
- Returning ``protocol_answer: None`` keeps the slot empty, so the form asks it
  again; ``"klaar"`` fills it, the form completes and the domain's rule runs
  ``action_record_decision``.
- The form's questions are asked by this action too, after validating
  (``actions.form_questions``): the domain has no ``action_ask_<slot>``, so the
  form makes one call to the action server per turn instead of two.
- Returning ``requested_slot: None`` ends the form early (``FormAction.is_done``).
- ``extract_<slot>`` runs for every required slot on every run of this action,
  before validation; ``requested_slot`` in the tracker is the slot being asked.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import presenter, record_actions, session_events
from actions import slots as names
from actions.engine import EngineError, ProtocolState, UserInput
from actions.form_questions import ask_next
from actions.knowledge_cache import get_engine
from actions.locations import fallback_code, location_name, match_location
from actions.look_ups import LOOKUPS, asked_look_up
from actions.lookups import fetch_holders, fetch_locations
from actions.presenter import utter
from actions.protocol_actions import named_other_protocol, note_second_topic
from actions.tracker_utils import (
    latest_entity,
    latest_intent,
    latest_intent_confidence,
    metadata_location,
    user_input,
)
from actions.understanding import (
    STOP_WORDS,
    asks_a_question,
    asks_how_long,
    asks_to_pause,
    echoes_option,
    normalise_text,
)
from knowledge import Option, Protocol, questions_left

logger = logging.getLogger(__name__)

#: Misunderstood answers in a row after which a person is offered instead.
MISSES_BEFORE_CONTACT = 2
#: A message of at most this many words that answers the question is an answer,
#: whatever intent the NLU gave it ("4" is not a look-up of step 4).
SHORT_ANSWER_WORDS = 3
#: A report intent of another protocol counts as a second topic only when the NLU
#: is this sure: a vague answer ("pfff lastig te zeggen") can get a report intent
#: at ~0.6, real second topics ("ze is ook zwanger") score above 0.99.
SECOND_TOPIC_CONFIDENCE = 0.9
#: Actions that may run between the user's message and this validation when the
#: message is being answered to the form (anything else means the form is
#: resuming after another action handled that message).
_FORM_TURN_ACTIONS = {names.ACTION_LISTEN, "action_extract_slots", names.FORM, "validate_protocol_form"}


def _answers_this_message(tracker: Tracker) -> bool:
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return True
        if kind == "action_execution_rejected":
            return False
        if kind == "action" and event.get("name") not in _FORM_TURN_ACTIONS:
            return False
    return False


class ValidateProtocolForm(FormValidationAction):
    def name(self) -> str:
        return "validate_protocol_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Validates what the message filled, then asks the form's next question."""
        events = await super().run(dispatcher, tracker, domain)
        return [*events, *await ask_next(dispatcher, tracker, self.domain_slots(domain), events)]

    # -- location

    async def extract_location(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The answer to the location question: a button, a recognised entity or typed text.

        Works whatever the domain maps to ``location``, so a clicked
        ``/kies{"keuze": "ZWOLLE"}`` or a typed "Zwolle" always reaches
        ``validate_location``.
        """
        if tracker.get_slot(names.REQUESTED_SLOT) != names.LOCATION or not _answers_this_message(tracker):
            return {}
        if names.LOCATION in tracker.slots_to_validate():
            return {}
        text = (tracker.latest_message.get("text") or "").strip()
        value = (latest_entity(tracker, "keuze") or latest_entity(tracker, names.LOCATION)
                 or (text if not text.startswith("/") else None))
        return {names.LOCATION: value} if value else {}

    async def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        channel_location = metadata_location(tracker)
        if channel_location:
            # The channel knows where this staff member works (Teams mapping, web
            # account): a place named in free text never overrides it.
            value = channel_location
        text = str(value or "").strip()
        locations = await fetch_locations()
        if locations is None:
            # Without the API the location cannot be checked; the advice must not
            # wait for it. The recording step reports if the API stays down.
            logger.warning("locations unavailable; accepting %r unchecked", text)
            return {names.LOCATION: fallback_code(text)}
        match = match_location(text, locations)
        if match:
            return {names.LOCATION: str(match["code"])}
        dispatcher.utter_message(**presenter.location_unknown(text))
        return {names.LOCATION: None}

    # -- protocol answers

    async def validate_protocol_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Every message while a protocol question is open.

        In this order: acute danger (112 first, always); stop / opnieuw / terug;
        a look-up question (answered, then the question is asked again); a
        report that belongs to another protocol (noted as a second topic); the
        answer itself; not understood (explained, and after two misses the
        location's contactpersoon veiligheid is offered).
        """
        if tracker.get_slot(names.REQUESTED_SLOT) != names.PROTOCOL_ANSWER:
            # Filled while another slot (the location) was asked: not an answer.
            return {names.PROTOCOL_ANSWER: None}
        engine = get_engine()
        user = user_input(tracker)
        intent = _intent_of(latest_intent(tracker), tracker, user)
        danger = engine.signals_danger(user, tracker.get_slot(names.PROTOCOL))
        if intent == names.STOP_INTENT and not danger and asks_to_pause(user.text):
            # The run stays open (and comes back after Rasa's session ends): stopping
            # would lose the answers given so far.
            dispatcher.utter_message(**presenter.paused())
            return {names.PROTOCOL_ANSWER: None}
        if intent == names.STOP_INTENT:
            if danger:
                dispatcher.utter_message(**presenter.acute_danger(engine.acute_step(tracker.get_slot(names.PROTOCOL))))
            dispatcher.utter_message(**presenter.stopped())
            await session_events.stopped(tracker, ProtocolState.from_slots(tracker.slots), acute_shown=danger)
            return {names.REQUESTED_SLOT: None, **names.cleared_protocol()}

        state = ProtocolState.from_slots(tracker.slots)
        if state is None:
            dispatcher.utter_message(**presenter.no_protocol())
            return {names.REQUESTED_SLOT: None, **names.cleared_protocol()}
        try:
            if not danger:
                handled = await self._not_an_answer(intent, state, user, dispatcher, tracker)
                if handled is not None:
                    return handled
            turn = engine.answer(state, user)
        except EngineError:
            logger.exception("protocol state does not fit the knowledge")
            dispatcher.utter_message(**presenter.state_lost())
            await session_events.error(tracker, state, presenter.state_lost()["text"])
            return {names.REQUESTED_SLOT: None, **names.cleared_protocol()}

        if turn.acute:
            # Contract: on danger now the reply starts with 112, whatever else follows.
            dispatcher.utter_message(**presenter.acute_danger(engine.acute_step(state.protocol)))
        if turn.understood:
            await session_events.answer_given(tracker, state, turn)
        elif turn.acute:
            await session_events.acute_advice(tracker, state)

        if turn.understood:
            if turn.finished:
                record_actions.record_ahead(tracker, turn.state)
            return {
                names.PROTOCOL_ANSWER: names.DONE if turn.finished else None,
                **turn.state.to_slots(),
                names.MISSES: 0.0,
                **self._second_topic(intent, state, dispatcher, tracker, answered=user,
                                     option=engine.step(state).option_for(turn.answer)),
            }
        if turn.help is None:
            # Danger reported mid-question: 112 was said, the same question is asked again.
            return {names.PROTOCOL_ANSWER: None, names.ACUTE: True}

        misses = float(tracker.get_slot(names.MISSES) or 0) + 1
        dispatcher.utter_message(**(presenter.unsure(turn.step) if turn.unsure
                                    else presenter.not_understood(turn.step)))
        if misses >= MISSES_BEFORE_CONTACT:
            location = tracker.get_slot(names.LOCATION)
            holders = await fetch_holders(location)
            contacts = [h for h in holders or [] if h.get("position") == "contactpersoon_veiligheid"]
            name = location_name(location, await fetch_locations())
            dispatcher.utter_message(**presenter.safety_contact(name, contacts))
        return {names.PROTOCOL_ANSWER: None, names.MISSES: misses}

    async def _not_an_answer(
        self, intent: str | None, state: ProtocolState, user: UserInput, dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> dict[str, Any] | None:
        """Slot values for a message that is no answer (control, look-up, second
        topic), or None when the message is to be read as an answer."""
        engine = get_engine()
        protocol = engine.protocol(state.protocol)
        if intent == names.RESTART_INTENT:
            restarted = engine.restart(state)
            dispatcher.utter_message(**presenter.restarted(protocol))
            await session_events.restarted(tracker, state, restarted)
            return {names.PROTOCOL_ANSWER: None, **restarted.to_slots(), names.MISSES: 0.0}
        if intent == names.BACK_INTENT:
            previous = engine.back(state)
            if previous is None:
                dispatcher.utter_message(**presenter.at_first_question())
                return {names.PROTOCOL_ANSWER: None}
            dispatcher.utter_message(**presenter.went_back())
            await session_events.went_back(tracker, state, previous)
            return {names.PROTOCOL_ANSWER: None, **previous.to_slots(), names.MISSES: 0.0}
        step = engine.step(state)
        if asks_how_long(user.text) and engine.interpret(step, user, use_intent=False) is None:
            fewest, most = questions_left(protocol, step.id)
            dispatcher.utter_message(**presenter.how_many_left(max(fewest - 1, 0), max(most - 1, 0)))
            return {names.PROTOCOL_ANSWER: None}
        look_up = asked_look_up(tracker, intent)
        if look_up is not None and not _short_answer(engine.interpret(step, user, use_intent=False), user):
            answer = await LOOKUPS[look_up](tracker)
            utter(dispatcher, answer)
            await session_events.lookup_answered(tracker, state, answer)
            return {names.PROTOCOL_ANSWER: None}
        other = _other_protocol(intent, state, tracker)
        if other is not None and (step.kind == "text" or engine.interpret(step, user, use_intent=False) is None):
            # Not (also) an answer to this question: note the topic, ask the question again.
            return {names.PROTOCOL_ANSWER: None, **self._second_topic(intent, state, dispatcher, tracker)}
        return None

    @staticmethod
    def _second_topic(
        intent: str | None, state: ProtocolState, dispatcher: CollectingDispatcher, tracker: Tracker,
        answered: UserInput | None = None, option: Option | None = None,
    ) -> dict[str, Any]:
        """``pending_protocol`` when the message reports another protocol's situation.

        A message that answered the question in a few words ("eergisteren", "een
        medebewoner") or in the words of the ``option`` it chose ("een kind bij zijn
        ouders") is that answer, whatever report intent the NLU gave it; only a
        protocol named in it ("ja, ook zwanger") is a second topic."""
        if answered is not None and (len(answered.text.split()) <= SHORT_ANSWER_WORDS
                                     or (option is not None and echoes_option(answered.text, option))):
            intent = None
        other = _other_protocol(intent, state, tracker)
        return {} if other is None else note_second_topic(dispatcher, tracker, other)


def _other_protocol(intent: str | None, state: ProtocolState, tracker: Tracker) -> Protocol | None:
    """The other protocol this message reports: by its report intent, or (when the
    message is no look-up) by a ``protocol`` entity naming it ("ze is ook zwanger")."""
    knowledge = get_engine().knowledge
    protocol = knowledge.protocol_for_intent(intent or "")
    if protocol is not None and latest_intent_confidence(tracker) < SECOND_TOPIC_CONFIDENCE:
        protocol = None
    if protocol is None and intent not in LOOKUPS:
        return named_other_protocol(tracker, state.protocol)
    return protocol if protocol is not None and protocol.id != state.protocol else None


def _short_answer(answer: Any, user: UserInput) -> bool:
    """An answer to the question beats a look-up intent, unless it asks something:
    "4", "ja hoor", "ongeveer acht weken denk ik" are answers; "wat is stap 4?" is
    a look-up."""
    if answer is None:
        return False
    return len(normalise_text(user.text).split()) <= SHORT_ANSWER_WORDS or not asks_a_question(user.text)
#: Words that say stop / opnieuw / terug outright ("nee, stop maar").
_CONTROL_WORDS = re.compile(rf"\b({STOP_WORDS}|opnieuw|overnieuw|terug|vorige)\b")
_CONTROL_INTENTS = {names.STOP_INTENT, names.RESTART_INTENT, names.BACK_INTENT}


def _intent_of(intent: str | None, tracker: Tracker, user: UserInput) -> str | None:
    """The NLU intent, except a stop / opnieuw / terug intent on a message that answers
    the open question and says no such word: "ongeveer acht weken denk ik" was
    classified as ``terug`` and would have gone back a question. Any text answers a
    free-text question, so there the intent stands."""
    if intent not in _CONTROL_INTENTS or _CONTROL_WORDS.search(normalise_text(user.text)):
        return intent
    engine = get_engine()
    state = ProtocolState.from_slots(tracker.slots)
    try:
        step = engine.step(state) if state is not None else None
    except EngineError:
        return intent
    if step is None or step.kind == "text" or engine.interpret(step, user, use_intent=False) is None:
        return intent
    return None
