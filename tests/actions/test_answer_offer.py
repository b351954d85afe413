"""A typed answer to the offer of a second protocol after the decision ("Wilt u nu ook
het protocol … doorlopen?"): action_aanbod_beantwoorden, reached by the rules for Ja / Nee
right after action_record_decision, and action_niet_begrepen for a yes or no the NLU was
unsure of. Exact events and messages."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import ActionAcuteDanger, ActionAnswerOffer, ActionNotUnderstood, follow_up_actions
from actions.presenter import ACUTE_TEXT
from actions.record_actions import offer_next_protocol
from tests.actions.helpers import action_event, make_tracker, run, texts
from tests.actions.test_protocol_actions import fresh_slots

OZ = "ongewenste_zwangerschap"
OZ_STARTED = ("Ik volg het protocol Ongewenste zwangerschap. Past dit niet bij de situatie, typ dan 'stop' "
              "en beschrijf de situatie opnieuw.")
#: The decision was recorded and the offer shown; then the counsellor's message.
AFTER_DECISION = [action_event("action_record_decision", 40.0), action_event("action_listen", 41.0)]


def answer(text: str, intent: str, *, offered: str | None = OZ, before: list | None = None) -> Tracker:
    return make_tracker(text=text, intent=intent, metadata={"location": "TERAPEL"},
                           slots={"offered_protocol": offered, "location": "TERAPEL"},
                           events_before=AFTER_DECISION if before is None else before,
                           confidence=0.5 if intent == "nlu_fallback" else 1.0)


def oz_started() -> list:
    started = fresh_slots(protocol=OZ, run="run-3@100.0")
    # The offer is taken up: cleared before the location (start_guide's order).
    return [*started[:-1], SlotSet("offered_protocol", None), started[-1], FollowupAction("protocol_form")]


def test_a_typed_yes_starts_the_offered_protocol() -> None:
    events, messages = run(ActionAnswerOffer(), answer("ja graag", "affirm"))
    assert events == oz_started()
    assert texts(messages) == [OZ_STARTED]


def test_a_typed_no_declines_the_offer() -> None:
    events, messages = run(ActionAnswerOffer(), answer("nee, nu niet", "deny"))
    assert events == [SlotSet("offered_protocol", None)]
    assert [m["response"] for m in messages] == ["utter_nu_niet"]


def test_yes_with_nothing_offered_gets_the_topic_question() -> None:
    events, messages = run(ActionAnswerOffer(), answer("ja", "affirm", offered=None))
    assert events == []
    assert [m["response"] for m in messages] == ["utter_ask_topic"]


def test_an_offer_from_an_earlier_decision_is_not_started() -> None:
    later = [*AFTER_DECISION, action_event("action_lookup_steps", 60.0), action_event("action_listen", 61.0)]
    events, messages = run(ActionAnswerOffer(), answer("ja", "affirm", before=later))
    assert events == [SlotSet("offered_protocol", None)]
    assert [m["response"] for m in messages] == ["utter_ask_topic"]


def test_a_yes_or_no_the_nlu_was_unsure_of_answers_the_offer() -> None:
    events, messages = run(ActionNotUnderstood(), answer("jah hoor", "nlu_fallback"))
    assert events == oz_started()
    assert texts(messages) == [OZ_STARTED]
    events, messages = run(ActionNotUnderstood(), answer("neeh", "nlu_fallback"))
    assert events == [SlotSet("offered_protocol", None)]
    assert [m["response"] for m in messages] == ["utter_nu_niet"]


def test_an_unclear_no_that_reports_a_threat_takes_the_general_path_not_the_offer() -> None:
    events, messages = run(ActionNotUnderstood(), answer("nee maar iemand op de gang bedreigt hem", "nlu_fallback"))
    assert SlotSet("protocol", "algemene_veiligheid") in events
    assert events[-1] == FollowupAction("protocol_form")
    assert "utter_nu_niet" not in [m.get("response") for m in messages]


def test_without_an_offer_an_unclear_no_gets_the_question_explained() -> None:
    events, messages = run(ActionNotUnderstood(), answer("neeh", "nlu_fallback", offered=None))
    assert events == []
    assert [m["response"] for m in messages] == ["utter_default"]


def test_the_offer_is_kept_for_the_answer_and_an_old_one_cleared() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"pending_protocol": OZ})
    assert offer_next_protocol(dispatcher, tracker, "seksueel_geweld") == [
        SlotSet("pending_protocol", None), SlotSet("offered_protocol", OZ)]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"offered_protocol": OZ})
    assert offer_next_protocol(dispatcher, tracker, "seksueel_geweld") == [SlotSet("offered_protocol", None)]
    assert dispatcher.messages == []


def test_not_at_the_moment_to_the_offer_declines_it_and_is_no_alarm() -> None:
    """"niet op dit moment" is acuut_gevaar for the NLU (0.80): it got 112 and an acute flag."""
    events, messages = run(ActionAcuteDanger(), answer("niet op dit moment", "acuut_gevaar"))
    assert events == [SlotSet("offered_protocol", None)]
    assert [m["response"] for m in messages] == ["utter_nu_niet"]


def test_not_at_the_moment_with_nothing_asked_asks_the_topic() -> None:
    events, messages = run(ActionAcuteDanger(), answer("op dit moment niet", "acuut_gevaar", offered=None, before=[]))
    assert events == []
    assert [m["response"] for m in messages] == ["utter_ask_topic"]


def test_not_at_the_moment_to_a_follow_up_question_gets_the_question_explained() -> None:
    tracker = make_tracker(text="niet op dit moment", intent="acuut_gevaar", metadata={"location": "TERAPEL"},
                           slots={"follow_up_asked": True, "follow_up_id": "7", "location": "TERAPEL"})
    events, messages = run(ActionAcuteDanger(), tracker)
    assert events == []
    explained = follow_up_actions.question_explained()
    assert [(m["text"], m["buttons"]) for m in messages] == [(explained["text"], explained["buttons"])]
    assert [b["title"] for b in messages[0]["buttons"]] == ["Ja", "Nee", "Later"]


def test_danger_in_the_words_of_a_no_still_gets_112() -> None:
    events, messages = run(ActionAcuteDanger(), answer("nee, hij staat nu met een mes voor de deur", "acuut_gevaar"))
    assert events == [SlotSet("acute", True)]
    assert texts(messages)[0] == ACUTE_TEXT
