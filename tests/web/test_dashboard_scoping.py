"""Scope of the dashboard pages: every page × role × own/other location.

Each role's user belongs to TERAPEL; "own" is a record of TERAPEL, "other" the
same record of BUDEL. A result is the HTTP status, with ``+`` when the record is
visible in the answer and ``-`` when it is not (for pages that list things).
A supervisor of TERAPEL must never see BUDEL: 404 for its session, absent from
every list, chart and CSV. Runs on both databases (tests/api/conftest.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session

from api.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from api.auth.service import create_token
from api.config import get_settings
from api.incidents.models import Incident
from api.models_base import utcnow
from tests.api.factories import add_reviews, make_incident, make_session

CSRF = "scoping-csrf-token-0123456789abcdef"
#: role → (staff id, locations) of the TERAPEL user of that role (as in the seed).
USERS = {
    "supervisor": ("stf-9a4c", ("TERAPEL",)),
    "contact_person": ("stf-5d3f", ("TERAPEL",)),
    "counsellor": ("stf-7c1a", ("TERAPEL",)),
    "admin": ("stf-0adm", ()),
}
#: The counsellor who recorded each location's incident.
AUTHOR = {"TERAPEL": "stf-7c1a", "BUDEL": "stf-2e9b"}

# page → role → (own, other)
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "GET /dashboard": {
        "supervisor": ("200+", "200-"), "contact_person": ("200+", "200-"),
        "counsellor": ("403", "403"), "admin": ("200+", "200+"),
    },
    "GET /dashboard?locatie=": {
        "supervisor": ("200+", "200-"), "contact_person": ("200+", "200-"),
        "counsellor": ("403", "403"), "admin": ("200+", "200+"),
    },
    "GET /sessies": {
        "supervisor": ("200+", "200-"), "contact_person": ("200+", "200-"),
        "counsellor": ("403", "403"), "admin": ("200+", "200+"),
    },
    "GET /sessies?locatie=&q=": {
        "supervisor": ("200+", "200-"), "contact_person": ("200+", "200-"),
        "counsellor": ("403", "403"), "admin": ("200+", "200+"),
    },
    "GET /sessies/{id}": {
        "supervisor": ("200+", "404"), "contact_person": ("200+", "404"),
        "counsellor": ("403", "403"), "admin": ("200+", "200+"),
    },
    "POST /sessies/{id}/beoordeling": {
        "supervisor": ("303", "404"), "contact_person": ("403", "404"),
        "counsellor": ("403", "403"), "admin": ("403", "403"),
    },
    "GET csv link of /sessies": {
        "supervisor": ("200+", "200-"), "contact_person": ("200+", "200-"),
        "counsellor": ("403", "403"), "admin": ("200+", "200+"),
    },
    "GET /correcties": {
        "supervisor": ("403", "403"), "contact_person": ("403", "403"),
        "counsellor": ("200+", "200-"), "admin": ("403", "403"),
    },
    "POST /correcties/{id}": {
        "supervisor": ("403", "403"), "contact_person": ("403", "403"),
        "counsellor": ("303", "404"), "admin": ("403", "403"),
    },
}  # fmt: skip


@dataclass
class Record:
    location: str
    session_id: str
    incident_id: str
    reference: str
    conversation: str


def _record(db: Session, location: str) -> Record:
    now = utcnow()
    conversation = f"scope-conv-{location.lower()}"
    guidance = make_session(
        db,
        started_at=now - timedelta(hours=3),
        location=location,
        staff_id=AUTHOR[location],
        conversation_id=conversation,
        events=[
            {"type": "started", "step": "acuut_gevaar"},
            {"type": "question_asked", "step": "acuut_gevaar", "text": f"Vraag op {location}"},
            {"type": "answer_given", "step": "acuut_gevaar", "answer": "nee"},
        ],
    )
    incident = make_incident(
        db,
        created_at=now - timedelta(hours=2),
        location=location,
        staff_id=AUTHOR[location],
        conversation_id=conversation,
        reference=f"EGG-SCOPE-{location}",
    )
    return Record(location, str(guidance.id), str(incident.id), incident.reference, conversation)


def _login(client: httpx.AsyncClient, role: str) -> None:
    sub, locations = USERS[role]
    token = create_token(get_settings(), sub=sub, role=role, locations=locations)
    client.cookies.set(SESSION_COOKIE, token)
    client.cookies.set(CSRF_COOKIE, CSRF)


def _seen(response: httpx.Response, marker: str) -> str:
    if response.status_code != 200:
        return str(response.status_code)
    return "200+" if marker in response.text else "200-"


Check = Callable[[httpx.AsyncClient, Record, Session], Awaitable[str]]


async def _dashboard(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    return _seen(await c.get("/dashboard", params={"periode": "28"}), f'data-location="{r.location}"')


async def _dashboard_at(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    return _seen(await c.get("/dashboard", params={"locatie": r.location}), f'data-location="{r.location}"')


async def _sessions(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    return _seen(await c.get("/sessies"), r.session_id)


async def _sessions_at(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    return _seen(await c.get("/sessies", params={"locatie": r.location, "q": r.location}), r.session_id)


async def _session(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    return _seen(await c.get(f"/sessies/{r.session_id}"), f"Vraag op {r.location}")


async def _review(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    data = {"csrf_token": CSRF, "incident_id": r.incident_id, "status": "in_behandeling", "note": "bekeken"}
    return str((await c.post(f"/sessies/{r.session_id}/beoordeling", data=data)).status_code)


async def _csv(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    page = await c.get("/sessies", params={"locatie": r.location})
    if page.status_code != 200:
        return str(page.status_code)
    link = page.text.split('href="/api/v1/sessions.csv', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert f"location={r.location}" in link
    return _seen(await c.get("/api/v1/sessions.csv" + link), r.conversation)


async def _corrections(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    add_reviews(db, _incident(db, r), [("in_behandeling", utcnow()), ("correctie_gevraagd", utcnow())])
    return _seen(await c.get("/correcties"), r.reference)


async def _correct(c: httpx.AsyncClient, r: Record, db: Session) -> str:
    add_reviews(db, _incident(db, r), [("in_behandeling", utcnow()), ("correctie_gevraagd", utcnow())])
    data = {"csrf_token": CSRF, "note": "Veilig Thuis alsnog gebeld."}
    return str((await c.post(f"/correcties/{r.incident_id}", data=data)).status_code)


def _incident(db: Session, r: Record) -> Incident:
    incident = db.get(Incident, uuid.UUID(r.incident_id))
    assert incident is not None
    return incident


CHECKS: dict[str, Check] = {
    "GET /dashboard": _dashboard,
    "GET /dashboard?locatie=": _dashboard_at,
    "GET /sessies": _sessions,
    "GET /sessies?locatie=&q=": _sessions_at,
    "GET /sessies/{id}": _session,
    "POST /sessies/{id}/beoordeling": _review,
    "GET csv link of /sessies": _csv,
    "GET /correcties": _corrections,
    "POST /correcties/{id}": _correct,
}

CASES = [(page, role, which) for page in EXPECTED for role in USERS for which in ("own", "other")]


def test_the_table_covers_every_page_and_role() -> None:
    assert set(CHECKS) == set(EXPECTED)
    assert all(set(row) == set(USERS) for row in EXPECTED.values())


@pytest.mark.parametrize(("page", "role", "which"), CASES, ids=[f"{p}|{r}|{w}" for p, r, w in CASES])
async def test_scope(client: httpx.AsyncClient, seeded: Session, page: str, role: str, which: str) -> None:
    records = {location: _record(seeded, location) for location in ("TERAPEL", "BUDEL")}
    record = records["TERAPEL" if which == "own" else "BUDEL"]
    _login(client, role)
    result = await CHECKS[page](client, record, seeded)
    expected = EXPECTED[page][role][0 if which == "own" else 1]
    assert result == expected, f"{page} as {role} ({which} location): {result}, expected {expected}"


async def test_a_supervisor_page_never_mentions_the_other_location(client: httpx.AsyncClient, seeded: Session) -> None:
    """Belt and braces: no BUDEL text anywhere on the supervisor's pages."""
    own, other = _record(seeded, "TERAPEL"), _record(seeded, "BUDEL")
    _login(client, "supervisor")
    for path in (
        "/dashboard",
        "/dashboard?periode=",
        "/sessies",
        f"/sessies/{own.session_id}",
        "/sessies?locatie=BUDEL",
    ):
        response = await client.get(path)
        assert response.status_code == 200, path
        for secret in (other.session_id, other.reference, "Vraag op BUDEL", 'data-location="BUDEL"'):
            assert secret not in response.text, (path, secret)
    response = await client.get(f"/sessies/{other.session_id}")
    assert response.status_code == 404 and other.reference not in response.text
