"""Issue 14, critical 1, against the running stack: the development REST channel
never sets who the staff member is, cannot address another channel's conversation,
takes JSON only, and a 100 KB message does not keep Rasa busy. The contract
(DESIGN.md) still holds: the incident is found by the sender id the client used."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.e2e.chat import RASA_REST, Conversation
from tests.e2e.conftest import make_token
from tests.e2e.test_eergerelateerd_geweld import finish_protocol, incidents

pytestmark = pytest.mark.e2e

REAL_COUNSELLOR_ELSEWHERE = "stf-2e9b"  # begeleider.budel (api/seed_data.yml)


def test_forged_staff_id_and_channel_are_recorded_as_unverified(stack) -> None:
    chat = Conversation(location="TERAPEL")
    forged = {"location": "TERAPEL", "staff_id": REAL_COUNSELLOR_ELSEWHERE, "channel": "webchat"}
    first = httpx.post(RASA_REST, json={"sender": chat.sender, "input_channel": "webchat", "metadata": forged,
                                        "message": "een bewoonster wordt door haar broer bedreigd, ze moet trouwen"},
                       timeout=60)
    assert first.status_code == 200
    finish_protocol(chat, first.json())

    body = incidents(chat.sender, make_token("supervisor", "TERAPEL"))
    assert body["total"] == 1, "the contract: found by the sender id the client used"
    incident = body["items"][0]
    assert incident["conversation_id"] == chat.sender
    assert incident["staff_id"] == "unverified"
    assert incident["channel"] == "rest"


def test_a_rest_sender_cannot_address_a_web_chat_or_teams_conversation(stack) -> None:
    for sender in ("wc-" + "0" * 24 + "-" + uuid.uuid4().hex, "teams-a:" + uuid.uuid4().hex, "WC-x"):
        response = httpx.post(RASA_REST, json={"sender": sender, "message": "hallo"}, timeout=30)
        assert response.status_code == 422, (sender, response.text)
        assert "another channel" in response.json()["error"]


def test_a_cross_origin_text_plain_post_is_refused(stack) -> None:
    response = httpx.post(RASA_REST, content=b'{"sender": "csrf-1", "message": "hallo"}',
                          headers={"Content-Type": "text/plain", "Origin": "https://evil.example"}, timeout=30)
    assert response.status_code == 415


def test_a_100_kb_message_is_refused_at_once_and_rasa_stays_free(stack) -> None:
    started = time.monotonic()
    response = httpx.post(RASA_REST, json={"sender": "big-" + uuid.uuid4().hex[:8], "message": "a" * 100_000},
                          timeout=30)
    assert response.status_code == 413
    assert time.monotonic() - started < 1.0
    started = time.monotonic()
    Conversation(location="TERAPEL").say("hallo")
    assert time.monotonic() - started < 5.0


def test_the_stack_state_is_owner_only(stack) -> None:
    """Issue 14, medium 6: the tracker store and the outbox hold plain text."""
    files = [p for p in stack.state.iterdir() if p.is_file()]
    assert {"rasa_tracker.db", "outbox.db"} <= {p.name for p in files}
    assert oct(stack.state.stat().st_mode & 0o777) == oct(0o700)
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: oct(0o600) for p in files}
