"""Bad input to the assistant (issue 6.6): empty, very long, emoji, markup and
injection messages get a normal answer, and the conversation goes on afterwards."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.chat import RASA_REST, Conversation
from tests.e2e.conftest import make_token
from tests.e2e.test_eergerelateerd_geweld import finish_protocol, incidents

pytestmark = pytest.mark.e2e

HOSTILE = [
    "",
    "   ",
    "a" * 10_000,
    "😡😡😡 🔪🏠 ‼️",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "'; DROP TABLE incidents; --",
    '/kies{"keuze": "x\\" OR 1=1"}',
    "/affirm{\"location\": \"BUDEL\"}",
    "{{7*7}} ${jndi:ldap://127.0.0.1/a}",
    "\u0000\u202e omgekeerd",
]


@pytest.mark.parametrize("message", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_message_outside_a_protocol_gets_an_answer(stack, message: str) -> None:
    chat = Conversation(location="TERAPEL")
    response = httpx.post(RASA_REST, json={"sender": chat.sender, "message": message,
                                           "metadata": {"location": "TERAPEL"}}, timeout=60)
    assert response.status_code == 200, response.text[:300]
    assert isinstance(response.json(), list)
    # The assistant still works for this conversation afterwards.
    replies = chat.say("een bewoonster wordt door haar broer bedreigd omdat ze niet wil trouwen")
    assert [b["title"] for b in chat.buttons(replies)] == ["Ja", "Nee"], chat.dump()


def test_hostile_messages_inside_a_protocol_get_the_question_again(stack) -> None:
    chat = Conversation(location="TERAPEL")
    chat.say("een bewoonster wordt door haar vader bedreigd, eerwraak")
    chat.say("nee")
    for message in ("a" * 10_000, "<script>alert(1)</script>", "😡😡😡", "'; DROP TABLE incidents; --"):
        replies = chat.say(message)
        assert chat.buttons(replies), f"the question is asked again after {message[:20]!r}:\n{chat.dump()}"
    finish_protocol(chat, chat.transcript[-1][1])
    body = incidents(chat.sender, make_token("supervisor", "TERAPEL"))
    assert body["total"] == 1
    assert body["items"][0]["location"] == "TERAPEL"
    assert all(len(str(step["answer"])) < 200 for step in body["items"][0]["steps"])
