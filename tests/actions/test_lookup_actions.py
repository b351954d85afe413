"""The look-up actions for contact persons, with exact events and messages."""

from __future__ import annotations

import pytest
from rasa_sdk.events import FollowupAction, SlotSet

from actions import (
    ActionLookupKeyPosition,
    ActionLookupOrganisation,
    ActionLookupStep,
    ActionLookupSteps,
    ActionLookupWhenToReport,
    ActionWieBenJij,
)
from knowledge import Knowledge, main_path
from tests.actions.conftest import FakeApi
from tests.actions.helpers import make_tracker, run, texts

EGG = "eergerelateerd_geweld"


def ask(action, text: str, intent: str, entities: list[dict] | None = None, **kwargs):
    return run(action, make_tracker(text=text, intent=intent, entities=entities, **kwargs))


# --------------------------------------------------------------------------- steps


def test_step_4_of_the_meldcode_with_its_source(knowledge: Knowledge) -> None:
    events, messages = ask(ActionLookupStep(), "wat is stap 4 van de meldcode?", "vraag_stap",
                           [{"entity": "protocol", "value": "meldcode"}])
    assert events == []
    meldcode = knowledge.references["meldcode"]
    step = meldcode.step(4)
    assert messages[0]["text"] == (
        f"Stap 4 van de meldcode huiselijk geweld en kindermishandeling: {step.title}.\n{step.text}\n\n"
        f"Bron: {step.source.title} ({step.source.url})")
    # step 4 is the afwegingskader: its five questions follow
    assert messages[1]["text"].startswith("Afwegingskader (verplicht sinds 1 januari 2019):\n1. ")
    assert len(messages) == 2


def test_a_message_that_asks_nothing_is_no_look_up() -> None:
    """"ze is 7" is vraag_stap to the NLU: it asks nothing and names no step, so it is read
    as a message not understood (as action_niet_begrepen reads it), not "welke stap bedoelt u"."""
    events, messages = ask(ActionLookupStep(), "ze is 7", "vraag_stap")
    assert (events, [m.get("response") for m in messages]) == ([], ["utter_default"])
    # ... and the safe general path when it speaks of someone's safety.
    events, messages = ask(ActionLookupStep(), "ze is 7 en wordt thuis geslagen", "vraag_stap")
    assert events[-1] == FollowupAction("protocol_form")
    assert SlotSet("protocol", "algemene_veiligheid") in events


@pytest.mark.parametrize("text", ["wat houdt stap twee in?", "wat is de tweede stap van de meldcode"])
def test_the_meldcode_is_the_default_and_number_words_work(knowledge: Knowledge, text: str) -> None:
    _, messages = ask(ActionLookupStep(), text, "vraag_stap")
    assert messages[0]["text"].startswith(f"Stap 2 van de meldcode huiselijk geweld en kindermishandeling: "
                                          f"{knowledge.references['meldcode'].step(2).title}.")
    assert len(messages) == 1


def test_step_2_of_a_protocol_is_its_main_path_step(knowledge: Knowledge) -> None:
    _, messages = ask(ActionLookupStep(), "stap 2 bij eergerelateerd geweld", "vraag_stap",
                      [{"entity": "protocol", "value": EGG}])
    step = main_path(knowledge.protocols[EGG])[1]
    assert texts(messages) == [
        f"Stap 2 van het protocol Eergerelateerd geweld (vraag): {step.text}\nToelichting: {step.help}\n\n"
        f"Bron: {step.source.title}"]


def test_the_protocol_is_also_found_by_its_name_in_the_text() -> None:
    _, messages = ask(ActionLookupStep(), "wat is stap 3 bij seksueel geweld?", "vraag_stap")
    assert messages[0]["text"].startswith("Stap 3 van het protocol Seksueel geweld (wat u doet): Bel meteen")


def test_a_step_that_does_not_exist_lists_the_steps(knowledge: Knowledge) -> None:
    _, messages = ask(ActionLookupStep(), "wat is stap 9 van de meldcode", "vraag_stap")
    lines = messages[0]["text"].splitlines()
    assert lines[0] == "Ik weet niet welke stap u bedoelt; de meldcode huiselijk geweld en kindermishandeling " \
                       "heeft 5 hoofdstappen:"
    assert lines[1:6] == [f"{s.number}. {s.title}" for s in knowledge.references["meldcode"].steps]


