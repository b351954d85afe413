"""Fail safe end to end (issue 13, part 5) over the REST channel: a safety problem that
fits no protocol, or that the assistant is unsure of, gets the safe general path (112
first when acute, the meldcode's first steps, Veilig Thuis, the contactpersoon
veiligheid) and is recorded under the neutral category; a question that has nothing
to do with safety never starts anything."""

from __future__ import annotations

import pytest

from tests.e2e.chat import Conversation
from tests.e2e.test_protocols import KNOWLEDGE, NO, YES, kies, recorded

pytestmark = pytest.mark.e2e

GENERAL = KNOWLEDGE.general_path
assert GENERAL is not None


def asks_general(chat: Conversation, replies: list[dict], step: str) -> None:
    assert replies, chat.dump()
    assert GENERAL.steps[step].text in replies[-1].get("text", ""), f"expected {step}:\n{chat.dump()}"
    assert replies[-1].get("buttons"), chat.dump()


@pytest.mark.parametrize("opening", [
    # no protocol's situation: a threat between residents
    "een bewoner wordt al dagen door een medebewoner bedreigd en durft zijn kamer niet uit",
    # typed fast, with typos, and unsure
    "weet nie welk protocol, bewonr is bang voor iemand op de gang",
])
def test_a_safety_problem_outside_the_protocols_takes_the_general_path_to_a_neutral_record(
        stack, opening: str) -> None:
    chat = Conversation(location="ZWOLLE")
    replies = chat.say(opening)
    asks_general(chat, replies, "acuut_gevaar")
    asks_general(chat, chat.say(NO), "wie_bewoner")
    replies = chat.say(kies("amv"))
    text = chat.text(replies)
    # The meldcode's first steps, Veilig Thuis and Nidos for an unaccompanied minor.
    for step in ("nidos_betrekken", "signalen_vastleggen", "overleg_en_advies", "gesprek_bewoner"):
        assert GENERAL.steps[step].text.split(".")[0] in text, chat.dump()
    assert "0800-2000" in text
    incident = recorded(chat, replies, location="ZWOLLE")
    assert incident["protocol"] == "algemene_veiligheid"
    assert incident["reference"].startswith("VEI-")
    assert {"veilig_thuis", "nidos"} <= set(incident["referrals"])
    assert incident["acute"] is False
    assert {f["action"] for f in incident["follow_ups"]} >= {"Veilig Thuis om advies gevraagd"}
    # Then the counsellor may still pick a protocol.
    assert "Herkent u nu een specifiek onderwerp?" in text
    assert any(b["payload"] == "/melding_huiselijk_geweld" for b in Conversation.buttons(replies))


def test_danger_now_then_something_else_calls_112_first_and_records_acute(stack) -> None:
    chat = Conversation()
    replies = chat.say("/acuut_gevaar")
    assert replies[0]["text"].startswith("Bel nu eerst 112"), chat.dump()
    assert {"title": GENERAL.title, "payload": f"/{GENERAL.intent}"} in Conversation.buttons(replies)
    asks_general(chat, chat.say(f"/{GENERAL.intent}"), "acuut_gevaar")
    replies = chat.say(YES)
    assert "112" in replies[0]["text"], chat.dump()
    asks_general(chat, replies, "wie_bewoner")
    incident = recorded(chat, chat.say(kies("volwassene")))
    assert incident["protocol"] == "algemene_veiligheid" and incident["acute"] is True
    assert {"politie", "veilig_thuis"} <= set(incident["referrals"])


def test_a_report_that_says_the_danger_is_now_is_not_asked_it_again(stack) -> None:
    """112 first; the report's words answered "Is iemand nu in direct gevaar?", so the
    next question is who the resident is, after the general path's own 112 step."""
    chat = Conversation()
    replies = chat.say("goedemorgen, er ligt iemand bewustloos op de gang")
    assert replies[0]["text"].startswith("Bel nu eerst 112"), chat.dump()
    text = chat.text(replies)
    assert GENERAL.steps["acuut_gevaar"].text not in text, chat.dump()
    assert GENERAL.steps["bel_112"].text.split(".")[0] in text, chat.dump()
    asks_general(chat, replies, "wie_bewoner")
    incident = recorded(chat, chat.say(kies("volwassene")))
    assert incident["acute"] is True
    assert incident["steps"][0] == {"step": "acuut_gevaar", "answer": "ja"}, incident["steps"]


@pytest.mark.parametrize("opening", [
    "wat wordt het weer op vrijdag",
    "een bewoner heeft kiespijn, waar kan hij heen",
    "de printer op kantoor doet het weer niet",
])
def test_a_question_without_a_safety_problem_starts_nothing(stack, opening: str) -> None:
    chat = Conversation()
    replies = chat.say(opening)
    text = chat.text(replies)
    assert GENERAL.steps["acuut_gevaar"].text not in text, chat.dump()
    for protocol in KNOWLEDGE.protocols.values():
        assert protocol.first_step.text not in text, chat.dump()
    assert "Dat begreep ik niet" in text or "niet mee helpen" in text, chat.dump()
