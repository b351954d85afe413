"""Handover (issue 15 part 6): a supervisor hands an incident to another counsellor, or
to another location when the resident moves; its open follow-ups move with it (the new
counsellor's and location's "Mijn acties", no longer the old ones'); every handover is a
new row with who, when, from, to and why; bad targets are 422s that say what is wrong."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth.models import UserAccount
from api.handovers.models import IncidentHandover
from api.incidents.models import Incident
from api.models_base import utcnow

from .conftest import TokenFactory
from .factories import make_follow_up, make_incident

OLD, NEW, BUDEL_STAFF = "stf-ho-old", "stf-ho-new", "stf-ho-budel"


def _account(db: Session, staff_id: str, location: str, role: str = "counsellor") -> None:
    db.add(UserAccount(username=f"ho.{staff_id}.{uuid.uuid4().hex[:6]}", password_hash="x", role=role,
                       staff_id=staff_id, locations=[location]))
    db.flush()


def _case(db: Session) -> tuple[str, str, str]:
    """A TERAPEL incident of OLD with an open and an answered follow-up."""
    now = utcnow()
    incident = make_incident(db, created_at=now - timedelta(hours=2), staff_id=OLD)
    open_one = make_follow_up(db, incident, due_at=now + timedelta(hours=20))
    done = make_follow_up(db, incident, due_at=now + timedelta(days=5), key="vervolggesprek",
                          action="Vervolggesprek met de bewoner", organisation=None, norm="vervolggesprek_binnen_week")
    for account in ((OLD, "TERAPEL"), (NEW, "TERAPEL"), (BUDEL_STAFF, "BUDEL")):
        _account(db, *account)
    return str(incident.id), str(open_one.id), str(done.id)


async def _hand_over(client: httpx.AsyncClient, headers: dict[str, str], incident: str,
                     **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/incidents/{incident}/handovers", json=body, headers=headers)


async def _open_ids(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    response = await client.get("/api/v1/follow-ups", params={"status": "open"}, headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_handing_to_another_counsellor_moves_the_open_follow_ups(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    incident, open_one, done = _case(seeded)
    old, new = auth("counsellor", "TERAPEL", sub=OLD), auth("counsellor", "TERAPEL", sub=NEW)
    done_answer = await client.post(f"/api/v1/follow-ups/{done}/events", json={"status": "gedaan"}, headers=old)
    assert done_answer.status_code == 201
    assert open_one in await _open_ids(client, old) and open_one not in await _open_ids(client, new)

    response = await _hand_over(client, auth("supervisor", "TERAPEL", sub="sup-ter"), incident, to_staff_id=NEW,
                                reason="Begeleider met verlof; collega neemt de acties over")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["from_location"], body["from_staff_id"], body["to_location"], body["to_staff_id"]) == (
        "TERAPEL", OLD, "TERAPEL", NEW)
    assert body["actor"] == "sup-ter" and body["seq"] == 1 and body["open_follow_ups"] == 1

    # The open follow-up is the new counsellor's now: listed, readable, confirmable; no longer the old one's.
    assert open_one in await _open_ids(client, new)
    assert open_one not in await _open_ids(client, old)
    assert (await client.get(f"/api/v1/follow-ups/{open_one}", headers=old)).status_code == 404
    # The recording counsellor keeps reading the record; the new one reads it too.
    for headers in (old, new):
        assert (await client.get(f"/api/v1/incidents/{incident}", headers=headers)).status_code == 200
    # The chat asks, and confirms for, the counsellor it was handed to, not the one who recorded it.
    chat = auth("service")
    for staff_id, expected in ((NEW, True), (OLD, False)):
        asked = await client.get("/api/v1/chat/follow-ups", params={"staff_id": staff_id, "within_hours": 48},
                                 headers=chat)
        assert asked.status_code == 200 and (open_one in asked.text) is expected, (staff_id, asked.text)
    refused = await client.post(f"/api/v1/follow-ups/{open_one}/events", json={"status": "gedaan", "staff_id": OLD},
                                headers=chat)
    assert refused.status_code == 404
    confirmed = await client.post(f"/api/v1/follow-ups/{open_one}/events",
                                  json={"status": "gedaan", "staff_id": NEW}, headers=chat)
    assert confirmed.status_code == 201 and confirmed.json()["history"][0]["actor"] == NEW


async def test_a_move_to_another_location_and_its_history(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    incident, open_one, _done = _case(seeded)
    terapel, budel = auth("supervisor", "TERAPEL", sub="sup-ter"), auth("supervisor", "BUDEL", sub="sup-bud")
    assert (await client.get(f"/api/v1/incidents/{incident}", headers=budel)).status_code == 404
    # Another location's supervisor cannot hand it over (404: existence not confirmed).
    assert (await _hand_over(client, budel, incident, to_location="ZWOLLE", reason="x")).status_code == 404

    moved = await _hand_over(client, terapel, incident, to_location="budel", reason="Bewoner verhuisd naar Budel")
    assert moved.status_code == 201, moved.text
    assert (moved.json()["to_location"], moved.json()["to_staff_id"]) == ("BUDEL", None)

    # Budel's staff see the incident and its open follow-up ("Mijn acties"); Ter Apel's keep the record only.
    assert (await client.get(f"/api/v1/incidents/{incident}", headers=budel)).status_code == 200
    listed = await client.get("/api/v1/incidents", headers=budel)
    assert incident in {item["id"] for item in listed.json()["items"]}
    assert open_one in await _open_ids(client, budel)
    assert open_one in await _open_ids(client, auth("contact_person", "BUDEL"))
    follow_up = await client.get(f"/api/v1/follow-ups/{open_one}", headers=budel)
    assert follow_up.json()["location"] == "BUDEL"
    assert open_one not in await _open_ids(client, terapel)
    assert (await client.get(f"/api/v1/incidents/{incident}", headers=terapel)).status_code == 200
    # Handing on is Budel's now.
    again = await _hand_over(client, terapel, incident, to_location="TERAPEL", reason="terug")
    assert again.status_code == 403
    named = await _hand_over(client, budel, incident, to_staff_id=BUDEL_STAFF, reason="Vaste begeleider in Budel")
    assert named.status_code == 201, named.text
    assert open_one in await _open_ids(client, auth("counsellor", "BUDEL", sub=BUDEL_STAFF))

    history = await client.get(f"/api/v1/incidents/{incident}/handovers", headers=terapel)
    assert history.status_code == 200
    body = history.json()
    assert (body["current_location"], body["current_staff_id"]) == ("BUDEL", BUDEL_STAFF)
    assert [(h["seq"], h["from_location"], h["to_location"], h["actor"]) for h in body["items"]] == [
        (1, "TERAPEL", "BUDEL", "sup-ter"), (2, "BUDEL", "BUDEL", "sup-bud")]
    # The reason is free text: stored de-identified, like every note (the place name is gone).
    assert body["items"][0]["reason"].startswith("Bewoner verhuisd naar [")
    assert "Budel" not in body["items"][0]["reason"]
    # Append-only: the incident row still says where it was recorded, and by whom.
    row = seeded.get(Incident, uuid.UUID(incident))
    assert row is not None and (row.location, row.staff_id) == ("TERAPEL", OLD)
    assert seeded.scalar(select(func.count()).select_from(IncidentHandover)) == 2


async def test_bad_targets_are_422s_that_say_what_is_wrong(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    incident, _open, _done = _case(seeded)
    supervisor = auth("supervisor", "TERAPEL")
    cases = [
        ({"to_staff_id": "stf-nobody", "reason": "x"}, "unknown counsellor 'stf-nobody' at location TERAPEL"),
        # A counsellor of another location is not one of this location's counsellors.
        ({"to_staff_id": BUDEL_STAFF, "reason": "x"}, f"unknown counsellor '{BUDEL_STAFF}' at location TERAPEL"),
        ({"to_location": "NERGENS", "reason": "x"}, "unknown location 'NERGENS'"),
        ({"to_location": "TERAPEL", "reason": "x"}, "same location: the incident is at TERAPEL already"),
        ({"to_staff_id": OLD, "reason": "x"}, "same location: the incident is at TERAPEL already with counsellor"),
        ({"reason": "x"}, "name the counsellor (to_staff_id) or the location (to_location)"),
        ({"to_location": "BUDEL", "reason": "  "}, "at least 1 character"),
    ]
    for body, message in cases:
        response = await client.post(f"/api/v1/incidents/{incident}/handovers", json=body, headers=supervisor)
        assert response.status_code == 422, (body, response.text)
        assert message in response.text, (body, response.text)
    assert seeded.scalar(select(func.count()).select_from(IncidentHandover)) == 0


async def test_only_a_supervisor_of_its_location_or_an_admin_hands_over(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    incident, _open, _done = _case(seeded)
    body = {"to_location": "BUDEL", "reason": "verhuisd"}
    for headers in (auth("counsellor", "TERAPEL", sub=OLD), auth("contact_person", "TERAPEL")):
        assert (await _hand_over(client, headers, incident, **body)).status_code == 403
    assert (await _hand_over(client, auth("service"), incident, **body)).status_code == 403
    assert (await _hand_over(client, auth("admin"), incident, **body)).status_code == 201
    missing = await _hand_over(client, auth("admin"), str(uuid.uuid4()), **body)
    assert missing.status_code == 404
