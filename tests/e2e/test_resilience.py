"""No decision lost (issue 7, parts 1 and 2), against the real stack:

- the API frozen (SIGSTOP) for a whole conversation: the counsellor gets the
  advice and a "queued, not lost" message; after SIGCONT the outbox delivers it,
  exactly one incident;
- Rasa restarted mid-protocol: the conversation continues at the same question
  (persistent tracker store);
- the API restarted: what was recorded before is still there, and a decision made
  while it was down arrives through the outbox;
- PostgreSQL dropping the API's connections: the next call still works (pre-ping).
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.e2e.chat import Conversation
from tests.e2e.conftest import ADMIN_URL, E2E_DB, make_token

pytestmark = pytest.mark.e2e
API = "http://127.0.0.1:8000/api/v1"
REFERENCE = re.compile(r"Referentie[^:]*:\s*\**([A-Z]+-[0-9]+-[A-Z0-9]+)")
QUEUED = re.compile(r"Voorlopige referentie:\s*(VOORLOPIG-[0-9A-F]{8})")
REPORT = "een bewoonster vertelt dat haar broer haar bedreigt omdat ze niet met haar neef wil trouwen"
DELIVERY_TIMEOUT = 120.0


@pytest.fixture
def healthy_stack(stack) -> Iterator:
    """The stack, and after the test: nothing frozen, every process running again
    (the stack is shared with the other e2e tests)."""
    yield stack
    for name in ("api", "actions", "rasa"):
        stack.signal(name, signal.SIGCONT)
    for name in stack.dead():
        stack.restart(name)


def finish(chat: Conversation, replies: list[dict], max_turns: int = 30) -> list[dict]:
    """Answers with the first button (or a typed answer) until a reference, final or provisional."""
    for _ in range(max_turns):
        text = chat.text(replies)
        if REFERENCE.search(text) or QUEUED.search(text):
            return replies
        buttons = chat.buttons(replies)
        replies = chat.say(buttons[0]["payload"] if buttons else "dat weet ik niet")
    raise AssertionError(f"no decision after {max_turns} turns:\n{chat.dump()}")


def incidents(conversation_id: str) -> dict:
    response = httpx.get(f"{API}/incidents", params={"conversation_id": conversation_id},
                         headers={"Authorization": f"Bearer {make_token('supervisor', 'TERAPEL')}"},
                         timeout=30)
    response.raise_for_status()
    return response.json()


def wait_for_incident(conversation_id: str, timeout: float = DELIVERY_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    token = make_token("supervisor", "TERAPEL")
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{API}/incidents", params={"conversation_id": conversation_id},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=10)
            if response.status_code == 200 and response.json()["total"] >= 1:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"no incident for {conversation_id} after {timeout} s")


def test_api_frozen_for_a_whole_conversation_then_exactly_one_incident(healthy_stack) -> None:
    chat = Conversation(location="TERAPEL")
    healthy_stack.signal("api", signal.SIGSTOP)
    try:
        started = time.monotonic()
        outcome = finish(chat, chat.say(REPORT))
        took = time.monotonic() - started
        text = chat.text(outcome)
        assert "0800-2000" in text, "the advice is always shown:\n" + chat.dump()
        queued = QUEUED.search(text)
        assert queued, "the counsellor is told the record is queued:\n" + chat.dump()
        assert "er gaat niets verloren" in text
        assert not REFERENCE.search(text)
    finally:
        healthy_stack.signal("api", signal.SIGCONT)
    turns = len(chat.transcript)
    assert took / turns < 20, f"{turns} turns took {took:.0f} s with a frozen API"

    body = wait_for_incident(chat.sender)
    time.sleep(5)  # a late duplicate would show up now
    body = incidents(chat.sender)
    assert body["total"] == 1, chat.dump()
    incident = body["items"][0]
    assert incident["protocol"] == "eergerelateerd_geweld"
    assert incident["acute"] is True and "veilig_thuis" in incident["referrals"]


def test_rasa_restarted_mid_protocol_continues_at_the_same_question(healthy_stack) -> None:
    chat = Conversation(location="TERAPEL")
    first = chat.say(REPORT)
    after_first = chat.say(chat.buttons(first)[1]["payload"])  # "Nee": not acute
    question = after_first[-1]["text"]
    buttons = chat.buttons(after_first)
    assert buttons, chat.dump()

    healthy_stack.restart("rasa")

    # The answer to the pending question is understood as that (the form is still
    # active): the next question follows, not a greeting or a fallback.
    continued = chat.say(buttons[0]["payload"])
    assert continued and continued[-1].get("text") != question, chat.dump()
    outcome = finish(chat, continued)
    assert REFERENCE.search(chat.text(outcome)), chat.dump()
    body = incidents(chat.sender)
    assert body["total"] == 1, chat.dump()
    steps = body["items"][0]["steps"]
    assert steps[0] == {"step": "acuut_gevaar", "answer": "nee"}, "the answer before the restart counts"
    assert len(steps) >= 3


def test_api_restart_loses_nothing_and_a_decision_made_while_it_was_down_arrives(healthy_stack) -> None:
    before = Conversation(location="TERAPEL")
    finish(before, before.say(REPORT))
    recorded = wait_for_incident(before.sender)
    assert recorded["total"] == 1, before.dump()

    healthy_stack.restart("api")
    assert incidents(before.sender)["items"] == recorded["items"]

    during = Conversation(location="TERAPEL")
    healthy_stack.stop_one("api")
    try:
        outcome = finish(during, during.say(REPORT))
        assert QUEUED.search(during.text(outcome)), during.dump()
        assert "0800-2000" in during.text(outcome)
    finally:
        healthy_stack.restart("api")
    wait_for_incident(during.sender)
    assert incidents(during.sender)["total"] == 1
    assert incidents(before.sender)["total"] == 1


def test_postgres_dropping_the_api_connections_is_survived(healthy_stack) -> None:
    assert incidents("warm-up-the-pool")["total"] == 0
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()", (E2E_DB,)).fetchone()[0]
    assert killed >= 1, "the API held at least one connection"
    # The API was not restarted: its pool notices the dead connections (pre-ping).
    assert incidents("after-the-terminate")["total"] == 0
    chat = Conversation(location="TERAPEL")
    outcome = finish(chat, chat.say(REPORT))
    assert REFERENCE.search(chat.text(outcome)), chat.dump()
    assert incidents(chat.sender)["total"] == 1
