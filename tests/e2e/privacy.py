"""Reading back everything the API keeps of a conversation (incidents, session list,
session timeline, CSV export), to check that nothing in it reveals orientation or
religion (issue 12 part 3)."""

from __future__ import annotations

import re
import time

import httpx

from tests.e2e.conftest import make_token

API = "http://127.0.0.1:8000/api/v1"
#: Words (and ids) from which orientation or religion could be read in a record.
REVEALING = re.compile(r"lhbt|lgbt|\bcoc\b|roze|homo|lesb|bisek|transg|orient|geloof|bekeer|bekering|religi",
                       re.IGNORECASE)


def _get(path: str, supervisor_of: str, **params: str) -> httpx.Response:
    token = make_token("supervisor", supervisor_of)
    response = httpx.get(f"{API}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    return response


def session_of(conversation_id: str, location: str, timeout: float = 30.0) -> dict:
    """The conversation's session detail once its log holds the recorded incident
    (the action server delivers the log from its outbox, a moment after the reply)."""
    deadline = time.monotonic() + timeout
    while True:
        items = _get("/sessions", location, location=location, limit="500").json()["items"]
        found = [item for item in items if item["conversation_id"] == conversation_id]
        if found:
            detail = _get(f"/sessions/{found[0]['id']}", location).json()
            if any(e["type"] == "incident_recorded" for e in detail["events"]):
                return detail
        assert time.monotonic() < deadline, f"no session log with its incident for {conversation_id}"
        time.sleep(0.3)


def read_everything(conversation_id: str, location: str) -> str:
    """The incidents, the session's list item and timeline, and the CSV rows of the conversation."""
    detail = session_of(conversation_id, location)
    incidents = _get("/incidents", location, conversation_id=conversation_id).text
    items = _get("/sessions", location, location=location, limit="500").json()["items"]
    item = next(i for i in items if i["conversation_id"] == conversation_id)
    csv_rows = [line for line in _get("/sessions.csv", location, location=location).text.splitlines()
                if conversation_id in line]
    assert csv_rows, "the conversation is in the CSV export"
    return "\n".join([incidents, str(item), str(detail), *csv_rows])


def assert_nothing_reveals(text: str) -> None:
    found = sorted(set(REVEALING.findall(text)))
    assert not found, f"the record reveals {found}:\n{text[:3000]}"