def test_the_steps_of_a_protocol_in_order_with_sources(knowledge: Knowledge) -> None:
    events, messages = ask(ActionLookupSteps(), "wat zijn de stappen bij eergerelateerd geweld?", "vraag_stappen",
                           [{"entity": "protocol", "value": EGG}])
    assert events == []
    text = messages[0]["text"]
    lines = text.splitlines()
    assert lines[0] == "De hoofdstappen van het protocol Eergerelateerd geweld (versie 1.2.0):"
    steps = main_path(knowledge.protocols[EGG])
    assert lines[1].startswith("1. Is er op dit moment direct gevaar")
    assert lines[len(steps)].startswith(f"{len(steps)}. ")
    assert lines[-1].startswith("Bronnen: ") and "Meldcode.nu: eergerelateerd geweld" in lines[-1]


def test_the_steps_default_to_the_protocol_running() -> None:
    _, messages = ask(ActionLookupSteps(), "wat zijn de stappen?", "vraag_stappen",
                      slots={"protocol": "seksueel_geweld"})
    assert messages[0]["text"].startswith("De hoofdstappen van het protocol Seksueel geweld")


def test_without_a_protocol_the_steps_question_offers_the_topics(knowledge: Knowledge) -> None:
    _, messages = ask(ActionLookupSteps(), "wat zijn de stappen?", "vraag_stappen")
    assert messages[0]["text"] == "Van welk protocol wilt u de stappen zien?"
    assert messages[0]["buttons"][0] == {"title": "Eergerelateerd geweld",
                                         "payload": '/vraag_stappen{"protocol": "eergerelateerd_geweld"}'}
    assert messages[0]["buttons"][-1] == {"title": "Meldcode huiselijk geweld en kindermishandeling",
                                          "payload": '/vraag_stappen{"protocol": "meldcode"}'}
    assert len(messages[0]["buttons"]) == len(knowledge.protocols) + 1


def test_the_meldcode_steps_come_with_the_afwegingskader() -> None:
    _, messages = ask(ActionLookupSteps(), "wat zijn de stappen van de meldcode", "vraag_stappen",
                      [{"entity": "protocol", "value": "meldcode"}])
    assert messages[0]["text"].startswith("De stappen van de meldcode huiselijk geweld en kindermishandeling:\n1. ")
    assert messages[1]["text"].startswith("Afwegingskader")


# --------------------------------------------------------------------------- organisations


def test_what_fiom_does(knowledge: Knowledge) -> None:
    events, messages = ask(ActionLookupOrganisation(), "wat doet Fiom?", "vraag_organisatie",
                           [{"entity": "organisation", "value": "fiom"}])
    fiom = knowledge.organisations["fiom"]
    assert events == []
    assert texts(messages) == [
        f"Fiom: {fiom.description}\nWanneer: {fiom.when}\nTelefoon: 0800-6160 (24/7, ook chat)\n"
        f"Website: https://fiom.nl\n\nBron: {fiom.source.title} ({fiom.source.url})"]


def test_a_number_to_verify_says_so() -> None:
    _, messages = ask(ActionLookupOrganisation(), "wat is het nummer van het LEC EGG", "vraag_organisatie")
    assert "Telefoon: 088-9648550 (nummer verifiëren)" in messages[0]["text"]


def test_an_unknown_organisation_offers_the_list(knowledge: Knowledge) -> None:
    _, messages = ask(ActionLookupOrganisation(), "wat doet de gemeente?", "vraag_organisatie")
    assert messages[0]["text"] == "Over welke organisatie wilt u meer weten?"
    assert len(messages[0]["buttons"]) == len(knowledge.organisations)
    assert {"title": "Fiom", "payload": '/vraag_organisatie{"organisation": "fiom"}'} in messages[0]["buttons"]


def test_an_organisation_asked_for_by_its_number_or_alias_is_looked_up(knowledge: Knowledge) -> None:
    """The entity ruler calls "113" the suicidality protocol; the number still names 113."""
    _, messages = ask(ActionLookupOrganisation(), "wat is het nummer van 113?", "vraag_organisatie",
                      [{"entity": "protocol", "value": "suicidaliteit", "start": 22, "end": 25}])
    assert messages[0]["text"].startswith(f"{knowledge.organisations['zelfmoordpreventie_113'].name}: ")
    _, messages = ask(ActionLookupOrganisation(), "wat doet het blijfhuis", "vraag_organisatie")
    assert messages[0]["text"].startswith(f"{knowledge.organisations['vrouwenopvang'].name}: ")


# --------------------------------------------------------------------------- when to report


