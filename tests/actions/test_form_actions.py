"""protocol_form: validate_protocol_form and the ask actions, with exact events and messages."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet

from actions import ValidateProtocolForm, knowledge_cache
from actions.presenter import ACUTE_TEXT, how_many_left, paused
from knowledge import Knowledge
from tests.actions.conftest import FakeApi
from tests.actions.helpers import (
    EGG_ANSWERS_BEFORE_LAST,
    action_event,
    form_tracker,
    make_tracker,
    run,
    run_validation,
    texts,
)

EGG = "eergerelateerd_geweld"
START = {"protocol": EGG, "protocol_step": "acuut_gevaar", "protocol_answers": [], "acute": False,
         "location": "TERAPEL", "misses": 0.0}
AT_GESPREK = {**START, "protocol_step": "gesprek_veilig",
              "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                   {"step": "vorm_dreiging", "answer": "bedreiging"},
                                   {"step": "wie_slachtoffer", "answer": "volwassene"}]}
KIES_BEDREIGING = [{"entity": "keuze", "value": "bedreiging"}]
SUI_112 = ("Bel nu 112 en vraag om een ambulance en zo nodig de politie. Blijf bij de bewoner, of zorg dat "
           "een collega bij de bewoner blijft, tot de hulp er is.\nWaarom: Bij levensgevaar gaat 112 voor alles. "
           "Daarna gaat het protocol verder met de hulp voor de komende uren en dagen.\n\n"
           "Bron: NU.nl: 113 Zelfmoordpreventie gratis bereikbaar (sinds oktober 2025)")


def answer(text: str, intent: str | None, slots: dict[str, Any] = START,
           entities: list[dict] | None = None) -> tuple[list[dict], list[dict]]:
    tracker = form_tracker(requested="protocol_answer", candidates={"protocol_answer": text},
                           slots=slots, text=text, intent=intent, entities=entities)
    return run_validation(ValidateProtocolForm(), tracker)


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
    assert events[2] == SlotSet("protocol_step", "wie_slachtoffer")
    assert events[3] == SlotSet("protocol_answers", AT_GESPREK["protocol_answers"][:2])


def test_the_last_answer_completes_the_form_with_klaar() -> None:
    slots = {**AT_GESPREK, "protocol_step": "afweging_duurzaam", "protocol_answers": EGG_ANSWERS_BEFORE_LAST}
    events, messages = answer("ja", "affirm", slots)
    assert messages == []
    assert events[0] == SlotSet("protocol_answer", "klaar")
    assert events[2] == SlotSet("protocol_step", "melding_veilig_thuis_hulp_volgen")


def test_not_understood_explains_again_and_counts_the_miss(fake_api: FakeApi) -> None:
    events, messages = answer("tja, lastig", "out_of_scope")
    assert events == [SlotSet("protocol_answer", None), SlotSet("misses", 1.0)]
    assert len(messages) == 1
    assert messages[0]["text"].startswith("Dat heb ik niet goed begrepen. Direct gevaar betekent")
    assert messages[0]["text"].endswith("Antwoord met Ja of Nee.")
    assert fake_api.requests == []


def test_not_knowing_a_yes_no_answer_is_no_misunderstanding(fake_api: FakeApi) -> None:
    """ "geen idee" is understood: not a "niet begrepen", the help says what to
    answer in doubt ("Twijfelt u? Antwoord dan ja.")."""
    events, messages = answer("geen idee", "out_of_scope")
    assert events == [SlotSet("protocol_answer", None), SlotSet("misses", 1.0)]
    (text,) = texts(messages)
    assert text.startswith("U weet het niet zeker; dat kan. Direct gevaar betekent")
    assert "Twijfelt u? Antwoord dan ja." in text and "niet goed begrepen" not in text


def test_the_second_miss_offers_the_contactpersoon_veiligheid(fake_api: FakeApi) -> None:
    events, messages = answer("tja", None, {**START, "misses": 1.0})
    assert events == [SlotSet("protocol_answer", None), SlotSet("misses", 2.0)]
    assert texts(messages)[1] == (
        "Komt u er met mij niet uit? Overleg dan met de contactpersoon veiligheid van Ter Apel: "
        "Ineke Veldman (06-11111111).")


def test_the_contact_offer_works_without_the_api(api_down: None) -> None:
    _, messages = answer("tja", None, {**START, "misses": 1.0})
    assert texts(messages)[1] == ("Komt u er met mij niet uit? Overleg dan met de contactpersoon "
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
        SlotSet("protocol_run", None),
    ]


def test_a_state_that_no_longer_fits_the_protocol_ends_the_form() -> None:
    events, messages = answer("ja", "affirm", {**START, "protocol_step": "verdwenen_stap"})
    assert "draad van het protocol kwijt" in messages[0]["text"]
    assert SlotSet("requested_slot", None) in events and SlotSet("protocol", None) in events


def test_text_while_the_location_is_asked_is_no_protocol_answer(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={"protocol_answer": "ja"},
                           slots={**START, "location": None}, text="ja", intent="affirm")
    events, messages = run_validation(ValidateProtocolForm(), tracker)
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
    events, messages = run_validation(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", code)]
    assert messages == []


def test_a_place_named_in_text_never_overrides_the_channel_location(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="protocol_answer", candidates={"location": "ZWOLLE"},
                           slots={**START, "location": "TERAPEL"}, text="ze is nu in Zwolle", intent="inform",
                           metadata={"location": "TERAPEL", "channel": "teams"})
    events, _ = run_validation(ValidateProtocolForm(), tracker)
    assert SlotSet("location", "TERAPEL") in events
    assert SlotSet("location", "ZWOLLE") not in events


def test_unknown_location_is_refused(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={"location": "Amsterdam"},
                           slots={**START, "location": None}, text="Amsterdam", intent="inform")
    events, messages = run_validation(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", None)]
    assert texts(messages) == ["De locatie 'Amsterdam' ken ik niet."]


def test_location_is_accepted_unchecked_when_the_api_is_down(api_down: None) -> None:
    tracker = form_tracker(requested="location", candidates={"location": "Ter Apel"},
                           slots={**START, "location": None}, text="Ter Apel", intent="inform")
    events, messages = run_validation(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", "TERAPEL")]
    assert messages == []


def test_location_button_is_extracted_from_the_keuze_entity(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={}, slots={**START, "location": None},
                           text='/kies{"keuze": "ZWOLLE"}', intent="kies",
                           entities=[{"entity": "keuze", "value": "ZWOLLE"}])
    events, messages = run_validation(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", "ZWOLLE")]
    assert messages == []


def test_typed_location_is_extracted_from_the_text(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={}, slots={**START, "location": None},
                           text="Zwolle", intent="nlu_fallback")
    events, _ = run_validation(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", "ZWOLLE")]


def test_location_is_not_extracted_when_the_form_resumes_after_another_action(fake_api: FakeApi) -> None:
    tail_before_form = [action_event("utter_bot_challenge", 101.5)]
    tracker = form_tracker(requested="location", candidates={}, slots={**START, "location": None},
                           text="ben jij een bot?", intent="bot_challenge")
    # Insert the interrupting action between the user message and the form's run.
    tracker.events.insert(-2, tail_before_form[0])
    events, messages = run_validation(ValidateProtocolForm(), tracker)
    assert events == []
    assert messages == []


# --------------------------------------------------------------------------- asking


def test_ask_yes_no_question_with_the_contract_buttons() -> None:
    events, messages = run(ValidateProtocolForm(), make_tracker(slots=START))
    assert events == [SlotSet("requested_slot", "protocol_answer")]
    assert len(messages) == 1
    assert messages[0]["text"] == (
        "Is er op dit moment direct gevaar voor de bewoner of voor anderen?\n\n"
        "Bron: Handelingsprotocol: acute en structurele onveiligheid")
    assert messages[0]["buttons"] == [{"title": "Ja", "payload": "/affirm"},
                                      {"title": "Nee", "payload": "/deny"}]


def test_ask_choice_after_the_instructions_passed_on_the_way(knowledge: Knowledge) -> None:
    slots = {**START, "protocol_step": "vorm_dreiging", "acute": True,
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "ja"}]}
    _, messages = run(ValidateProtocolForm(), make_tracker(slots=slots))
    steps = knowledge.protocols[EGG].steps
    assert messages[0]["text"] == (f"{steps['bel_112'].text}\nWaarom: {steps['bel_112'].help}\n\n"
                                   f"Bron: {steps['bel_112'].source.title}")
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
    _, messages = run(ValidateProtocolForm(), make_tracker(slots=slots))
    assert len(messages) == 1 and messages[0]["text"].startswith("Waar gaat het vooral om?")


def test_ask_free_text_question_has_no_buttons() -> None:
    slots = {**START, "protocol_step": "vorm_anders",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                  {"step": "vorm_dreiging", "answer": "anders"}]}
    _, messages = run(ValidateProtocolForm(), make_tracker(slots=slots))
    assert messages[0]["buttons"] == []


def test_ask_without_a_protocol_ends_the_form() -> None:
    events, messages = run(ValidateProtocolForm(), make_tracker(slots={"location": "TERAPEL"}))
    assert events[0] == SlotSet("requested_slot", None)
    assert SlotSet("protocol", None) in events
    assert len(messages) == 1


def test_ask_location_offers_one_button_per_location(fake_api: FakeApi) -> None:
    events, messages = run(ValidateProtocolForm(), make_tracker(slots={**START, "location": None}))
    assert events == [SlotSet("requested_slot", "location")]
    assert "locatie" in messages[0]["text"]
    assert messages[0]["buttons"] == [
        {"title": "Ter Apel", "payload": '/kies{"keuze": "TERAPEL"}'},
        {"title": "Budel-Cranendonck", "payload": '/kies{"keuze": "BUDEL"}'},
        {"title": "Zwolle", "payload": '/kies{"keuze": "ZWOLLE"}'}]


def test_ask_location_without_the_api_asks_for_a_typed_name(api_down: None) -> None:
    _, messages = run(ValidateProtocolForm(), make_tracker(slots={**START, "location": None}))
    assert "locatie" in messages[0]["text"] and messages[0]["buttons"] == []


def test_ask_number_question_offers_a_button_per_range(test_knowledge: Knowledge) -> None:
    knowledge_cache.set_knowledge(test_knowledge)
    slots = {"protocol": "testprotocol", "protocol_step": "dagen", "protocol_answers": [],
             "acute": False, "location": "TERAPEL", "misses": 0.0}
    _, messages = run(ValidateProtocolForm(), make_tracker(slots=slots))
    assert messages[0]["text"] == "Lees dit eerst.\nWaarom: Uitleg.\n\nBron: Kamerbrief sociale veiligheid bewoners COA"
    assert messages[1]["buttons"] == [{"title": "0 t/m 7", "payload": '/kies{"keuze": "0"}'},
                                      {"title": "8 of meer", "payload": '/kies{"keuze": "8"}'}]
    assert "(Let op" not in messages[1]["text"]


# --------------------------------------------------------------------------- conversation control


def test_opnieuw_restarts_the_protocol_and_keeps_acute() -> None:
    events, messages = answer("opnieuw", "opnieuw", {**AT_GESPREK, "acute": True, "misses": 1.0})
    assert texts(messages) == ["We beginnen opnieuw met het protocol Eergerelateerd geweld. "
                               "Eerdere antwoorden tellen niet mee."]
    assert events == [
        SlotSet("protocol_answer", None),
        SlotSet("protocol", EGG),
        SlotSet("protocol_step", "acuut_gevaar"),
        SlotSet("protocol_answers", []),
        SlotSet("acute", True),
        SlotSet("misses", 0.0),
    ]


def test_terug_goes_to_the_previous_question_and_undoes_its_answer() -> None:
    events, messages = answer("terug", "terug", AT_GESPREK)
    assert texts(messages) == ["Terug naar de vorige vraag. Uw vorige antwoord is gewist."]
    assert events == [
        SlotSet("protocol_answer", None),
        SlotSet("protocol", EGG),
        SlotSet("protocol_step", "wie_slachtoffer"),
        SlotSet("protocol_answers", AT_GESPREK["protocol_answers"][:2]),
        SlotSet("acute", False),
        SlotSet("misses", 0.0),
    ]


def test_terug_at_the_first_question_says_so() -> None:
    events, messages = answer("terug", "terug", START)
    assert texts(messages) == ["Dit is de eerste vraag van het protocol; er is geen vorige vraag."]
    assert events == [SlotSet("protocol_answer", None)]


def test_stop_with_danger_still_says_112_first() -> None:
    events, messages = answer("stop maar, hij staat nu met een mes voor de deur", "stop", AT_GESPREK)
    assert texts(messages) == [ACUTE_TEXT, "Het protocol is gestopt. Er is niets vastgelegd."]
    assert SlotSet("requested_slot", None) in events


# --------------------------------------------------------------------------- look-ups in the form


def test_a_look_up_is_answered_and_the_question_asked_again(knowledge: Knowledge) -> None:
    events, messages = answer("wat is stap 4 van de meldcode?", "vraag_stap", AT_GESPREK)
    assert events == [SlotSet("protocol_answer", None)]
    step4 = knowledge.references["meldcode"].step(4)
    assert messages[0]["text"].startswith(f"Stap 4 van de meldcode huiselijk geweld en kindermishandeling: "
                                          f"{step4.title}.")
    assert len(messages) == 2  # step 4 and the afwegingskader questions


def test_a_look_up_does_not_count_as_a_miss(fake_api: FakeApi) -> None:
    events, _ = answer("wat doet Fiom?", "vraag_organisatie", {**AT_GESPREK, "misses": 1.0},
                       entities=[{"entity": "organisation", "value": "fiom"}])
    assert events == [SlotSet("protocol_answer", None)]


def test_a_short_answer_wins_over_a_look_up_intent() -> None:
    slots = {**START, "protocol": "seksueel_geweld", "protocol_step": "dagen_geleden",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}
    events, messages = answer("4 dagen", "vraag_stap", slots)
    assert messages == []
    assert SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "nee"},
                                        {"step": "dagen_geleden", "answer": 4}]) in events


def test_a_look_up_of_step_4_is_no_answer_to_a_number_question() -> None:
    slots = {**START, "protocol": "seksueel_geweld", "protocol_step": "dagen_geleden",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}
    events, messages = answer("wat is stap 4 van de meldcode?", "vraag_stap", slots)
    assert events == [SlotSet("protocol_answer", None)]
    assert messages[0]["text"].startswith("Stap 4 van de meldcode")


def test_a_look_up_intent_without_a_question_or_its_subject_is_no_look_up() -> None:
    """"ze is 7" to a choice question: the NLU says vraag_stap (0.85); it asks nothing and
    names no step, so it is no answer that was understood, not "which step do you mean"."""
    events, messages = answer("ze is 7", "vraag_stap", AT_GESPREK)
    assert events == [SlotSet("protocol_answer", None), SlotSet("misses", 1.0)]
    assert messages[0]["text"].startswith("Dat heb ik niet goed begrepen.")
    assert "welke stap" not in texts(messages)[0]


def test_a_question_naming_an_organisation_is_a_look_up_whatever_the_intent(knowledge: Knowledge) -> None:
    """"wat doet Pharos?": the NLU says out_of_scope (1.00), the entity ruler names Pharos."""
    events, messages = answer("wat doet Pharos?", "out_of_scope", AT_GESPREK,
                              entities=[{"entity": "organisation", "value": "pharos", "start": 9, "end": 15}])
    assert events == [SlotSet("protocol_answer", None)]
    assert messages[0]["text"].startswith(f"{knowledge.organisations['pharos'].name}:")


# --------------------------------------------------------------------------- typed answers the NLU misreads
# Intents the NLU gave these typed answers (the trained model, issue 12 part 4):
# "ongeveer acht weken denk ik" -> terug, "eergisteren" -> melding_eergerelateerd_geweld
# (0.97), "een medebewoner" -> melding_lhbti (0.99). The answer must reach the engine.

AT_WEKEN = {**START, "protocol": "ongewenste_zwangerschap", "protocol_step": "aantal_weken",
            "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                 {"step": "morning_afterpil", "answer": "nee"}]}
AT_DAGEN = {**START, "protocol": "seksueel_geweld", "protocol_step": "dagen_geleden",
            "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}


def test_a_typed_answer_read_as_terug_is_an_answer() -> None:
    events, messages = answer("ongeveer acht weken denk ik", "terug", AT_WEKEN)
    assert "Terug naar de vorige vraag" not in " ".join(texts(messages))
    assert SlotSet("protocol_answers", [*AT_WEKEN["protocol_answers"],
                                        {"step": "aantal_weken", "answer": 8}]) in events


def test_terug_typed_on_a_number_question_still_goes_back() -> None:
    events, messages = answer("terug", "terug", AT_WEKEN)
    assert texts(messages) == ["Terug naar de vorige vraag. Uw vorige antwoord is gewist."]
    assert SlotSet("protocol_step", "morning_afterpil") in events


def test_stop_said_outright_beats_an_answer() -> None:
    events, messages = answer("nee, stop maar", "stop", AT_GESPREK)
    assert texts(messages) == ["Het protocol is gestopt. Er is niets vastgelegd."]
    assert SlotSet("requested_slot", None) in events


@pytest.mark.parametrize("text", ["hoe lang duurt dit nog?", "hoeveel vragen nog?", "zijn we bijna klaar"])
def test_how_long_says_how_many_questions_are_left_and_asks_again(text: str) -> None:
    """At gesprek_veilig of eergerelateerd geweld the paths ahead hold 2 to 6 questions,
    this one included (test_knowledge_invariants checks the count on every path)."""
    events, messages = answer(text, "out_of_scope", AT_GESPREK)
    assert texts(messages) == ["Na deze vraag volgen nog 1 tot 5 vragen, afhankelijk van de antwoorden; daarna "
                               "krijgt u het advies en wordt het besluit vastgelegd."]
    assert events == [SlotSet("protocol_answer", None)]


@pytest.mark.parametrize(("fewest", "most", "start"), [
    (0, 0, "Dit is de laatste vraag;"),
    (0, 2, "Misschien is dit de laatste vraag, anders volgen er nog hooguit 2;"),
    (1, 1, "Na deze vraag volgt nog 1 vraag;"),
    (3, 3, "Na deze vraag volgen nog 3 vragen;"),
])
def test_how_many_questions_are_left_in_words(fewest: int, most: int, start: str) -> None:
    assert how_many_left(fewest, most)["text"].startswith(start)


@pytest.mark.parametrize("text", ["kan ik later verder?", "ik doe dit later wel", "ik moet even weg, straks verder"])
def test_later_keeps_the_run_open_and_asks_the_question_again(text: str) -> None:
    """The NLU took "kan ik later verder?" for stop, which threw the answers away."""
    events, messages = answer(text, "stop", AT_GESPREK)
    assert texts(messages) == [paused()["text"]]
    assert "later in dit gesprek verder bij deze vraag" in paused()["text"]
    assert events == [SlotSet("protocol_answer", None)]


@pytest.mark.parametrize("text", ["stop maar, ik doe het later wel", "later verder? nee, annuleer maar"])
def test_later_with_a_stop_word_still_stops(text: str) -> None:
    events, messages = answer(text, "stop", AT_GESPREK)
    assert texts(messages) == ["Het protocol is gestopt. Er is niets vastgelegd."]
    assert SlotSet("requested_slot", None) in events


def test_a_short_typed_answer_with_a_report_intent_is_no_second_topic() -> None:
    events, messages = answer("eergisteren", "melding_eergerelateerd_geweld", AT_DAGEN)
    assert messages == []
    assert SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "nee"},
                                        {"step": "dagen_geleden", "answer": 2}]) in events
    assert not any(e["name"] == "pending_protocol" for e in events)


def test_a_longer_typed_answer_beats_a_look_up_intent() -> None:
    events, messages = answer("het was ongeveer vier dagen geleden denk ik", "vraag_stap", AT_DAGEN)
    assert messages == []
    assert SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "nee"},
                                        {"step": "dagen_geleden", "answer": 4}]) in events


def test_weet_ik_niet_typed_takes_the_unknown_branch() -> None:
    events, messages = answer("weet ik niet", "out_of_scope", AT_WEKEN)
    assert messages == []
    assert SlotSet("protocol_answers", [*AT_WEKEN["protocol_answers"],
                                        {"step": "aantal_weken", "answer": "onbekend"}]) in events
    assert SlotSet("protocol_step", "signalen_mensenhandel") in events


def test_danger_in_a_look_up_question_gets_112_first() -> None:
    events, messages = answer("wie is de contactpersoon, hij staat nu met een mes voor haar deur",
                              "vraag_sleutelpersoon", AT_GESPREK)
    assert texts(messages) == [ACUTE_TEXT]
    assert events == [SlotSet("protocol_answer", None), SlotSet("acute", True)]


# --------------------------------------------------------------------------- second topic


def test_another_protocol_is_noted_and_the_question_asked_again() -> None:
    events, messages = answer("ze is ook zwanger en wil dat niet", "melding_ongewenste_zwangerschap", AT_GESPREK)
    assert texts(messages) == ["Ik heb ook Ongewenste zwangerschap genoteerd; dat bieden we aan na dit protocol."]
    assert events == [SlotSet("protocol_answer", None), SlotSet("pending_protocol", "ongewenste_zwangerschap")]


def test_a_protocol_entity_also_notes_a_second_topic() -> None:
    events, _ = answer("en ze is zwanger", "out_of_scope", AT_GESPREK,
                       entities=[{"entity": "protocol", "value": "ongewenste_zwangerschap"}])
    assert events == [SlotSet("protocol_answer", None), SlotSet("pending_protocol", "ongewenste_zwangerschap")]


def test_a_second_topic_named_after_the_running_protocol_is_noted() -> None:
    """"eergerelateerd, en ze is ook zwanger": every name in the message is read, not only
    the first (the running protocol's own)."""
    events, _ = answer("het eergerelateerde en ook een zwangerschap", "out_of_scope", AT_GESPREK,
                       entities=[{"entity": "protocol", "value": "eergerelateerd_geweld"},
                                 {"entity": "protocol", "value": "ongewenste_zwangerschap"}])
    assert events == [SlotSet("protocol_answer", None), SlotSet("pending_protocol", "ongewenste_zwangerschap")]


def test_an_answer_with_a_second_topic_is_answered_and_noted() -> None:
    events, messages = answer("ja, en ze is ook zwanger", "melding_ongewenste_zwangerschap", AT_GESPREK)
    assert texts(messages) == ["Ik heb ook Ongewenste zwangerschap genoteerd; dat bieden we aan na dit protocol."]
    assert SlotSet("protocol_step", "afweging_vermoeden") in events
    assert events[-1] == SlotSet("pending_protocol", "ongewenste_zwangerschap")


AT_WIE_BEWONER = {**START, "protocol": "suicidaliteit", "protocol_step": "wie_bewoner",
                  "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}


def test_an_answer_in_the_words_of_its_option_is_no_second_topic() -> None:
    """The NLU takes "een kind bij zijn ouders" for huiselijk geweld (0.94): it is the
    option "Een kind dat met zijn of haar ouders hier woont", nothing more."""
    events, messages = answer("een kind bij zijn ouders", "melding_huiselijk_geweld", AT_WIE_BEWONER)
    assert SlotSet("protocol_step", "geweld_thuis") in events
    assert not any(e["name"] == "pending_protocol" for e in events)
    assert messages == []


def test_an_answer_that_also_reports_violence_notes_it() -> None:
    events, messages = answer("een jongen, zijn vader slaat hem", "melding_huiselijk_geweld", AT_WIE_BEWONER)
    assert SlotSet("protocol_step", "geweld_thuis") in events
    assert events[-1] == SlotSet("pending_protocol", "huiselijk_geweld")
    assert texts(messages) == ["Ik heb ook Huiselijk geweld en kindermishandeling genoteerd; dat bieden we aan "
                               "na dit protocol."]


def test_the_running_protocol_is_no_second_topic() -> None:
    events, messages = answer("ja, eergerelateerd", "melding_eergerelateerd_geweld", AT_GESPREK)
    assert messages == []
    assert not any(e["name"] == "pending_protocol" for e in events)


def test_an_unsure_report_intent_is_no_second_topic_but_a_miss() -> None:
    tracker = form_tracker(requested="protocol_answer", candidates={"protocol_answer": "pfff lastig te zeggen"},
                           slots=AT_GESPREK, text="pfff lastig te zeggen", intent="melding_seksueel_geweld",
                           confidence=0.62)
    events, messages = run_validation(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("protocol_answer", None), SlotSet("misses", 1.0)]
    assert messages[0]["text"].startswith("Dat heb ik niet goed begrepen.")


def test_only_the_first_second_topic_is_kept() -> None:
    slots = {**AT_GESPREK, "pending_protocol": "ongewenste_zwangerschap"}
    events, messages = answer("ze is ook verkracht", "melding_seksueel_geweld", slots)
    assert events == [SlotSet("protocol_answer", None)]
    assert texts(messages) == ["Ik heb al Ongewenste zwangerschap genoteerd om na dit protocol aan te bieden. "
                               "Start daarna ook Seksueel geweld door de situatie kort te beschrijven."]


# --------------------------------------------------------------------------- acute in every protocol

MIDDLE = {
    "eergerelateerd_geweld": ("gesprek_veilig", AT_GESPREK["protocol_answers"]),
    "seksueel_geweld": ("wie_slachtoffer", [{"step": "acuut_gevaar", "answer": "nee"},
                                            {"step": "dagen_geleden", "answer": 3}]),
    "ongewenste_zwangerschap": ("signalen_mensenhandel", [*AT_WEKEN["protocol_answers"],
                                                          {"step": "aantal_weken", "answer": "onbekend"}]),
    "lhbti_ondersteuning": ("wie_dreigt", [{"step": "acuut_gevaar", "answer": "nee"},
                                           {"step": "toestemming_registratie", "answer": "nee"},
                                           {"step": "wie_bewoner", "answer": "volwassene"}]),
}


@pytest.mark.parametrize("protocol", sorted(MIDDLE))
@pytest.mark.parametrize("intent", ["acuut_gevaar", "nlu_fallback"])
def test_danger_in_the_middle_of_every_protocol_gets_112_first(protocol: str, intent: str) -> None:
    step, answers = MIDDLE[protocol]
    slots = {**START, "protocol": protocol, "protocol_step": step, "protocol_answers": answers}
    events, messages = answer("help, hij staat nu met een mes voor haar deur", intent, slots)
    assert texts(messages) == [ACUTE_TEXT]
    assert events == [SlotSet("protocol_answer", None), SlotSet("acute", True)]


def test_a_plan_told_at_a_later_suicidality_question_gets_112_first_and_the_same_question() -> None:
    """"ja hij heeft een plan" after "nee" at the danger question: the counsellor now
    knows more than when she answered; the protocol's danger phrases catch it."""
    slots = {**START, "protocol": "suicidaliteit", "protocol_step": "wie_bewoner",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}
    events, messages = answer("ja hij heeft een plan", "affirm", slots)
    assert texts(messages) == [SUI_112]
    assert events == [SlotSet("protocol_answer", None), SlotSet("acute", True)]


def test_danger_in_a_suicidality_run_says_its_own_112_step_not_the_police_advice(knowledge: Knowledge) -> None:
    """112 in a suicide crisis is an ambulance and staying with the resident; "keep the
    perpetrator away" is the general advice of the violence protocols."""
    step = knowledge.protocols["suicidaliteit"].steps["bel_112"]
    assert SUI_112.startswith(step.text) and "ambulance" in SUI_112 and f"Bron: {step.source.title}" in SUI_112
    assert "pleger" not in SUI_112
    slots = {**START, "protocol": "suicidaliteit", "protocol_step": "acuut_gevaar"}
    events, messages = answer("/affirm", "affirm", slots)
    assert texts(messages) == [SUI_112]
    assert SlotSet("protocol_step", "wie_bewoner") in events and SlotSet("acute", True) in events
    _, messages = answer("stop, hij staat nu op het dak", "stop", {**slots, "protocol_step": "wie_bewoner"})
    assert texts(messages) == [SUI_112, "Het protocol is gestopt. Er is niets vastgelegd."]


def test_the_threatening_brothers_waiting_at_the_gate_get_112_first_and_the_same_question() -> None:
    """Found by trying it: the NLU took this for a bad answer to "waar gaat het vooral om?"."""
    slots = {**START, "protocol_step": "vorm_dreiging", "protocol_answers": [{"step": "acuut_gevaar",
                                                                                "answer": "nee"}]}
    events, messages = answer("haar broers wachten buiten bij de poort", "nlu_fallback", slots)
    assert texts(messages) == [ACUTE_TEXT]
    assert events == [SlotSet("protocol_answer", None), SlotSet("acute", True)]


# --------------------------------------------------------------------------- asking again


def test_a_question_asked_again_comes_without_the_instructions() -> None:
    slots = {**START, "protocol_step": "vorm_dreiging", "acute": True,
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "ja"}]}
    tracker = make_tracker(text="wat doet Fiom?", intent="vraag_organisatie", slots=slots,
                           events_after=[action_event("protocol_form", 102.0),
                                         {"event": "slot", "name": "protocol_answer", "value": None}])
    _, messages = run(ValidateProtocolForm(), tracker)
    assert len(messages) == 1 and messages[0]["text"].startswith("Waar gaat het vooral om?")


