"""The look-up questions of issue 3 over the REST channel: meldcode and protocol
steps, organisations, when to bring in Veilig Thuis, and key-position holders
from the API (also inside a running protocol, which then asks its question again)."""

from __future__ import annotations

import httpx
import pytest

from knowledge import load_knowledge, main_path
from tests.e2e.chat import Conversation
from tests.e2e.conftest import make_token

pytestmark = pytest.mark.e2e
API = "http://127.0.0.1:8000/api/v1"
KNOWLEDGE = load_knowledge()
MELDCODE = KNOWLEDGE.references["meldcode"]


def holders(location: str) -> list[dict]:
    response = httpx.get(f"{API}/locations/{location}/key-positions",
                         headers={"Authorization": f"Bearer {make_token('admin')}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def test_step_4_of_the_meldcode(stack) -> None:
    chat = Conversation()
    text = chat.text(chat.say("wat is stap 4 van de meldcode?"))
    assert f"Stap 4 van de meldcode huiselijk geweld en kindermishandeling: {MELDCODE.step(4).title}" in text, \
        chat.dump()
    assert "Bron: " in text and "Afwegingskader" in text


def test_step_2_of_eergerelateerd_geweld_is_the_protocols_own_step(stack) -> None:
    chat = Conversation()
    text = chat.text(chat.say("wat is stap 2 bij eergerelateerd geweld?"))
    step = main_path(KNOWLEDGE.protocols["eergerelateerd_geweld"])[1]
    assert "Stap 2 van het protocol Eergerelateerd geweld" in text and step.text in text, chat.dump()


def test_the_steps_of_eergerelateerd_geweld(stack) -> None:
    chat = Conversation()
    text = chat.text(chat.say("wat zijn de stappen bij eergerelateerd geweld?"))
    assert "De hoofdstappen van het protocol Eergerelateerd geweld" in text, chat.dump()
    assert "1. Is er op dit moment direct gevaar" in text and "Bronnen: " in text


def test_when_to_bring_in_veilig_thuis(stack) -> None:
    chat = Conversation()
    text = chat.text(chat.say("wanneer moet ik Veilig Thuis inschakelen?"))
    assert "Wanneer schakelt u Veilig Thuis (0800-2000) in?" in text, chat.dump()
    assert KNOWLEDGE.organisations["veilig_thuis"].when in text
    assert "Afwegingskader" in text and "Bron: " in text


def test_what_fiom_does(stack) -> None:
    chat = Conversation()
    text = chat.text(chat.say("wat doet Fiom?"))
    assert text.startswith("Fiom: "), chat.dump()
    assert "0800-6160" in text and "https://fiom.nl" in text and "Bron: " in text


def test_every_organisation_and_key_position_is_looked_up_by_name(stack) -> None:
    """A question naming an organisation or a key position is answered, also when the NLU
    takes it for out of scope ("wat doet Pharos?") or, for the name in it, for a report
    ("wat doet 113 Zelfmoordpreventie?", "wie is de aandachtsfunctionaris huiselijk
    geweld ...?"): no protocol starts. Inside a protocol too, which then asks again."""
    for organisation in KNOWLEDGE.organisations.values():
        chat = Conversation()
        text = chat.text(chat.say(f"wat doet {organisation.name}?"))
        assert text.startswith(f"{organisation.name}: "), chat.dump()
    for position in KNOWLEDGE.key_positions.values():
        chat = Conversation()
        text = chat.text(chat.say(f"wie is de {position.label} in Ter Apel?"))
        assert text.startswith(f"De {position.label} op Ter Apel: "), chat.dump()
    chat = Conversation()
    chat.say("een moeder wil haar dochtertje laten besnijden in de vakantie")
    replies = chat.say("wat doet Pharos?")
    assert chat.text(replies).startswith("Pharos: "), chat.dump()
    fgm = KNOWLEDGE.protocols["meisjesbesnijdenis"]
    assert fgm.steps["acuut_gevaar"].text in replies[-1]["text"], chat.dump()


def test_whom_to_call_for_a_protocol_lists_its_key_positions_and_a_number_names_its_organisation(stack) -> None:
    chat = Conversation()
    text = chat.text(chat.say("wie bel ik voor mensenhandel in ter apel?"))
    assert text.startswith("Sleutelposities op Ter Apel bij Mensenhandel:"), chat.dump()
    mine = [h for h in holders("TERAPEL") if h["position"] == "contactpersoon_mensenhandel"]
    assert mine and mine[0]["name"] in text, chat.dump()
    assert "lhbti" not in text.lower(), chat.dump()  # not the positions of another protocol
    chat = Conversation()
    text = chat.text(chat.say("wat is het nummer van 113?"))
    assert text.startswith(f"{KNOWLEDGE.organisations['zelfmoordpreventie_113'].name}: "), chat.dump()


def test_who_is_an_organisation_is_no_question_about_the_assistant(stack) -> None:
    """"wie is pharos" reads to the NLU like "wie ben jij?" (bot_challenge): every
    organisation asked that way gets an answer about it (its look-up, or for some names
    the NLU's "when do I bring it in", which names it as well), never "ik ben een
    assistent"; "ben jij een bot?" is still answered."""
    chat = Conversation()
    assert chat.text(chat.say("wie is pharos")).startswith("Pharos: "), chat.dump()
    for organisation in KNOWLEDGE.organisations.values():
        chat = Conversation()
        text = chat.text(chat.say(f"wie is {organisation.name.lower()}"))
        assert text.startswith((f"{organisation.name}: ", f"Wanneer schakelt u {organisation.name}")), \
            chat.dump()
        assert "assistent" not in text, chat.dump()
    chat = Conversation()
    assert "assistent" in chat.text(chat.say("ben jij een bot?")), chat.dump()


def test_a_message_the_nlu_takes_for_a_step_look_up_but_that_asks_nothing(stack) -> None:
    """"ze is 7" (vraag_stap to the NLU): one "not understood" with the topics, not "which
    step do you mean", and no second answer from Rasa's core fallback."""
    chat = Conversation()
    replies = chat.say("ze is 7")
    assert [r.get("text") for r in replies] == ["Dat begreep ik niet. Bedoelde u een van deze?"], chat.dump()
    assert replies[0]["buttons"], chat.dump()


def test_a_question_that_also_reports_is_a_report(stack) -> None:
    chat = Conversation()
    text = chat.text(chat.say("wat doet het CSG, ze is gisteren verkracht"))
    assert "Ik volg het protocol Seksueel geweld." in text or "algemene veiligheidsstappen" in text, chat.dump()


def test_the_number_of_veilig_thuis(stack) -> None:
    chat = Conversation()
    text = chat.text(chat.say("wat is het nummer van Veilig Thuis?"))
    assert "0800-2000" in text, chat.dump()


def test_who_is_the_contactpersoon_veiligheid_in_ter_apel(stack) -> None:
    names = [h["name"] for h in holders("TERAPEL") if h["position"] == "contactpersoon_veiligheid"]
    assert names, "the demo seed has a contactpersoon veiligheid for Ter Apel"
    chat = Conversation(location=None)
    text = chat.text(chat.say("wie is de contactpersoon veiligheid in Ter Apel?"))
    assert "contactpersoon veiligheid op Ter Apel" in text, chat.dump()
    assert all(name in text for name in names), chat.dump()


def test_the_key_position_location_defaults_to_the_metadata(stack) -> None:
    names = [h["name"] for h in holders("ZWOLLE") if h["position"] == "contactpersoon_veiligheid"]
    chat = Conversation(location="ZWOLLE")
    text = chat.text(chat.say("wie is hier de contactpersoon veiligheid?"))
    assert "Zwolle" in text, chat.dump()
    assert all(name in text for name in names), chat.dump()


def test_a_look_up_inside_a_protocol_is_answered_and_the_question_asked_again(stack) -> None:
    egg = KNOWLEDGE.protocols["eergerelateerd_geweld"]
    chat = Conversation()
    first = chat.say("een bewoonster wordt bedreigd door haar broer, het gaat om de eer van de familie")
    assert egg.steps["acuut_gevaar"].text in chat.text(first), chat.dump()
    looked_up = chat.say("wat doet Fiom?")
    text = chat.text(looked_up)
    assert "Fiom: " in text, chat.dump()
    assert egg.steps["acuut_gevaar"].text in looked_up[-1]["text"], chat.dump()
    assert [b["title"] for b in looked_up[-1]["buttons"]] == ["Ja", "Nee"]
    assert "Dat heb ik niet goed begrepen" not in text