def test_when_to_bring_in_veilig_thuis_is_cited(knowledge: Knowledge) -> None:
    events, messages = ask(ActionLookupWhenToReport(), "wanneer moet ik Veilig Thuis inschakelen?",
                           "vraag_wanneer_melden", [{"entity": "organisation", "value": "veilig_thuis"}])
    vt = knowledge.organisations["veilig_thuis"]
    assert events == []
    assert messages[0]["text"] == (f"Wanneer schakelt u Veilig Thuis (0800-2000) in?\n{vt.when}\n\n"
                                   f"Bron: {vt.source.title} ({vt.source.url})")
    assert messages[1]["text"].startswith("Afwegingskader")
    assert "2. Is er sprake van acute en/of structurele onveiligheid? Ja: melden bij Veilig Thuis." \
        in messages[1]["text"]
    assert messages[2]["text"].startswith("- Acute onveiligheid: ")
    assert messages[2]["text"].endswith("Bron: Handelingsprotocol: acute en structurele onveiligheid")


def test_veilig_thuis_is_the_default_for_when_to_report() -> None:
    _, messages = ask(ActionLookupWhenToReport(), "wanneer moet ik melden?", "vraag_wanneer_melden")
    assert messages[0]["text"].startswith("Wanneer schakelt u Veilig Thuis")


# --------------------------------------------------------------------------- key positions


def test_who_is_the_contactpersoon_veiligheid_in_ter_apel(fake_api: FakeApi) -> None:
    events, messages = ask(ActionLookupKeyPosition(), "wie is de contactpersoon veiligheid in Ter Apel?",
                           "vraag_sleutelpersoon", [{"entity": "key_position", "value": "contactpersoon_veiligheid"},
                                                    {"entity": "location", "value": "TERAPEL"}])
    assert events == []
    assert texts(messages) == ["De contactpersoon veiligheid op Ter Apel: Ineke Veldman (06-11111111)."]
    assert fake_api.count("GET", "/api/v1/locations/TERAPEL/key-positions") == 1


def test_the_location_defaults_to_the_slot_then_the_metadata(fake_api: FakeApi) -> None:
    _, messages = ask(ActionLookupKeyPosition(), "wie is de aandachtsfunctionaris?", "vraag_sleutelpersoon",
                      metadata={"location": "TERAPEL"})
    assert texts(messages) == ["De aandachtsfunctionaris huiselijk geweld en kindermishandeling op Ter Apel: "
                               "Sanne Bakker."]
    _, messages = ask(ActionLookupKeyPosition(), "wie is de contactpersoon veiligheid", "vraag_sleutelpersoon",
                      slots={"location": "BUDEL"}, metadata={"location": "TERAPEL"})
    # Nobody holds it: the 24/7 organisations are the next step (issue 17), all that the
    # protocols bringing in this position refer to (every protocol does).
    assert texts(messages) == ["Op Budel-Cranendonck is geen contactpersoon veiligheid bekend. Vraag het de "
                               "locatiemanager of de contactpersoon veiligheid.\n"
                               "Is niemand bereikbaar (buiten kantoortijd, verlof)? Wacht dan niet: Veilig Thuis "
                               "(0800-2000), Centrum Seksueel Geweld (CSG) (0800-0188), Fiom (0800-6160), "
                               "Gezondheidszorg Asielzoekers (GZA) (088-1122112, nummer verifiëren), "
                               "113 Zelfmoordpreventie (113) en bij direct gevaar 112 zijn dag en nacht bereikbaar."]


def test_out_of_hours_a_missing_lhbti_contact_person_names_what_lhbti_support_refers_to(
        fake_api: FakeApi) -> None:
    _, messages = ask(ActionLookupKeyPosition(), "wie is de lhbti contactpersoon in budel", "vraag_sleutelpersoon",
                      entities=[{"entity": "key_position", "value": "lhbti_contactpersoon"},
                                {"entity": "location", "value": "BUDEL"}])
    (text,) = texts(messages)
    assert text.endswith("Wacht dan niet: Veilig Thuis (0800-2000) en bij direct gevaar 112 zijn dag en nacht "
                         "bereikbaar."), text


def test_without_a_position_all_holders_are_listed(fake_api: FakeApi) -> None:
    _, messages = ask(ActionLookupKeyPosition(), "wie zijn de sleutelpersonen in ter apel", "vraag_sleutelpersoon")
    assert texts(messages) == ["Sleutelposities op Ter Apel:\n"
                               "- contactpersoon veiligheid: Ineke Veldman (06-11111111)\n"
                               "- aandachtsfunctionaris huiselijk geweld en kindermishandeling: Sanne Bakker"]


