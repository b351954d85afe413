"""Starting a protocol (or the safe general path), and danger-now outside a protocol."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import follow_up_actions, presenter, session_events
from actions import slots as names
from actions.engine import YES_NO_INTENTS
from actions.knowledge_cache import get_engine
from actions.look_ups import LOOKUPS, asked_look_up
from actions.presenter import utter
from actions.tracker_utils import last_action_among, latest_intent, metadata_location, previous_action, user_input
from actions.understanding import asks_what_the_assistant_does, means_later, parse_yes_no, signals_danger_now
from knowledge import Protocol

#: The intent of a message the NLU is unsure of (FallbackClassifier).
FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"


async def start_guide(dispatcher: CollectingDispatcher, tracker: Tracker, protocol: Protocol,
                      *, announce: bool = True, reason: dict[str, Any] | None = None) -> list[EventType]:
    """Fresh protocol slots for ``protocol`` (or the general path), 112 first when the
    message says the danger is now (which answers the first question, "Is iemand nu in
    direct gevaar?", when the words say so), then (``announce``) which protocol it is, and
    ``reason``: why it leads when the report seemed to ask for another (logged too)."""
    engine = get_engine()
    # The report itself may say the danger is now ("hij staat nu met een mes
    # voor de deur"): the contract wants 112 in the very next reply.
    danger_now = engine.signals_danger(user_input(tracker), protocol.id)
    if danger_now:
        dispatcher.utter_message(**presenter.acute_danger(engine.acute_step(protocol.id)))
    if announce:
        dispatcher.utter_message(**presenter.protocol_started(protocol))
    if reason is not None:
        dispatcher.utter_message(**reason)
    # Danger flagged by action_acute_danger just before (the counsellor then
    # picked the topic) belongs to this protocol run; an acute flag left by an
    # earlier, recorded or stopped, run does not.
    flagged_before = tracker.get_slot(names.ACUTE) is True and last_action_among(
        tracker, {names.ACTION_ACUTE_DANGER, names.ACTION_RECORD_DECISION, names.ACTION_START_PROTOCOL,
                  names.ACTION_NOT_UNDERSTOOD}
    ) == names.ACTION_ACUTE_DANGER
    state = engine.start(protocol.id, acute=danger_now or flagged_before)
    told = engine.answered_by_report(state, user_input(tracker))
    run_id = session_events.new_run_id(tracker)
    await session_events.run_started(tracker, run_id, state, acute_shown=state.acute,
                                     reason=reason["text"] if reason is not None else None, answered=told)
    if told is not None:
        state = told.state

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
    if tracker.get_slot(names.OFFERED_PROTOCOL):
        values[names.OFFERED_PROTOCOL] = None
    location = metadata_location(tracker)
    if location:
        # Raw value: the form validates it (validate_location) when it activates.
        values[names.LOCATION] = location
    return [SlotSet(slot, value) for slot, value in values.items()]


def note_second_topic(dispatcher: CollectingDispatcher, tracker: Tracker, other: Protocol,
                      *, starting: str | None = None, after: str = "dit protocol") -> dict[str, Any]:
    """``pending_protocol``: ``other`` noted, to be offered after this protocol's decision.
    One topic is kept: when another one is noted already, it stays and the user hears
    how to start ``other`` later. ``starting``: the protocol this message starts (a topic
    noted for it is being taken up now, so it no longer counts)."""
    protocols = get_engine().knowledge.protocols
    pending = tracker.get_slot(names.PENDING_PROTOCOL)
    if pending and pending not in (other.id, starting) and pending in protocols:
        dispatcher.utter_message(**presenter.second_topic_not_kept(protocols[pending], other))
        return {}
    dispatcher.utter_message(**presenter.second_topic_noted(other, after=after))
    return {names.PENDING_PROTOCOL: other.id}


def named_other_protocol(tracker: Tracker, running: str) -> Protocol | None:
    """Another protocol than ``running`` (an id) that the message names ("8 weken zwanger
    na een verkrachting"), by its ``protocol`` entities (the signal phrases in knowledge/):
    every one of them, since the running protocol's own name may come first."""
    protocols = get_engine().knowledge.protocols
    for value in tracker.get_latest_entity_values(names.PROTOCOL):
        other = protocols.get(str(value))
        if other is not None and other.id != running:
            return other
    return None


class ActionStartProtocol(Action):
    """Starts the protocol (or the general path) that belongs to the latest intent."""

    def name(self) -> str:
        return names.ACTION_START_PROTOCOL

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        engine = get_engine()
        asked_for = engine.knowledge.protocol_for_intent(latest_intent(tracker) or "")
        look_up = asked_look_up(tracker, latest_intent(tracker))
        if look_up is not None:
            # A question, not a report: answered, and no protocol starts (the rule's
            # protocol_form is skipped; the next message is read afresh).
            utter(dispatcher, await LOOKUPS[look_up](tracker))
            return [FollowupAction(names.ACTION_LISTEN)]
        if asked_for is None:
            dispatcher.utter_message(**presenter.no_protocol())
            return []
        # Violence against a pregnant woman is the meldcode's first, whatever the NLU
        # made of the pregnancy: the protocol that gives way is noted for afterwards.
        protocol, give_way = engine.leading_protocol(asked_for, user_input(tracker))
        events = await start_guide(dispatcher, tracker, protocol,
                                   reason=presenter.gave_way(give_way) if give_way is not None else None)
        # A report of two situations starts one protocol; the other is offered after
        # its decision, as a topic named during the protocol is, instead of being lost.
        other = asked_for if give_way is not None else named_other_protocol(tracker, protocol.id)
        if other is None:
            return events
        noted = note_second_topic(dispatcher, tracker, other, starting=protocol.id)
        return [*events, *(SlotSet(slot, value) for slot, value in noted.items())]


def answer_to_offer(tracker: Tracker) -> str | None:
    """"ja" / "nee" to the offer of a protocol after the decision: the button's intent
    (affirm, deny) or a typed yes or no the NLU was unsure of ("neeh", "ja hoor")."""
    by_intent = YES_NO_INTENTS.get(latest_intent(tracker) or "")
    return by_intent or parse_yes_no(user_input(tracker).text)


def offer_open(tracker: Tracker) -> bool:
    """A protocol was offered after the decision, and this message is the first answer."""
    return bool(tracker.get_slot(names.OFFERED_PROTOCOL)) and previous_action(tracker) == names.ACTION_RECORD_DECISION


class ActionAnswerOffer(Action):
    """Ja or Nee right after a recorded decision, typed or a button. "Ja" starts the
    protocol offered with it ("Wilt u nu ook het protocol … doorlopen?"), as its
    "Start: …" button does; "Nee" / "Nu niet" leaves it. A "Ja" to nothing offered
    gets the topic question, as outside a question anywhere."""

    def name(self) -> str:
        return names.ACTION_ANSWER_OFFER

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        offered = get_engine().knowledge.protocols.get(str(tracker.get_slot(names.OFFERED_PROTOCOL) or ""))
        answer = answer_to_offer(tracker)
        if answer == "ja" and offered is not None and offer_open(tracker):
            return [*await start_guide(dispatcher, tracker, offered), FollowupAction(names.FORM)]
        dispatcher.utter_message(response="utter_nu_niet" if answer == "nee" else "utter_ask_topic")
        return [SlotSet(names.OFFERED_PROTOCOL, None)] if tracker.get_slot(names.OFFERED_PROTOCOL) else []


class ActionNotUnderstood(Action):
    """A message the NLU is unsure of, or took for out of scope, outside a protocol.
    Fail safe: when it is about someone's safety it gets the safe general path
    (recorded under the neutral category), never the nearest protocol; anything else
    gets the question explained with the topics as buttons, or the out-of-scope answer."""

    def name(self) -> str:
        return names.ACTION_NOT_UNDERSTOOD

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        engine = get_engine()
        general = engine.knowledge.general_path
        out_of_scope = latest_intent(tracker) == OUT_OF_SCOPE_INTENT
        said = user_input(tracker)
        if tracker.get_slot(follow_up_actions.ASKED) and not engine.signals_safety_problem(said):
            # A typed answer to "Is Veilig Thuis gebeld voor …?" (buttons Ja / Nee / Later).
            if means_later(said.text):
                return await follow_up_actions.ActionFollowUpAnswer().run(dispatcher, tracker, domain)
            dispatcher.utter_message(**follow_up_actions.question_explained())
            return []
        if offer_open(tracker) and answer_to_offer(tracker) and not engine.signals_safety_problem(said):
            # A typed answer to "Wilt u nu ook het protocol … doorlopen?" ("neeh, later").
            return await ActionAnswerOffer().run(dispatcher, tracker, domain)
        look_up = asked_look_up(tracker, latest_intent(tracker))
        if look_up is not None:
            # A question about an organisation or a key position the NLU did not take
            # for one ("wat doet Pharos?"): answered, not "niet begrepen".
            utter(dispatcher, await LOOKUPS[look_up](tracker))
            return []
        if asks_what_the_assistant_does(said.text) and not engine.signals_safety_problem(said):
            dispatcher.utter_message(response="utter_greet")  # what it does, with examples
            return []
        # What the message says decides, not the NLU's runner-up guesses: under its
        # fallback those are often a protocol for a toothache or the weather.
        if general is None or not engine.signals_safety_problem(said):
            dispatcher.utter_message(response="utter_out_of_scope" if out_of_scope else "utter_default")
            return []
        return await start_general_path(dispatcher, tracker, general)


async def start_general_path(dispatcher: CollectingDispatcher, tracker: Tracker, general: Protocol) -> list[EventType]:
    """The safe general path for a report in which no protocol was recognised, 112 first
    when the danger is now. A protocol the message names by its signal phrases ("wil zich
    van kant maken") is noted, and offered after the general path's decision."""
    events = await start_guide(dispatcher, tracker, general, announce=False)
    dispatcher.utter_message(**presenter.general_path_started())
    named = named_other_protocol(tracker, general.id)
    noted = ({} if named is None else
             note_second_topic(dispatcher, tracker, named, starting=general.id, after="deze algemene stappen"))
    return [*events, *(SlotSet(slot, value) for slot, value in noted.items()), FollowupAction(names.FORM)]


class ActionGreet(Action):
    """The greeting, with what the assistant does. Fail safe: a message the NLU took for a
    greeting that also tells of someone's safety ("hallo, een bewoner wil zich van kant
    maken" was greet at 0.82) is a report, and gets the safe general path, not a hello."""

    def name(self) -> str:
        return names.ACTION_GREET

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        engine = get_engine()
        general = engine.knowledge.general_path
        if general is not None and engine.signals_safety_problem(user_input(tracker)):
            # The form follows at once: the rule's follow-up question waits for a calmer moment.
            return await start_general_path(dispatcher, tracker, general)
        dispatcher.utter_message(response="utter_greet")
        return []


class ActionAcuteDanger(Action):
    """Danger now outside a protocol: 112 first, then ask which protocol applies.

    A typed no is no alarm: "niet op dit moment" is acuut_gevaar for the NLU (0.80), and
    typed to "Wilt u nu ook het protocol … doorlopen?" or "Is Veilig Thuis gebeld?" it
    got 112. Danger in the words themselves still counts ("nee, hij staat nu met een mes
    voor de deur")."""

    def name(self) -> str:
        return names.ACTION_ACUTE_DANGER

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = user_input(tracker).text or ""
        if parse_yes_no(text) == "nee" and not signals_danger_now(text):
            if offer_open(tracker):
                return await ActionAnswerOffer().run(dispatcher, tracker, domain)
            if tracker.get_slot(follow_up_actions.ASKED):
                dispatcher.utter_message(**follow_up_actions.question_explained())
            else:
                dispatcher.utter_message(response="utter_ask_topic")  # as a "nee" with nothing asked
            return []
        dispatcher.utter_message(**presenter.acute_danger())
        knowledge = get_engine().knowledge
        dispatcher.utter_message(**presenter.topic_question(knowledge.protocols.values(), knowledge.general_path))
        return [SlotSet(names.ACUTE, True)]
