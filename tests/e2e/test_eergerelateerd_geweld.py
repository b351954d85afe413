"""The walking skeleton, end to end: a counsellor reports honour-based violence in
her own words over the REST channel, answers the protocol's questions, gets 112
first when the danger is now, and the decision is readable through the API."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from tests.e2e.chat import Conversation
from tests.e2e.conftest import ROOT, make_token

pytestmark = pytest.mark.e2e
API = "http://127.0.0.1:8000/api/v1"
REFERENCE = re.compile(r"Referentie[^:]*:\s*\**([A-Z]+-[0-9]+-[A-Z0-9]+)")


def finish_protocol(chat: Conversation, replies: list[dict], max_turns: int = 30) -> list[dict]:
    """Answers every remaining question (first button, or a typed answer) up to the outcome."""
    for _ in range(max_turns):
        if REFERENCE.search(chat.text(replies)):
            return replies
        buttons = chat.buttons(replies)
        replies = chat.say(buttons[0]["payload"] if buttons else "dat weet ik niet")
    raise AssertionError(f"no recorded decision after {max_turns} turns:\n{chat.dump()}")


def incidents(conversation_id: str, token: str) -> dict:
    response = httpx.get(f"{API}/incidents", params={"conversation_id": conversation_id},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def test_acute_report_is_guided_and_recorded(stack) -> None:
    chat = Conversation(location="TERAPEL")
    first = chat.say("een bewoonster vertelt dat haar broer haar bedreigt omdat ze niet met haar neef wil trouwen")
    buttons = chat.buttons(first)
    assert [b["title"] for b in buttons] == ["Ja", "Nee"], chat.dump()
    assert [b["payload"] for b in buttons] == ["/affirm", "/deny"]

    after_yes = chat.say("/affirm")
    assert "112" in after_yes[0]["text"], chat.dump()

    outcome = finish_protocol(chat, after_yes)
    text = chat.text(outcome)
    assert "0800-2000" in text, "Veilig Thuis and its number are part of the outcome"
    reference = REFERENCE.search(text).group(1)

    supervisor = make_token("supervisor", "TERAPEL")
    body = incidents(chat.sender, supervisor)
    assert body["total"] == 1, chat.dump()
    incident = body["items"][0]
    assert incident["reference"] == reference
    assert incident["conversation_id"] == chat.sender
    assert incident["location"] == "TERAPEL"
    assert incident["protocol"] == "eergerelateerd_geweld"
    assert incident["protocol_version"]
    assert incident["acute"] is True
    assert {"politie", "veilig_thuis"} <= set(incident["referrals"])
    assert incident["steps"][0]["answer"] == "ja"
    assert incident["review_status"] == "nieuw"

    other_location = make_token("supervisor", "BUDEL")
    assert incidents(chat.sender, other_location) == {"items": [], "total": 0}


def test_danger_mid_protocol_gets_112_first_and_typed_answers_work(stack) -> None:
    chat = Conversation(location="TERAPEL")
    chat.say("Bwn wordt door haar vader bedreigd ivm eer, hij wil haar uithuwelijken")
    not_now = chat.say("nee")
    assert chat.buttons(not_now), "after a typed 'nee' the next question is asked:\n" + chat.dump()

    interrupted = chat.say("help hij staat nu met een mes voor haar deur")
    assert "112" in interrupted[0]["text"], chat.dump()
    assert chat.buttons(interrupted), "the protocol continues after the 112 message"

    finish_protocol(chat, interrupted)
    incident = incidents(chat.sender, make_token("supervisor", "TERAPEL"))["items"][0]
    assert incident["acute"] is True
    assert incident["steps"][0]["answer"] == "nee"
    assert "veilig_thuis" in incident["referrals"]


def test_without_location_the_assistant_asks_for_it(stack) -> None:
    chat = Conversation(location=None)
    asked = chat.say("er is sprake van eergerelateerd geweld bij een bewoonster")
    assert "locatie" in chat.text(asked).lower(), chat.dump()
    answered = chat.say("Zwolle")
    assert chat.buttons(answered), chat.dump()
    finish_protocol(chat, answered)
    incident = incidents(chat.sender, make_token("supervisor", "ZWOLLE"))["items"][0]
    assert incident["location"] == "ZWOLLE"


def test_shared_contract_check_passes(stack) -> None:
    check = ROOT.parent / "shared" / "contract_check.py"
    assert check.exists(), f"{check} is missing"
    result = subprocess.run([sys.executable, str(check)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