def test_the_key_positions_of_a_named_protocol_only(fake_api: FakeApi) -> None:
    """"wie bel ik voor mensenhandel?": the positions that protocol brings in, in the
    knowledge's order, one nobody holds included."""
    _, messages = ask(ActionLookupKeyPosition(), "wie bel ik voor mensenhandel in ter apel?", "vraag_sleutelpersoon",
                      [{"entity": "protocol", "value": "mensenhandel", "start": 16, "end": 28}])
    assert texts(messages) == ["Sleutelposities op Ter Apel bij Mensenhandel:\n"
                               "- contactpersoon veiligheid: Ineke Veldman (06-11111111)\n"
                               "- aandachtsfunctionaris huiselijk geweld en kindermishandeling: Sanne Bakker\n"
                               "- contactpersoon mensenhandel en -smokkel: niet bekend, vraag het de locatiemanager"]


def test_without_a_location_the_locations_are_offered(fake_api: FakeApi) -> None:
    _, messages = ask(ActionLookupKeyPosition(), "wie is de contactpersoon veiligheid?", "vraag_sleutelpersoon",
                      [{"entity": "key_position", "value": "contactpersoon_veiligheid"}])
    assert messages[0]["buttons"][0] == {
        "title": "Ter Apel",
        "payload": '/vraag_sleutelpersoon{"key_position": "contactpersoon_veiligheid", "location": "TERAPEL"}'}


def test_the_api_down_is_said_clearly(api_down: None) -> None:
    events, messages = ask(ActionLookupKeyPosition(), "wie is de contactpersoon veiligheid in Ter Apel?",
                           "vraag_sleutelpersoon", [{"entity": "location", "value": "TERAPEL"}])
    assert events == []
    assert texts(messages) == ["Ik kan de sleutelposities nu niet opvragen: de registratie is niet bereikbaar. "
                               "Probeer het later opnieuw of vraag het de locatiemanager. Bij direct gevaar: bel 112."]


def test_when_to_bring_in_an_organisation_whose_number_is_to_be_verified_says_so() -> None:
    _, messages = ask(ActionLookupWhenToReport(), "wanneer schakel ik het LEC EGG in?",
                      "vraag_wanneer_melden", [{"entity": "organisation", "value": "lec_egg"}])
    assert messages[0]["text"].startswith(
        "Wanneer schakelt u Landelijk Expertisecentrum Eergerelateerd Geweld (LEC EGG) "
        "(088-9648550 (nummer verifiëren)) in?")


# --------------------------------------------------------------------------- "wie ben jij?"


def test_who_are_you_is_answered() -> None:
    events, messages = ask(ActionWieBenJij(), "ben jij een bot?", "bot_challenge")
    assert (events, [m.get("response") for m in messages]) == ([], ["utter_bot_challenge"])


def test_who_is_an_organisation_taken_for_who_are_you_gets_its_look_up(knowledge: Knowledge) -> None:
    """"wie is pharos" is bot_challenge to the NLU (0.71)."""
    events, messages = ask(ActionWieBenJij(), "wie is pharos", "bot_challenge",
                           [{"entity": "organisation", "value": "pharos", "start": 7, "end": 13}])
    assert events == []
    assert texts(messages)[0].startswith(f"{knowledge.organisations['pharos'].name}:")


def test_who_is_a_key_position_taken_for_who_are_you_gets_its_holder(fake_api: FakeApi) -> None:
    text = "wie is de contactpersoon veiligheid in Ter Apel"
    start = text.index("contactpersoon")
    _, messages = ask(ActionWieBenJij(), text, "bot_challenge",
                      [{"entity": "key_position", "value": "contactpersoon_veiligheid", "start": start,
                        "end": start + len("contactpersoon veiligheid")},
                       {"entity": "location", "value": "TERAPEL"}])
    assert texts(messages) == ["De contactpersoon veiligheid op Ter Apel: Ineke Veldman (06-11111111)."]


def test_who_are_you_that_speaks_of_safety_takes_the_general_path() -> None:
    """Fail safe: no "ik ben een assistent" to a message about someone's safety."""
    events, messages = ask(ActionWieBenJij(), "wie ben jij, mijn man slaat me", "bot_challenge",
                           metadata={"location": "TERAPEL"})
    assert events[-1] == FollowupAction("protocol_form")
    assert SlotSet("protocol", "algemene_veiligheid") in events
    assert "utter_bot_challenge" not in [m.get("response") for m in messages]
