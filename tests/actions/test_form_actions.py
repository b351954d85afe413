"""protocol_form: validate_protocol_form and the ask actions, with exact events and messages."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet

from actions import ActionAskLocation, ActionAskProtocolAnswer, ValidateProtocolForm, knowledge_cache
from actions.presenter import ACUTE_TEXT
from knowledge import Knowledge
from tests.actions.conftest import FakeApi
from tests.actions.helpers import action_event, form_tracker, make_tracker, run, texts

EGG = "eergerelateerd_geweld"
START = {"protocol": EGG, "protocol_step": "acuut_gevaar", "protocol_answers": [], "acute": False,
         "location": "TERAPEL", "misses": 0.0}
AT_GESPREK = {**START, "protocol_step": "gesprek_veilig",
              "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                   {"step": "vorm_dreiging", "answer": "bedreiging"}]}
KIES_BEDREIGING = [{"entity": "keuze", "value": "bedreiging"}]


def answer(text: str, intent: str | None, slots: dict[str, Any] = START,
           entities: list[dict] | None = None) -> tuple[list[dict], list[dict]]:
    tracker = form_tracker(requested="protocol_answer", candidates={"protocol_answer": text},
                           slots=slots, text=text, intent=intent, entities=entities)
    return run(ValidateProtocolForm(), tracker)


# --------------------------------------------------------------------------- answers


def test_acute_answer_says_112_first_and_advances(fake_api: FakeApi) -> None:
    events, messages = answer("/affirm", "affirm")
    assert texts(messages) == [ACUTE_TEXT]
    assert events == [
        SlotSet("protocol_answer", None),
        SlotSet("protocol", EGG),
        SlotSet("protocol_step", "vorm_dreiging"),
        SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "ja"}]),
        SlotSet("acute", True),
        SlotSet("misses", 0.0),
    ]


def test_typed_no_advances_without_messages() -> None:
    events, messages = answer("nee", "deny")
    assert messages == []
    assert events == [
        SlotSet("protocol_answer", None),
        SlotSet("protocol", EGG),
        SlotSet("protocol_step", "vorm_dreiging"),
        SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "nee"}]),
        SlotSet("acute", False),
        SlotSet("misses", 0.0),
    ]


def test_choice_button_advances() -> None:
    slots = {**START, "protocol_step": "vorm_dreiging",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}
    events, messages = answer('/kies{"keuze": "bedreiging"}', "kies", slots, KIES_BEDREIGING)
    assert messages == []
    assert events[2] == SlotSet("protocol_step", "gesprek_veilig")
    assert events[3] == SlotSet("protocol_answers", AT_GESPREK["protocol_answers"])


def test_the_last_answer_completes_the_form_with_klaar() -> None:
    slots = {**AT_GESPREK, "protocol_step": "afweging_duurzaam",
             "protocol_answers": [*AT_GESPREK["protocol_answers"],
                                  {"step": "gesprek_veilig", "answer": "ja"},
                                  {"step": "afweging_vermoeden", "answer": "ja"},
                                  {"step": "afweging_onveilig", "answer": "nee"},
                                  {"step": "afweging_hulp", "answer": "ja"},
                                  {"step": "afweging_aanvaard", "answer": "ja"}]}
    events, messages = answer("ja", "affirm", slots)
    assert messages == []
    assert events[0] == SlotSet("protocol_answer", "klaar")
    assert events[2] == SlotSet("protocol_step", "melding_veilig_thuis_hulp_volgen")


def test_not_understood_explains_again_and_counts_the_miss(fake_api: FakeApi) -> None:
    events, messages = answer("geen idee", "out_of_scope")
    assert events == [SlotSet("protocol_answer", None), SlotSet("misses", 1.0)]
    assert len(messages) == 1
    assert messages[0]["text"].startswith("Dat heb ik niet goed begrepen. Direct gevaar betekent")
    assert messages[0]["text"].endswith("Antwoord met Ja of Nee.")
    assert fake_api.requests == []


def test_the_second_miss_offers_the_contactpersoon_veiligheid(fake_api: FakeApi) -> None:
    events, messages = answer("tja", None, {**START, "misses": 1.0})
    assert events == [SlotSet("protocol_answer", None), SlotSet("misses", 2.0)]
    assert texts(messages)[1] == (
        "Kom je er met mij niet uit? Overleg dan met de contactpersoon veiligheid van Ter Apel: "
        "Ineke Veldman (06-11111111).")


def test_the_contact_offer_works_without_the_api(api_down: None) -> None:
    _, messages = answer("tja", None, {**START, "misses": 1.0})
    assert texts(messages)[1] == ("Kom je er met mij niet uit? Overleg dan met de contactpersoon "
                                  "veiligheid van TERAPEL.")


@pytest.mark.parametrize("intent", ["acuut_gevaar", "out_of_scope"])
def test_danger_mid_protocol_gets_112_first_and_the_same_question(intent: str) -> None:
    events, messages = answer("help hij staat nu met een mes voor haar deur", intent, AT_GESPREK)
    assert texts(messages) == [ACUTE_TEXT]
    assert events == [SlotSet("protocol_answer", None), SlotSet("acute", True)]


def test_stop_ends_the_form_without_recording() -> None:
    events, messages = answer("stop", "stop", AT_GESPREK)
    assert texts(messages) == ["Het protocol is gestopt. Er is niets vastgelegd."]
    assert events == [
        SlotSet("protocol_answer", None),
        SlotSet("requested_slot", None),
        SlotSet("protocol", None),
        SlotSet("protocol_step", None),
        SlotSet("protocol_answers", None),
        SlotSet("acute", False),
        SlotSet("misses", 0.0),
    ]


def test_a_state_that_no_longer_fits_the_protocol_ends_the_form() -> None:
    events, messages = answer("ja", "affirm", {**START, "protocol_step": "verdwenen_stap"})
    assert "draad van het protocol kwijt" in messages[0]["text"]
    assert SlotSet("requested_slot", None) in events and SlotSet("protocol", None) in events


def test_text_while_the_location_is_asked_is_no_protocol_answer(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={"protocol_answer": "ja"},
                           slots={**START, "location": None}, text="ja", intent="affirm")
    events, messages = run(ValidateProtocolForm(), tracker)
    # extract_location takes the message as the location answer; it is not a location.
    assert events == [SlotSet("protocol_answer", None), SlotSet("location", None)]
    assert texts(messages) == ["De locatie 'ja' ken ik niet."]


# --------------------------------------------------------------------------- location


@pytest.mark.parametrize(("value", "code"), [("TERAPEL", "TERAPEL"), ("Ter Apel", "TERAPEL"),
                                             ("terapel", "TERAPEL"), ("in budel", "BUDEL"),
                                             ("Budel-Cranendonck", "BUDEL"), ("zwole", "ZWOLLE")])
def test_validate_location_normalises_to_the_code(fake_api: FakeApi, value: str, code: str) -> None:
    tracker = form_tracker(requested="location", candidates={"location": value},
                           slots={**START, "location": None}, text=value, intent="inform")
    events, messages = run(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", code)]
    assert messages == []


def test_unknown_location_is_refused(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={"location": "Amsterdam"},
                           slots={**START, "location": None}, text="Amsterdam", intent="inform")
    events, messages = run(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", None)]
    assert texts(messages) == ["De locatie 'Amsterdam' ken ik niet."]


def test_location_is_accepted_unchecked_when_the_api_is_down(api_down: None) -> None:
    tracker = form_tracker(requested="location", candidates={"location": "Ter Apel"},
                           slots={**START, "location": None}, text="Ter Apel", intent="inform")
    events, messages = run(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", "TERAPEL")]
    assert messages == []


def test_location_button_is_extracted_from_the_keuze_entity(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={}, slots={**START, "location": None},
                           text='/kies{"keuze": "ZWOLLE"}', intent="kies",
                           entities=[{"entity": "keuze", "value": "ZWOLLE"}])
    events, messages = run(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", "ZWOLLE")]
    assert messages == []


def test_typed_location_is_extracted_from_the_text(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={}, slots={**START, "location": None},
                           text="Zwolle", intent="nlu_fallback")
    events, _ = run(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", "ZWOLLE")]


def test_location_is_not_extracted_when_the_form_resumes_after_another_action(fake_api: FakeApi) -> None:
    tail_before_form = [action_event("utter_bot_challenge", 101.5)]
    tracker = form_tracker(requested="location", candidates={}, slots={**START, "location": None},
                           text="ben jij een bot?", intent="bot_challenge")
    # Insert the interrupting action between the user message and the form's run.
    tracker.events.insert(-2, tail_before_form[0])
    events, messages = run(ValidateProtocolForm(), tracker)
    assert events == []
    assert messages == []


# --------------------------------------------------------------------------- asking


def test_ask_yes_no_question_with_the_contract_buttons() -> None:
    events, messages = run(ActionAskProtocolAnswer(), make_tracker(slots=START))
    assert events == []
    assert len(messages) == 1
    assert messages[0]["text"] == (
        "Is er op dit moment direct gevaar voor de bewoner of voor anderen?\n\n"
        "Bron: Handelingsprotocol: acute en structurele onveiligheid")
    assert messages[0]["buttons"] == [{"title": "Ja", "payload": "/affirm"},
                                      {"title": "Nee", "payload": "/deny"}]


def test_ask_choice_after_the_instructions_passed_on_the_way(knowledge: Knowledge) -> None:
    slots = {**START, "protocol_step": "vorm_dreiging", "acute": True,
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "ja"}]}
    _, messages = run(ActionAskProtocolAnswer(), make_tracker(slots=slots))
    steps = knowledge.protocols[EGG].steps
    assert messages[0]["text"] == f"{steps['bel_112'].text}\n\nBron: {steps['bel_112'].source.title}"
    assert "buttons" not in messages[0] or messages[0]["buttons"] == []
    assert messages[1]["text"].startswith("Waar gaat het vooral om?")
    assert messages[1]["buttons"][:2] == [
        {"title": "Bedreiging", "payload": '/kies{"keuze": "bedreiging"}'},
        {"title": "Huwelijksdwang", "payload": '/kies{"keuze": "huwelijksdwang"}'}]
    assert len(messages[1]["buttons"]) == len(steps["vorm_dreiging"].options)
    assert len(messages) == 2


def test_ask_again_after_a_miss_comes_without_the_instructions() -> None:
    slots = {**START, "protocol_step": "vorm_dreiging", "misses": 1.0,
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "ja"}]}
    _, messages = run(ActionAskProtocolAnswer(), make_tracker(slots=slots))
    assert len(messages) == 1 and messages[0]["text"].startswith("Waar gaat het vooral om?")


def test_ask_free_text_question_has_no_buttons() -> None:
    slots = {**START, "protocol_step": "vorm_anders",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                  {"step": "vorm_dreiging", "answer": "anders"}]}
    _, messages = run(ActionAskProtocolAnswer(), make_tracker(slots=slots))
    assert messages[0]["buttons"] == []


def test_ask_without_a_protocol_ends_the_form() -> None:
    events, messages = run(ActionAskProtocolAnswer(), make_tracker(slots={"location": "TERAPEL"}))
    assert events[:2] == [ActiveLoop(None), SlotSet("requested_slot", None)]
    assert len(messages) == 1


def test_ask_location_offers_one_button_per_location(fake_api: FakeApi) -> None:
    events, messages = run(ActionAskLocation(), make_tracker(slots=START))
    assert events == []
    assert "locatie" in messages[0]["text"]
    assert messages[0]["buttons"] == [
        {"title": "Ter Apel", "payload": '/kies{"keuze": "TERAPEL"}'},
        {"title": "Budel-Cranendonck", "payload": '/kies{"keuze": "BUDEL"}'},
        {"title": "Zwolle", "payload": '/kies{"keuze": "ZWOLLE"}'}]


def test_ask_location_without_the_api_asks_for_a_typed_name(api_down: None) -> None:
    _, messages = run(ActionAskLocation(), make_tracker(slots=START))
    assert "locatie" in messages[0]["text"] and messages[0]["buttons"] == []


def test_ask_number_question_offers_a_button_per_range(test_knowledge: Knowledge) -> None:
    knowledge_cache.set_knowledge(test_knowledge)
    slots = {"protocol": "testprotocol", "protocol_step": "dagen", "protocol_answers": [],
             "acute": False, "location": "TERAPEL", "misses": 0.0}
    _, messages = run(ActionAskProtocolAnswer(), make_tracker(slots=slots))
    assert messages[0]["text"] == "Lees dit eerst.\n\nBron: Kamerbrief sociale veiligheid bewoners COA"
    assert messages[1]["buttons"] == [{"title": "0 t/m 7", "payload": '/kies{"keuze": "0"}'},
                                      {"title": "8 of meer", "payload": '/kies{"keuze": "8"}'}]
    assert "(Let op" not in messages[1]["text"]