def test_a_question_reached_this_turn_comes_with_the_instructions() -> None:
    slots = {**START, "protocol_step": "vorm_dreiging", "acute": True,
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "ja"}]}
    tracker = make_tracker(text="/affirm", intent="affirm", slots=slots,
                           events_after=[action_event("protocol_form", 102.0),
                                         {"event": "slot", "name": "protocol_step", "value": "vorm_dreiging"}])
    _, messages = run(ValidateProtocolForm(), tracker)
    assert len(messages) == 2 and messages[0]["text"].startswith("Bel nu 112")


# --------------------------------------------------------------------------- the NLU's alarm on a bare answer

ZW = "ongewenste_zwangerschap"
AT_JONGER_DAN_16_WIE = {**START, "protocol": ZW, "protocol_step": "jonger_dan_16_wie",
                        "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                             {"step": "morning_afterpil", "answer": "nee"},
                                             {"step": "aantal_weken", "answer": 15},
                                             {"step": "signalen_mensenhandel", "answer": "nee"},
                                             {"step": "leeftijd", "answer": 15}]}
AT_SOORT_GEWELD = {**START, "protocol": "huiselijk_geweld", "protocol_step": "soort_geweld",
                   "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}


@pytest.mark.parametrize(("text", "slots", "answered"), [
    # What the trained NLU made of them: acuut_gevaar at 0.54 and 0.97.
    ("met haar ouders", AT_JONGER_DAN_16_WIE, "kind_met_ouders"),
    ("met haar oudrs", AT_JONGER_DAN_16_WIE, "kind_met_ouders"),  # a typo the choice is read through
    ("hij is haar man", AT_SOORT_GEWELD, "partnergeweld"),
    ("15", {**AT_WEKEN}, 15),
    # An age beside the option: "hij is 17" alone was acuut_gevaar at 0.96.
    ("ze is 14 en hier zonder ouders", AT_JONGER_DAN_16_WIE, "amv"),
    ("15 jaar, bij haar ouders", AT_JONGER_DAN_16_WIE, "kind_met_ouders"),
    ("hij is 30", {**START, "protocol": "suicidaliteit", "protocol_step": "wie_bewoner",
                   "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}, "volwassene"),
])
def test_a_bare_answer_the_nlu_took_for_danger_is_just_the_answer(text: str, slots: dict, answered: Any) -> None:
    events, messages = answer(text, "acuut_gevaar", slots)
    assert ACUTE_TEXT not in texts(messages)
    assert SlotSet("acute", False) in events
    step = slots["protocol_step"]
    assert SlotSet("protocol_answers", [*slots["protocol_answers"], {"step": step, "answer": answered}]) in events


def test_a_bare_age_that_fits_two_options_is_asked_again_without_an_alarm() -> None:
    """"hij is 16" (the NLU: acuut_gevaar 0.96) fits a child with parents and an amv alike."""
    slots = {**START, "protocol": "suicidaliteit", "protocol_step": "wie_bewoner",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}]}
    events, messages = answer("hij is 16", "acuut_gevaar", slots)
    assert ACUTE_TEXT not in texts(messages) and not any("112" in text for text in texts(messages))
    assert SlotSet("acute", True) not in events
    assert texts(messages)[0].startswith("Dat heb ik niet goed begrepen.")


@pytest.mark.parametrize(("text", "slots"), [
    # Danger in the words themselves, or words beyond the option: 112 as before.
    ("met haar ouders, haar vader staat nu met een mes voor de deur", AT_JONGER_DAN_16_WIE),
    ("haar man, kom snel", AT_SOORT_GEWELD),
    ("hij is haar man en hij is nu hier", AT_SOORT_GEWELD),
])
def test_an_answer_with_more_than_the_option_keeps_the_alarm(text: str, slots: dict) -> None:
    events, messages = answer(text, "acuut_gevaar", slots)
    assert texts(messages)[0] == ACUTE_TEXT
    assert SlotSet("acute", True) in events


@pytest.mark.parametrize("text", ["ja", "jawel hoor"])
def test_the_danger_question_itself_keeps_the_nlu_alarm(text: str) -> None:
    events, messages = answer(text, "acuut_gevaar", {**AT_SOORT_GEWELD, "protocol_step": "acuut_gevaar",
                                                     "protocol_answers": []})
    assert texts(messages)[0] == ACUTE_TEXT
    assert SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "ja"}]) in events


@pytest.mark.parametrize("text", ["nee", "niet op dit moment", "op dit moment niet", "momenteel niet",
                                  "nu even niet"])
def test_a_typed_no_to_the_danger_question_outweighs_the_nlus_alarm(text: str) -> None:
    """The trained NLU read "niet op dit moment" as acuut_gevaar (0.80): the counsellor's
    no became "Bel nu eerst 112: er is acuut gevaar" and an acute run."""
    events, messages = answer(text, "acuut_gevaar", {**AT_SOORT_GEWELD, "protocol_step": "acuut_gevaar",
                                                     "protocol_answers": []})
    assert ACUTE_TEXT not in texts(messages)
    assert SlotSet("acute", False) in events
    assert SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "nee"}]) in events


def test_a_no_with_danger_in_its_words_is_still_an_alarm() -> None:
    events, messages = answer("nee, maar hij staat nu met een mes voor de deur", "acuut_gevaar",
                              {**AT_SOORT_GEWELD, "protocol_step": "acuut_gevaar", "protocol_answers": []})
    assert texts(messages)[0] == ACUTE_TEXT
    assert SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "ja"}]) in events
