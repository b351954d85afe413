"""Fail safe (issue 13, part 5): a message about someone's safety that the NLU is unsure
of gets the safe general path, recorded under the neutral category; never the nearest
protocol. Exact events and messages of action_niet_begrepen, the engine on the general
path, and the menu offered after its decision."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import ActionGreet, ActionNotUnderstood
from actions.engine import ProtocolEngine, UserInput
from actions.presenter import ACUTE_TEXT, general_path_started, second_topic_noted
from actions.record_actions import offer_next_protocol
from knowledge import Knowledge
from tests.actions.helpers import make_tracker, run, texts
from tests.actions.test_protocol_actions import fresh_slots

GENERAL = "algemene_veiligheid"
ROOT = Path(__file__).resolve().parents[2]


def started_slots(*, acute: bool = False, told_at: str | None = None) -> list:
    return fresh_slots(acute=acute, protocol=GENERAL, told_at=told_at)


def fallback(text: str, *ranking: tuple[str, float]) -> Tracker:
    tracker = make_tracker(text=text, intent="nlu_fallback", confidence=0.5, metadata={"location": "TERAPEL"})
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                *({"name": n, "confidence": c} for n, c in ranking)]
    return tracker


def test_an_unclear_message_about_a_threat_starts_the_general_path() -> None:
    tracker = fallback("iemand op de gang bedreigt hem al dagen", ("out_of_scope", 0.41), ("greet", 0.1))
    events, messages = run(ActionNotUnderstood(), tracker)
    assert events == [*started_slots(), FollowupAction("protocol_form")]
    assert texts(messages) == [general_path_started()["text"]]
    assert "algemene veiligheidsstappen" in messages[0]["text"]


def test_the_nlu_runner_up_does_not_decide() -> None:
    # Under the fallback the NLU's best guess is often a protocol for a toothache: only
    # what the message says about safety leads to the general path.
    tracker = fallback("een bewoner heeft kiespijn, waar kan hij heen", ("melding_ongewenste_zwangerschap", 0.45),
                       ("out_of_scope", 0.4))
    events, messages = run(ActionNotUnderstood(), tracker)
    assert events == []
    assert [m["response"] for m in messages] == ["utter_default"]


def test_danger_now_in_an_unclear_message_gets_112_before_anything_else() -> None:
    tracker = fallback("hij staat nu met een mes op de gang", ("out_of_scope", 0.4))
    events, messages = run(ActionNotUnderstood(), tracker)
    assert texts(messages) == [ACUTE_TEXT, general_path_started()["text"]]
    assert events == [*started_slots(acute=True, told_at="wie_bewoner"), FollowupAction("protocol_form")]


def test_an_unclear_message_without_a_safety_signal_gets_the_question_explained() -> None:
    tracker = fallback("kun je de planning van de schoonmaak doorsturen", ("out_of_scope", 0.45),
                       ("vraag_stappen", 0.2))
    events, messages = run(ActionNotUnderstood(), tracker)
    assert events == []
    assert [m["response"] for m in messages] == ["utter_default"]


def test_a_question_about_an_organisation_taken_for_out_of_scope_is_answered(knowledge: Knowledge) -> None:
    tracker = make_tracker(text="wat doet Pharos?", intent="out_of_scope", metadata={"location": "TERAPEL"},
                           entities=[{"entity": "organisation", "value": "pharos", "start": 9, "end": 15}])
    events, messages = run(ActionNotUnderstood(), tracker)
    assert events == []
    assert texts(messages)[0].startswith(f"{knowledge.organisations['pharos'].name}:")


def test_a_question_about_an_organisation_that_also_reports_takes_the_general_path() -> None:
    """"wat doet het CSG, ze is gisteren verkracht": a report (fail safe), not a look-up."""
    text = "wat doet het CSG, ze is gisteren verkracht"
    tracker = fallback(text, ("melding_seksueel_geweld", 0.33))
    tracker.latest_message["entities"] = [{"entity": "organisation", "value": "centrum_seksueel_geweld",
                                           "start": text.index("CSG"), "end": text.index("CSG") + 3}]
    events, messages = run(ActionNotUnderstood(), tracker)
    assert events == [*started_slots(), FollowupAction("protocol_form")]
    assert texts(messages) == [general_path_started()["text"]]


def test_out_of_scope_with_a_safety_signal_still_gets_the_general_path() -> None:
    tracker = make_tracker(text="na een knokpartij heeft een bewoner een snee in zijn hoofd", intent="out_of_scope",
                           metadata={"location": "TERAPEL"})
    tracker.latest_message["intent_ranking"] = [{"name": "out_of_scope", "confidence": 0.99}]
    events, messages = run(ActionNotUnderstood(), tracker)
    assert events == [*started_slots(), FollowupAction("protocol_form")]
    assert texts(messages) == [general_path_started()["text"]]


def test_out_of_scope_without_a_signal_gets_the_out_of_scope_answer() -> None:
    tracker = make_tracker(text="wat wordt het weer op vrijdag", intent="out_of_scope")
    # Runner-up guesses do not overrule a confident out-of-scope.
    tracker.latest_message["intent_ranking"] = [{"name": "out_of_scope", "confidence": 0.7},
                                                {"name": "melding_seksueel_geweld", "confidence": 0.2}]
    events, messages = run(ActionNotUnderstood(), tracker)
    assert events == []
    assert [m["response"] for m in messages] == ["utter_out_of_scope"]


@pytest.mark.parametrize("text", [
    "een bewoner werd gisteren bedreigd door zijn kamergenoot",
    "ze is bang voor haar buurman",
    "er was een vechtpartij bij de ingang",
    "zw bewoonster, wat nu",          # a protocol's name as a whole word
    "hij zegt dat hij zichzelf iets aan wil doen",
    "ik maak me zorgen om een meisje op de groep",
    "er is iets raars met een bewoonster, ze durft niet meer naar haar kamer",
    "hij voelt zich niet veilig op de gang",
    "ze is angstig sinds gisteren",
])
def test_safety_signals(engine: ProtocolEngine, text: str) -> None:
    assert engine.signals_safety_problem(UserInput(text=text))


@pytest.mark.parametrize("text", [
    "mijn scherm blijft zwart",       # "zw" only as a whole word
    "hoeveel kamers zijn er vrij in Zwolle",
    "een zwangere bewoonster vraagt waar de verloskundige zit",
    "wanneer krijg ik mijn loonstrook",
    "de wasmachine is kapot",
    "wat is het transport naar het ziekenhuis",
])
def test_no_safety_signal(engine: ProtocolEngine, text: str) -> None:
    assert not engine.signals_safety_problem(UserInput(text=text))


def test_the_general_path_runs_in_the_engine_and_is_filed_under_the_neutral_category(
        engine: ProtocolEngine) -> None:
    state = engine.start(GENERAL)
    for answer in ("nee", "amv"):
        turn = engine.answer(state, UserInput(text=answer))
        assert turn.understood, answer
        state = turn.state
    assert engine.is_finished(state)
    decision = engine.decision(state)
    assert decision.protocol == GENERAL
    assert decision.outcome == "algemene_veiligheidsstappen"
    assert {"veilig_thuis", "nidos"} <= set(decision.referrals)
    assert "contactpersoon_veiligheid" in decision.key_positions


def test_after_the_general_path_the_topics_are_offered(knowledge: Knowledge) -> None:
    tracker = make_tracker(text="/affirm", intent="affirm")
    dispatcher = CollectingDispatcher()
    events = offer_next_protocol(dispatcher, tracker, GENERAL)
    assert events == []
    [offer] = dispatcher.messages
    assert offer["text"] == "Herkent u nu een specifiek onderwerp? Dan kunt u ook dat protocol doorlopen."
    assert [b["payload"] for b in offer["buttons"]] == [
        *(f"/{p.intent}" for p in knowledge.protocols_by_title()), "/deny"]


def test_after_a_protocol_the_topics_are_not_offered_again() -> None:
    dispatcher = CollectingDispatcher()
    offer_next_protocol(dispatcher, make_tracker(text="x", intent="affirm"), "suicidaliteit")
    assert dispatcher.messages == []


@pytest.mark.parametrize("text", ["wat kun je allemaal?", "Waarmee kan jij mij helpen?", "hoe werk je"])
def test_a_question_what_the_assistant_does_gets_the_introduction(text: str) -> None:
    """The NLU takes these for out of scope (1.00): they get what the assistant does."""
    tracker = make_tracker(text=text, intent="out_of_scope", metadata={"location": "TERAPEL"})
    events, messages = run(ActionNotUnderstood(), tracker)
    assert (events, [m.get("response") for m in messages]) == ([], ["utter_greet"])


def test_safety_in_a_question_what_the_assistant_does_still_leads() -> None:
    tracker = make_tracker(text="wat kun je, hij staat nu met een mes op de gang", intent="out_of_scope",
                           metadata={"location": "TERAPEL"})
    events, messages = run(ActionNotUnderstood(), tracker)
    assert texts(messages) == [ACUTE_TEXT, general_path_started()["text"]]
    assert events == [*started_slots(acute=True, told_at="wie_bewoner"), FollowupAction("protocol_form")]


def test_what_can_i_do_is_no_question_to_the_assistant() -> None:
    tracker = make_tracker(text="wat kan ik doen aan de wifi", intent="out_of_scope", metadata={"location": "TERAPEL"})
    _, messages = run(ActionNotUnderstood(), tracker)
    assert [m.get("response") for m in messages] == ["utter_out_of_scope"]


def greeting(text: str, entities: list[dict] | None = None) -> Tracker:
    return make_tracker(text=text, intent="greet", confidence=0.82, entities=entities, metadata={"location": "TERAPEL"})


def test_a_greeting_gets_the_greeting() -> None:
    events, messages = run(ActionGreet(), greeting("goedemorgen collega"))
    assert (events, [m.get("response") for m in messages]) == ([], ["utter_greet"])


def test_a_greeting_that_reports_suicidal_thoughts_starts_the_general_path_and_notes_the_protocol(
        knowledge: Knowledge) -> None:
    """"hoi, een bewoner wil zich van kant maken" was greet at 0.82 and got only "Hallo"."""
    text = "hoi, een bewoner wil zich van kant maken"
    start = text.index("van kant maken")
    named = [{"entity": "protocol", "value": "suicidaliteit", "start": start, "end": start + len("van kant maken")}]
    events, messages = run(ActionGreet(), greeting(text, named))
    noted = second_topic_noted(knowledge.protocols["suicidaliteit"], after="deze algemene stappen")
    assert texts(messages) == [general_path_started()["text"], noted["text"]]
    assert messages[1]["text"].endswith("dat bieden we aan na deze algemene stappen.")
    assert events == [*started_slots(), SlotSet("pending_protocol", "suicidaliteit"), FollowupAction("protocol_form")]


@pytest.mark.parametrize("text", ["hallo, hij staat nu met een mes op de gang",
                                  "goedemorgen, er ligt iemand bewusteloos"])  # greet at 0.70
def test_a_greeting_with_danger_now_gets_112_first(text: str) -> None:
    events, messages = run(ActionGreet(), greeting(text))
    assert texts(messages) == [ACUTE_TEXT, general_path_started()["text"]]
    assert events == [*started_slots(acute=True, told_at="wie_bewoner"), FollowupAction("protocol_form")]


@pytest.mark.parametrize("text", ["hallo, een jonge bewonr wil zich van kant maken zegt zn vriend",
                                  "hoi, ik denk dat hij dood wil", "hey, ze zegt dat ze niet meer wil leven",
                                  "goedemorgen, haar broer wil haar dood",
                                  "hallo daar, ze heeft zich gesneden"])
def test_suicidal_thoughts_in_the_counsellors_own_words_are_a_safety_problem(engine: ProtocolEngine,
                                                                              text: str) -> None:
    assert engine.signals_safety_problem(UserInput(text=text, intent="greet"))


@pytest.mark.parametrize("protocol", ["suicidaliteit", "seksueel_geweld", "huiselijk_geweld", "eergerelateerd_geweld"])
def test_every_report_of_violence_or_suicidal_thoughts_the_nlu_learns_is_a_safety_problem(
        engine: ProtocolEngine, protocol: str) -> None:
    """Should the NLU take one for a greeting or be unsure, it still gets the general path.
    (Not every protocol's: "kan ze bij fiom terecht" or "is er een roze netwerk" ask for
    support; they are no report of danger.)"""
    examples = yaml.safe_load((ROOT / "knowledge" / "protocols" / f"{protocol}.nlu.yml").read_text())["examples"]
    plain = [re.sub(r"\[([^\]]*)\][({][^)}]*[)}]", r"\1", example) for example in examples]
    assert len(plain) > 40
    assert [text for text in plain if not engine.signals_safety_problem(UserInput(text=text))] == []
