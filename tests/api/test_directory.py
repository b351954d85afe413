"""The key-position directory (issue 17): admins and supervisors change holders, add
deputies and end assignments; history is append-only; incidents keep the holders of
their day; the gaps are listed; every change is in the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.audit.models import AuditEntry
from api.directory.models import KeyPositionAssignment
from knowledge.local_time import local_today

from .conftest import TokenFactory

AF = "aandachtsfunctionaris"
OLD_AF = "Joris Wolkenveld-Demo"  # api/seed_data.yml, TERAPEL


def _people(holders: list[dict[str, Any]], position: str) -> list[str]:
    return [h["name"] for h in holders if h["position"] == position]


async def _assignments(client: httpx.AsyncClient, headers: dict[str, str], code: str = "TERAPEL") -> list[dict]:
    response = await client.get(f"/api/v1/locations/{code}/assignments", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _holder_id(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    return next(a["assignment_id"] for a in await _assignments(client, headers) if a["name"] == name)


async def _holders(client: httpx.AsyncClient, headers: dict[str, str], on: str | None = None) -> list[dict]:
    url = "/api/v1/locations/TERAPEL/key-positions" + (f"?on={on}" if on else "")
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("role", ["admin", "supervisor"])
async def test_change_holder_add_deputy_end_assignment(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, role: str, incident_payload: Any
) -> None:
    headers = auth(role, "TERAPEL", sub=f"stf-{role}-17")
    service = auth("service")
    rows_before = seeded.scalar(select(func.count()).select_from(KeyPositionAssignment))
    # An incident recorded before the change: it keeps the old holder.
    before = await client.post("/api/v1/incidents", json=incident_payload(), headers=service)
    assert before.status_code == 201, before.text
    old_id = await _holder_id(client, headers, OLD_AF)

    # 1. A new aandachtsfunctionaris from today, succeeding the old one.
    new = await client.post("/api/v1/locations/TERAPEL/assignments", headers=headers, json={
        "position": AF, "name": "Nadia Beukenhaag-Demo", "phone": "toestel 4110",
        "teams_id": "nadia.beukenhaag@demo.example", "valid_from": local_today().isoformat(), "replaces": old_id})
    assert new.status_code == 201, new.text
    assert new.json()["recorded_by"] == f"stf-{role}-17" and new.json()["version"] == 1
    assert _people(await _holders(client, auth("service")), AF) == ["Nadia Beukenhaag-Demo"]

    # 2. A deputy for next week: named on those days only.
    monday = local_today() + timedelta(days=7 - local_today().weekday())
    deputy = await client.post("/api/v1/locations/TERAPEL/assignments", headers=headers, json={
        "position": AF, "kind": "vervanger", "name": "Pim Wilgenhof-Demo", "email": "pim@demo.example",
        "valid_from": monday.isoformat(), "valid_until": (monday + timedelta(days=4)).isoformat()})
    assert deputy.status_code == 201, deputy.text
    on_leave = await _holders(client, headers, on=(monday + timedelta(days=2)).isoformat())
    assert [(h["name"], h["kind"]) for h in on_leave if h["position"] == AF] == [("Pim Wilgenhof-Demo", "vervanger")]
    after_leave = await _holders(client, headers, on=(monday + timedelta(days=5)).isoformat())
    assert _people(after_leave, AF) == ["Nadia Beukenhaag-Demo"]

    # 3. A change of contact details is a new version, not an overwrite.
    changed = await client.patch(f"/api/v1/locations/TERAPEL/assignments/{new.json()['assignment_id']}",
                                 headers=headers, json={"phone": "toestel 4111"})
    assert changed.status_code == 200 and changed.json()["version"] == 2 and changed.json()["action"] == "gewijzigd"

    # 4. End the new holder: from today nobody holds the position; the gap is listed.
    ended = await client.post(f"/api/v1/locations/TERAPEL/assignments/{new.json()['assignment_id']}/end",
                              headers=headers, json={})
    assert ended.status_code == 200 and ended.json()["action"] == "beeindigd"
    assert _people(await _holders(client, headers), AF) == []
    gaps = (await client.get("/api/v1/locations/TERAPEL/gaps", headers=headers)).json()
    # The new holder's period is empty (ended before it began): the last real holder is the old one.
    assert [(g["position"], g["reason"], g["last_holder"]) for g in gaps] == [(AF, "periode_verlopen", OLD_AF)]

    # History: nothing overwritten. Old holder ended (v2), new holder v1..v3, deputy v1.
    assert seeded.scalar(select(func.count()).select_from(KeyPositionAssignment)) == rows_before + 5
    listed = {a["assignment_id"]: a for a in await _assignments(client, headers)}
    assert [v["action"] for v in listed[old_id]["history"]] == ["aangemaakt", "beeindigd"]
    assert listed[old_id]["valid_until"] == (local_today() - timedelta(days=1)).isoformat()
    assert [v["action"] for v in listed[new.json()["assignment_id"]]["history"]] == [
        "aangemaakt", "gewijzigd", "beeindigd"]

    # The incident recorded before the change still shows the old holder.
    detail = await client.get(f"/api/v1/incidents/{before.json()['id']}", headers=headers)
    assert detail.status_code == 200
    assert _people(detail.json()["key_position_holders"], AF) == [OLD_AF]

    # Every change is in the audit log, with who did it.
    audit = seeded.scalars(select(AuditEntry).where(AuditEntry.object_type == "key_position_assignment")).all()
    assert sorted(e.action for e in audit) == ["create", "create", "end", "end", "update"]
    assert {e.actor for e in audit} == {f"stf-{role}-17"}


async def test_an_incident_after_the_change_shows_the_new_holder(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Any
) -> None:
    admin = auth("admin")
    old_id = await _holder_id(client, admin, OLD_AF)
    new = await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin, json={
        "position": AF, "name": "Nadia Beukenhaag-Demo", "email": "nadia@demo.example",
        "valid_from": local_today().isoformat(), "replaces": old_id})
    assert new.status_code == 201
    after = await client.post("/api/v1/incidents", json=incident_payload(), headers=auth("service"))
    detail = await client.get(f"/api/v1/incidents/{after.json()['id']}", headers=admin)
    assert _people(detail.json()["key_position_holders"], AF) == ["Nadia Beukenhaag-Demo"]


def _msgs(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return " | ".join(item["msg"] for item in response.json()["detail"])


async def test_422s_say_what_is_wrong(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    admin = auth("admin")
    base = {"name": "Test Persoon-Demo", "email": "t@demo.example", "valid_from": local_today().isoformat()}
    unknown = await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin,
                                json={**base, "position": "brandweercommandant"})
    assert "unknown key position 'brandweercommandant'" in _msgs(unknown)
    overlap = await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin, json={**base, "position": AF})
    assert "overlapping period" in _msgs(overlap) and OLD_AF in _msgs(overlap)
    no_contact = await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin,
                                   json={"position": AF, "name": "X-Demo", "valid_from": local_today().isoformat()})
    assert "Teams id or an e-mail" in _msgs(no_contact)
    backwards = await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin, json={
        **base, "position": AF, "kind": "vervanger", "valid_until": (local_today() - timedelta(days=3)).isoformat()})
    assert "valid_until is before valid_from" in _msgs(backwards)
    taken = await client.post("/api/v1/locations", headers=admin, json={"code": "terapel", "name": "Ter Apel 2"})
    assert "location code 'TERAPEL' is already taken" in _msgs(taken)
    alias = await client.post("/api/v1/locations", headers=admin, json={"code": "ASSEN", "name": "Budel"})
    assert "already names location BUDEL" in _msgs(alias)
    bad_code = await client.post("/api/v1/locations", headers=admin, json={"code": "as sen", "name": "Assen"})
    assert bad_code.status_code == 422
    # Deputies may not overlap each other either.
    deputy = {**base, "position": AF, "kind": "vervanger",
              "valid_until": (local_today() + timedelta(days=5)).isoformat()}
    assert (await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin, json=deputy)).status_code == 201
    again = await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin,
                              json={**deputy, "name": "Tweede-Demo"})
    assert "overlapping period" in _msgs(again)


async def test_a_supervisor_changes_only_their_own_locations(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    supervisor = auth("supervisor", "TERAPEL")
    body = {"position": AF, "kind": "vervanger", "name": "X-Demo", "email": "x@demo.example",
            "valid_from": (local_today() + timedelta(days=30)).isoformat()}
    refused = await client.post("/api/v1/locations/BUDEL/assignments", headers=supervisor, json=body)
    assert refused.status_code == 403
    assert (await client.post("/api/v1/locations", headers=supervisor,
                              json={"code": "ASSEN", "name": "Assen"})).status_code == 403
    assert (await client.post("/api/v1/locations/NERGENS/assignments", headers=auth("admin"),
                              json=body)).status_code == 404


async def test_admin_creates_and_renames_a_location(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    admin = auth("admin")
    created = await client.post("/api/v1/locations", headers=admin,
                                json={"code": "assen", "name": "Assen", "aliases": ["AZC Assen", " assen-zuid "]})
    assert created.status_code == 201, created.text
    assert created.json() == {"code": "ASSEN", "name": "Assen", "aliases": ["assen-zuid", "azc assen"]}
    # A new location has every key position open: all of them are gaps.
    gaps = (await client.get("/api/v1/locations/ASSEN/gaps", headers=admin)).json()
    assert len(gaps) == 5 and {g["reason"] for g in gaps} == {"nooit_bezet"}
    renamed = await client.patch("/api/v1/locations/ASSEN", headers=admin, json={"aliases": ["assen centrum"]})
    assert renamed.status_code == 200 and renamed.json()["aliases"] == ["assen centrum"]
    listed = {loc["code"] for loc in (await client.get("/api/v1/locations", headers=auth("service"))).json()}
    assert "ASSEN" in listed


async def test_the_session_page_shows_the_holders_of_the_incidents_day(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    from api.auth.cookies import SESSION_COOKIE
    from api.auth.service import create_token
    from api.config import get_settings
    from api.models_base import utcnow
    from tests.api.factories import make_incident, make_session

    # Recorded last month; today the change is entered, backdated to before that incident. The page
    # shows what the directory said when the incident was recorded, not today's rewrite of the past.
    then = utcnow() - timedelta(days=30)
    guidance = make_session(seeded, started_at=then, location="TERAPEL")
    make_incident(seeded, created_at=then + timedelta(minutes=5), location="TERAPEL",
                  conversation_id=guidance.conversation_id)
    seeded.commit()
    admin = auth("admin")
    old_id = await _holder_id(client, admin, OLD_AF)
    new = await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin, json={
        "position": AF, "name": "Nadia Beukenhaag-Demo", "email": "nadia@demo.example",
        "valid_from": (local_today() - timedelta(days=40)).isoformat(), "replaces": old_id})
    assert new.status_code == 201
    token = create_token(get_settings(), sub="stf-page-sup", role="supervisor", locations=["TERAPEL"])
    client.cookies.set(SESSION_COOKIE, token)
    page = await client.get(f"/sessies/{guidance.id}")
    assert page.status_code == 200
    holders = page.text.split('class="holders-then"', 1)[1].split("</dd>", 1)[0]
    assert OLD_AF in holders and "Nadia Beukenhaag-Demo" not in holders


async def test_dates_outside_any_working_period_are_422s(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    admin = auth("admin")
    body = {"position": AF, "kind": "vervanger", "name": "X-Demo", "email": "x@demo.example"}
    for start in ("0001-01-01", "9999-12-31"):
        response = await client.post("/api/v1/locations/TERAPEL/assignments", headers=admin,
                                     json={**body, "valid_from": start})
        assert "date must be between" in _msgs(response)
    assert (await client.get("/api/v1/locations/TERAPEL/key-positions?on=0001-01-01",
                             headers=admin)).status_code == 422
