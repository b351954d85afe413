"""The chat's routes (issue 15, parts 2 and 4): it stores a counsellor's Teams
conversation reference (service credential only, no message content) and reads the
open follow-ups of the counsellor it talks to that are overdue or due soon."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models_base import utcnow
from api.teams.models import TeamsConversation

from .conftest import TokenFactory
from .factories import make_follow_up, make_incident
from .test_teams_notifications import STAFF, reference_body


@pytest.mark.asyncio
async def test_the_chat_stores_a_reference_and_reads_the_counsellors_due_follow_ups(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    body = reference_body("https://smba.trafficmanager.net/emea", "a:first")
    for role in ("counsellor", "contact_person", "supervisor", "admin"):
        assert (await client.put("/api/v1/teams/conversations", json=body, headers=auth(role, "TERAPEL"))
                ).status_code == 403  # fmt: skip
    assert (await client.put("/api/v1/teams/conversations", json=body, headers=auth("service"))).status_code == 204
    moved = {**body, "conversation_id": "a:second", "service_url": "https://smba.trafficmanager.net/amer/"}
    assert (await client.put("/api/v1/teams/conversations", json=moved, headers=auth("service"))).status_code == 204
    (row,) = seeded.scalars(select(TeamsConversation)).all()
    assert (row.staff_id, row.conversation_id, row.service_url) == (STAFF, "a:second", moved["service_url"])
    for bad in ({**body, "staff_id": "unverified"}, {**body, "service_url": "javascript:alert(1)"},
                {**body, "text": "een bericht"}, {k: v for k, v in body.items() if k != "bot_id"}):  # fmt: skip
        answer = await client.put("/api/v1/teams/conversations", json=bad, headers=auth("service"))
        assert answer.status_code == 422, bad

    now = utcnow()
    incident = make_incident(seeded, created_at=now - timedelta(hours=30), staff_id=STAFF, location="TERAPEL")
    overdue = make_follow_up(seeded, incident, due_at=now - timedelta(hours=6))
    soon = make_follow_up(seeded, incident, due_at=now + timedelta(hours=5), key="politie", action="Politie gebeld")
    make_follow_up(seeded, incident, due_at=now + timedelta(days=6), key="later", action="Vervolggesprek")
    other = make_incident(seeded, created_at=now, staff_id="stf-other", location="TERAPEL")
    make_follow_up(seeded, other, due_at=now + timedelta(hours=1))
    seeded.commit()

    answer = await client.get("/api/v1/chat/follow-ups", params={"staff_id": STAFF}, headers=auth("service"))
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [(i["id"], i["overdue"], i["reference"]) for i in items] == [
        (str(overdue.id), True, incident.reference), (str(soon.id), False, incident.reference)]
    wider = await client.get("/api/v1/chat/follow-ups", params={"staff_id": STAFF, "within_hours": 200},
                             headers=auth("service"))  # fmt: skip
    assert len(wider.json()["items"]) == 3
    nobody = await client.get("/api/v1/chat/follow-ups", params={"staff_id": "unverified"}, headers=auth("service"))
    assert nobody.json()["items"] == []
    for role in ("counsellor", "contact_person", "supervisor", "admin"):
        refused = await client.get("/api/v1/chat/follow-ups", params={"staff_id": STAFF},
                                   headers=auth(role, "TERAPEL", sub=STAFF))  # fmt: skip
        assert refused.status_code == 403
    assert (await client.get("/api/v1/chat/follow-ups", params={"staff_id": STAFF, "within_hours": -1},
                             headers=auth("service"))).status_code == 422  # fmt: skip
