"""The guidance-session log end to end (issue 5.1): a REST conversation through the
EGG protocol with an acute answer becomes a session whose timeline a supervisor of
the location reads back through the API, in the order it happened; a second
protocol in the same conversation is a second session; a supervisor of another
location sees none of it."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from knowledge import load_knowledge
from tests.e2e.chat import Conversation
from tests.e2e.conftest import make_token

pytestmark = pytest.mark.e2e
API = "http://127.0.0.1:8000/api/v1"
REFERENCE = re.compile(r"Referentie[^:]*:\s*\**([A-Z]+-[0-9]+-[A-Z0-9]+)")
KNOWLEDGE = load_knowledge()
EGG, SG = "eergerelateerd_geweld", "seksueel_geweld"
YES, NO = "/affirm", "/deny"
ACUTE_START = "Bel nu eerst 112"


def kies(value: str) -> str:
    return '/kies{"keuze": "' + value + '"}'


def get(path: str, token: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{API}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def sessions_of(conversation: str, token: str, **params: Any) -> list[dict[str, Any]]:
    response = get("/sessions", token, limit=500, **params)
    response.raise_for_status()
    return [item for item in response.json()["items"] if item["conversation_id"] == conversation]


def wait_for_session(conversation: str, token: str, protocol: str, done: str, timeout: float = 60.0
                     ) -> dict[str, Any]:
    """The session's detail once its last event (type ``done``) arrived: the action
    server's outbox delivers the events in the background, in order."""
    deadline = time.monotonic() + timeout
    detail: dict[str, Any] = {}
    while time.monotonic() < deadline:
        items = sessions_of(conversation, token, protocol=protocol)
        if items:
            response = get(f"/sessions/{items[0]['id']}", token)
            response.raise_for_status()
            detail = response.json()
            if detail["events"] and detail["events"][-1]["type"] == done:
                return detail
        time.sleep(0.5)
    raise AssertionError(f"session of {protocol} not complete in time: {detail}")


def test_a_protocol_conversation_becomes_a_session_with_its_timeline(stack) -> None:
    steps = KNOWLEDGE.protocols[EGG].steps
    chat = Conversation()
    said = chat.say("een bewoonster zegt dat haar vader en broers haar bedreigen omdat ze een vriend heeft")
    assert steps["acuut_gevaar"].text in chat.text(said), chat.dump()
    acute = chat.say(YES)
    assert chat.text(acute).startswith(ACUTE_START), chat.dump()
    for answer in (kies("bedreiging"), kies("volwassene"), YES, YES, YES):
        chat.say(answer)
    final = chat.say(NO)
    match = REFERENCE.search(chat.text(final))
    assert match, chat.dump()
    reference = match.group(1)

    terapel = make_token("supervisor", "TERAPEL")
    detail = wait_for_session(chat.sender, terapel, EGG, "incident_recorded")
    events = detail["events"]

    # The session: who, where, what, and its state derived from the events.
    assert detail["location"] == "TERAPEL" and detail["protocol"] == EGG
    assert detail["protocol_version"] == KNOWLEDGE.protocols[EGG].version
    assert detail["channel"] == "rest" and detail["run_id"]
    assert detail["state"] == "afgerond" and detail["ended_at"]
    assert detail["incident_reference"] == reference
    assert [i["incident"]["reference"] for i in detail["incidents"]] == [reference]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), events

    # The timeline, in the order it happened.
    assert events[0]["type"] == "started" and events[0]["text"] == KNOWLEDGE.protocols[EGG].title
    asked = [(e["type"], e["step"], e["answer"]) for e in events if e["type"] in ("question_asked", "answer_given")]
    assert asked == [
        ("question_asked", "acuut_gevaar", None), ("answer_given", "acuut_gevaar", "ja"),
        ("question_asked", "vorm_dreiging", None), ("answer_given", "vorm_dreiging", "bedreiging"),
        ("question_asked", "wie_slachtoffer", None), ("answer_given", "wie_slachtoffer", "volwassene"),
        ("question_asked", "gesprek_veilig", None), ("answer_given", "gesprek_veilig", "ja"),
        ("question_asked", "afweging_vermoeden", None), ("answer_given", "afweging_vermoeden", "ja"),
        ("question_asked", "afweging_onveilig", None), ("answer_given", "afweging_onveilig", "ja"),
        ("question_asked", "veilige_opvang", None), ("answer_given", "veilige_opvang", "nee"),
    ], events
    for event in events:
        if event["type"] == "question_asked":
            assert steps[event["step"]].text in event["text"]  # the exact question shown

    types = [e["type"] for e in events]
    first_answer = types.index("answer_given")
    # 112 right after the acute answer, then the instruction passed on the way to the next question.
    assert events[first_answer + 1] == {**events[first_answer + 1], "type": "advice_shown", "step": "acuut_gevaar"}
    assert events[first_answer + 1]["text"].startswith(ACUTE_START)
    assert events[first_answer + 2]["type"] == "advice_shown" and events[first_answer + 2]["step"] == "bel_112"
    assert events[first_answer + 3]["step"] == "vorm_dreiging"

    outcome = next(e for e in events if e["type"] == "outcome")
    incident = detail["incidents"][0]["incident"]
    assert outcome["outcome"] == incident["outcome"] and incident["acute"] is True
    advice = [e["text"] for e in events[types.index("outcome"):] if e["type"] == "advice_shown"]
    assert set(steps[outcome["step"]].actions) <= set(advice), advice
    assert events[-1]["type"] == "incident_recorded" and events[-1]["incident_reference"] == reference
    assert types.index("outcome") < len(types) - 1

    # A second protocol in the same conversation is a second session.
    second = chat.say("een bewoonster vertelt dat ze twee dagen geleden door een medebewoner is aangerand")
    assert KNOWLEDGE.protocols[SG].steps["acuut_gevaar"].text in chat.text(second), chat.dump()
    assert "gestopt" in chat.text(chat.say("stop")), chat.dump()
    other = wait_for_session(chat.sender, terapel, SG, "stopped")
    assert other["id"] != detail["id"] and other["run_id"] != detail["run_id"]
    assert [(e["type"], e["step"]) for e in other["events"]] == [
        ("started", None), ("question_asked", "acuut_gevaar"), ("stopped", "acuut_gevaar")]
    assert other["state"] == "gestopt" and other["incidents"] == []
    assert {s["protocol"] for s in sessions_of(chat.sender, terapel)} == {EGG, SG}

    # Scope: a supervisor of Budel sees none of it.
    budel = make_token("supervisor", "BUDEL")
    assert sessions_of(chat.sender, budel) == []
    assert sessions_of(chat.sender, budel, location="TERAPEL") == []
    for session_id in (detail["id"], other["id"]):
        assert get(f"/sessions/{session_id}", budel).status_code == 404
