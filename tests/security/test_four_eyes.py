"""Four eyes (issue 14, finding 4): whoever recorded an incident never reviews it.

The attack: a supervisor chats, the assistant records the decision under the
supervisor's own staff id, and the same supervisor takes it up and closes it.
Refused on the API (403 with the reason) and on the session page (no buttons, a
clear message, and a forged form post is refused); another supervisor of the
location still reviews it.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session

from api import access
from api.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from api.auth.schemas import User
from api.auth.service import create_token
from api.config import get_settings
from api.incidents.models import Incident
from api.models_base import utcnow
from tests.api.conftest import TokenFactory
from tests.api.factories import add_reviews, make_incident, make_session

SUPERVISOR = "stf-sup-self"
OTHER_SUPERVISOR = "stf-sup-other"
CSRF = "four-eyes-csrf-token-0123456789abcdef"


def _own_incident(db: Session, status: str | None = None) -> tuple[Incident, str]:
    now = utcnow()
    guidance = make_session(db, started_at=now - timedelta(hours=2), staff_id=SUPERVISOR)
    incident = make_incident(
        db, created_at=now - timedelta(hours=1), staff_id=SUPERVISOR, conversation_id=guidance.conversation_id
    )
    if status:
        add_reviews(db, incident, [(status, now - timedelta(minutes=30))], actor=OTHER_SUPERVISOR)
    return incident, str(guidance.id)


@pytest.mark.parametrize(("source", "target"), [("nieuw", "in_behandeling"), ("in_behandeling", "afgehandeld"),
                                                ("in_behandeling", "correctie_gevraagd"),
                                                ("gecorrigeerd", "afgehandeld")])  # fmt: skip
async def test_the_author_supervisor_cannot_review_their_own_incident(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, source: str, target: str
) -> None:
    incident, _ = _own_incident(seeded, None if source == "nieuw" else source)
    url = f"/api/v1/incidents/{incident.id}/review-events"
    own = auth("supervisor", "TERAPEL", sub=SUPERVISOR)
    response = await client.post(url, json={"status": target}, headers=own)
    assert response.status_code == 403, response.text
    assert "four eyes" in response.json()["detail"] and "recorded this incident yourself" in response.json()["detail"]
    note = await client.post(url, json={"note": "zelf bekeken"}, headers=own)
    assert note.status_code == 403, note.text
    history = (await client.get(url, headers=own)).json()
    assert history["review_status"] == source and history["allowed_for_user"] == []
    assert target in history["allowed_next"]  # the table allows it, the person may not
    # Another supervisor of the location reviews it.
    other = auth("supervisor", "TERAPEL", sub=OTHER_SUPERVISOR)
    assert target in (await client.get(url, headers=other)).json()["allowed_for_user"]
    done = await client.post(url, json={"status": target, "note": "vier ogen"}, headers=other)
    assert done.status_code == 201, done.text


async def test_the_session_page_offers_no_review_to_the_author(
    client: httpx.AsyncClient, seeded: Session
) -> None:
    incident, session_id = _own_incident(seeded)

    def login(sub: str) -> None:
        client.cookies.set(SESSION_COOKIE, create_token(get_settings(), sub=sub, role="supervisor",
                                                        locations=["TERAPEL"]))  # fmt: skip
        client.cookies.set(CSRF_COOKIE, CSRF)

    login(SUPERVISOR)
    page = await client.get(f"/sessies/{session_id}")
    assert page.status_code == 200
    assert incident.reference in page.text
    assert "review-form" not in page.text and 'value="in_behandeling"' not in page.text
    assert "zelf vastgelegd" in page.text and "vier ogen" in page.text
    # A forged form post (the buttons are not there, the route still refuses).
    forged = await client.post(
        f"/sessies/{session_id}/beoordeling",
        data={"csrf_token": CSRF, "incident_id": str(incident.id), "status": "in_behandeling"},
    )
    assert forged.status_code == 403 and "vier ogen" in forged.text
    login(OTHER_SUPERVISOR)
    page = await client.get(f"/sessies/{session_id}")
    assert 'value="in_behandeling"' in page.text and "zelf vastgelegd" not in page.text


def test_the_access_module_is_the_one_rule() -> None:
    supervisor = User(sub=SUPERVISOR, role="supervisor", locations=("TERAPEL",))
    assert access.allowed_transitions(supervisor, "nieuw", "TERAPEL", SUPERVISOR) == []
    assert access.allowed_transitions(supervisor, "nieuw", "TERAPEL", "stf-other") == ["in_behandeling"]
    assert access.allowed_transitions(supervisor, "nieuw", "BUDEL", "stf-other") == []
    counsellor = User(sub="stf-c", role="counsellor", locations=("TERAPEL",))
    assert access.allowed_transitions(counsellor, "correctie_gevraagd", "TERAPEL", "stf-c") == ["gecorrigeerd"]
    assert access.allowed_transitions(counsellor, "nieuw", "TERAPEL", "stf-c") == []
    for role in ("admin", "contact_person", "service"):
        user = User(sub="x", role=role, locations=("TERAPEL",))  # type: ignore[arg-type]
        assert access.allowed_transitions(user, "nieuw", "TERAPEL", "y") == []
