"""Follow-ups (issue 15): a recorded decision gets the actions its protocol asks for,
with deadlines from norms.yml; each status change is a new row with who and when;
the incident item carries ``follow_ups`` with the latest status (DESIGN.md contract)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.follow_ups.models import FollowUp, FollowUpEvent
from api.models_base import as_utc, utcnow

from .conftest import TokenFactory
from .factories import make_follow_up, make_incident

Payload = Callable[..., dict[str, Any]]
CONTRACT_FIELDS = {"id", "action", "organisation", "due_at", "status"}
STAFF = "stf-7c1a"


async def _record(client: httpx.AsyncClient, auth: TokenFactory, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    assert response.status_code == 201, response.text
    return response.json()


def _counsellor(auth: TokenFactory) -> dict[str, str]:
    return auth("counsellor", "TERAPEL", sub=STAFF)


async def test_a_decision_creates_its_follow_ups_with_deadlines_from_the_norms(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    created = await _record(client, auth, incident_payload(conversation_id="fu-egg"))
    recorded_at = datetime.fromisoformat(created["created_at"])
    by_action = {item["action"]: item for item in created["follow_ups"]}
    assert all(set(item) == CONTRACT_FIELDS for item in created["follow_ups"])
    # referrals politie + veilig_thuis: Veilig Thuis and the police's risk assessment, a
    # conversation and the contact person's review; nothing for an organisation not referred to.
    assert set(by_action) == {
        "Veilig Thuis gebeld", "Risico-inschatting bij de politie gevraagd",
        "Vervolggesprek met het slachtoffer (alleen als dat veilig kan)",
        "Beoordeeld door de contactpersoon veiligheid",
    }  # fmt: skip
    veilig_thuis = by_action["Veilig Thuis gebeld"]
    assert veilig_thuis["organisation"] == "veilig_thuis" and veilig_thuis["status"] == "open"
    assert datetime.fromisoformat(veilig_thuis["due_at"]) == recorded_at + timedelta(hours=24)
    assert by_action["Beoordeeld door de contactpersoon veiligheid"]["organisation"] is None

    listed = await client.get(
        "/api/v1/incidents", params={"conversation_id": "fu-egg"}, headers=auth("supervisor", "TERAPEL")
    )
    (item,) = listed.json()["items"]
    assert item["follow_ups"] == created["follow_ups"]


async def test_a_retried_post_does_not_create_the_follow_ups_twice(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    payload = incident_payload(referrals=["veilig_thuis"])
    first = await _record(client, auth, payload)
    again = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    assert again.status_code == 200
    assert again.json()["follow_ups"] == first["follow_ups"]
    mine = FollowUp.incident_id == uuid.UUID(first["id"])
    count = seeded.scalar(select(func.count()).select_from(FollowUp).where(mine))
    assert count == 3


async def test_sexual_violence_with_csg_asks_to_call_it_within_72_hours(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    payload = incident_payload(protocol="seksueel_geweld", referrals=["veilig_thuis", "centrum_seksueel_geweld"])
    created = await _record(client, auth, payload)
    csg = next(item for item in created["follow_ups"] if item["organisation"] == "centrum_seksueel_geweld")
    assert csg["action"] == "Centrum Seksueel Geweld gebeld"
    delta = datetime.fromisoformat(csg["due_at"]) - datetime.fromisoformat(created["created_at"])
    assert delta == timedelta(hours=72)


async def test_status_changes_are_new_rows_with_who_and_when(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    created = await _record(client, auth, incident_payload())
    target = next(item for item in created["follow_ups"] if item["organisation"] == "veilig_thuis")
    url = f"/api/v1/follow-ups/{target['id']}/events"

    done = await client.post(url, json={"status": "gedaan"}, headers=_counsellor(auth))
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["status"] == "gedaan" and body["overdue"] is False
    assert [(e["status"], e["actor"]) for e in body["history"]] == [("gedaan", STAFF)]

    # Final: a second change (here by the location's supervisor) is a conflict, not an overwrite.
    again = await client.post(url, json={"status": "niet_gedaan", "reason": "x"}, headers=auth("supervisor", "TERAPEL"))
    assert again.status_code == 409
    events = seeded.scalars(select(FollowUpEvent).where(FollowUpEvent.follow_up_id == uuid.UUID(target["id"]))).all()
    assert [(e.seq, e.status, e.actor) for e in events] == [(1, "gedaan", STAFF)]

    incident = await client.get(f"/api/v1/incidents/{created['id']}", headers=_counsellor(auth))
    statuses = {item["id"]: item["status"] for item in incident.json()["follow_ups"]}
    assert statuses[target["id"]] == "gedaan"
    assert sorted(statuses.values()).count("open") == len(statuses) - 1


async def test_not_done_needs_a_reason_and_bad_input_is_a_422_that_says_why(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    created = await _record(client, auth, incident_payload())
    url = f"/api/v1/follow-ups/{created['follow_ups'][0]['id']}/events"
    missing = await client.post(url, json={"status": "niet_gedaan"}, headers=_counsellor(auth))
    assert missing.status_code == 422
    assert "needs a reason" in missing.text
    unknown = await client.post(url, json={"status": "klaar"}, headers=_counsellor(auth))
    assert unknown.status_code == 422 and "gedaan" in unknown.text
    reopened = await client.post(url, json={"status": "open"}, headers=_counsellor(auth))
    assert reopened.status_code == 422
    ok = await client.post(url, json={"status": "niet_gedaan", "reason": "Bewoner wilde niet"},
                           headers=_counsellor(auth))  # fmt: skip
    assert ok.status_code == 201
    assert ok.json()["history"][0]["reason"] == "Bewoner wilde niet"
    assert (await client.post("/api/v1/follow-ups/not-a-uuid/events", json={"status": "gedaan"},
                              headers=_counsellor(auth))).status_code == 404  # fmt: skip


async def test_the_list_shows_open_and_overdue_in_scope(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    created = await _record(client, auth, incident_payload())
    # Make the Veilig Thuis follow-up overdue (the API always stamps "now").
    late = seeded.get(FollowUp, uuid.UUID(created["follow_ups"][0]["id"]))
    assert late is not None
    late.due_at = as_utc(late.due_at) - timedelta(days=3)
    seeded.flush()

    mine = (await client.get("/api/v1/follow-ups", params={"status": "open"}, headers=_counsellor(auth))).json()
    assert mine["total"] == mine["open"] == len(created["follow_ups"])
    assert mine["overdue"] == 1
    assert mine["items"][0]["id"] == str(late.id) and mine["items"][0]["overdue"] is True
    assert mine["items"][0]["reference"] == created["reference"]
    overdue = (await client.get("/api/v1/follow-ups", params={"overdue": "true"}, headers=_counsellor(auth))).json()
    assert [item["id"] for item in overdue["items"]] == [str(late.id)]

    other = await client.get("/api/v1/follow-ups", headers=auth("counsellor", "TERAPEL", sub="stf-other"))
    assert other.json()["total"] == 0
    budel = await client.get("/api/v1/follow-ups", headers=auth("supervisor", "BUDEL"))
    assert budel.json()["total"] == 0
    bad = await client.get("/api/v1/follow-ups", params={"status": "klaar"}, headers=_counsellor(auth))
    assert bad.status_code == 422


async def test_indicators_count_confirmed_actions_not_advice(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    now = utcnow()

    def veilig_thuis(location: str, due_in: timedelta, done_after: timedelta | None = None) -> None:
        incident = make_incident(seeded, created_at=now - timedelta(hours=30), location=location, staff_id=STAFF)
        follow_up = make_follow_up(seeded, incident, due_at=now + due_in)
        if done_after is not None:
            seeded.add(FollowUpEvent(follow_up_id=follow_up.id, seq=1, status="gedaan", actor=STAFF,
                                     created_at=incident.created_at + done_after))  # fmt: skip
        seeded.flush()

    veilig_thuis("TERAPEL", timedelta(hours=-6), done_after=timedelta(hours=3))  # done in time
    veilig_thuis("TERAPEL", timedelta(hours=-6), done_after=timedelta(hours=28))  # done late
    veilig_thuis("TERAPEL", timedelta(hours=-6))  # open, overdue
    veilig_thuis("TERAPEL", timedelta(hours=10))  # open, not yet due: not counted in the share
    veilig_thuis("BUDEL", timedelta(hours=-6))

    response = await client.get("/api/v1/indicators/follow-ups", headers=auth("supervisor", "TERAPEL"))
    assert response.status_code == 200, response.text
    (terapel,) = response.json()["items"]
    assert terapel["location"] == "TERAPEL"
    assert (terapel["veilig_thuis"], terapel["veilig_thuis_decided"], terapel["veilig_thuis_in_time"]) == (4, 3, 1)
    assert terapel["share_veilig_thuis_in_time"] == 1 / 3
    assert (terapel["open"], terapel["overdue"], terapel["gedaan"]) == (2, 1, 2)
    everywhere = (await client.get("/api/v1/indicators/follow-ups", headers=auth("admin"))).json()
    assert [item["location"] for item in everywhere["items"]] == ["BUDEL", "TERAPEL"]
    assert everywhere["totals"]["overdue"] == 2
    refused = await client.get("/api/v1/indicators/follow-ups", headers=auth("counsellor", "TERAPEL", sub=STAFF))
    assert refused.status_code == 403


async def test_indicators_per_follow_up_norm_not_only_veilig_thuis(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    """GZA the same day after suicidal thoughts: was it done in time? Per norm, over the scope."""
    now = utcnow()

    def follow_up(norm: str, location: str, due_in: timedelta, done_after: timedelta | None = None) -> None:
        incident = make_incident(seeded, created_at=now - timedelta(hours=30), location=location, staff_id=STAFF)
        made = make_follow_up(seeded, incident, due_at=now + due_in, norm=norm, key=norm, organisation=None)
        if done_after is not None:
            seeded.add(FollowUpEvent(follow_up_id=made.id, seq=1, status="gedaan", actor=STAFF,
                                     created_at=incident.created_at + done_after))  # fmt: skip
        seeded.flush()

    follow_up("gza_dezelfde_dag", "TERAPEL", timedelta(hours=-6), done_after=timedelta(hours=2))  # in time
    follow_up("gza_dezelfde_dag", "TERAPEL", timedelta(hours=-6))  # open, overdue
    follow_up("gza_dezelfde_dag", "BUDEL", timedelta(hours=-6))  # another location
    follow_up("csg_binnen_72_uur", "TERAPEL", timedelta(hours=40))  # open, not yet due

    terapel = (await client.get("/api/v1/indicators/follow-ups", headers=auth("supervisor", "TERAPEL"))).json()
    assert terapel["per_norm"] == [
        {"norm": "csg_binnen_72_uur", "total": 1, "open": 1, "overdue": 0, "decided": 0, "in_time": 0,
         "share_in_time": None},
        {"norm": "gza_dezelfde_dag", "total": 2, "open": 1, "overdue": 1, "decided": 2, "in_time": 1,
         "share_in_time": 0.5},
    ]
    everywhere = (await client.get("/api/v1/indicators/follow-ups", headers=auth("admin"))).json()
    gza = next(n for n in everywhere["per_norm"] if n["norm"] == "gza_dezelfde_dag")
    assert (gza["total"], gza["overdue"]) == (3, 2)


async def test_the_general_path_decision_gets_neutral_follow_ups(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    # The safe general path (issue 13) is filed under the neutral category, and so is a
    # privacy protocol's decision without consent: both get the general path's
    # follow-ups, which name no situation; Veilig Thuis only when it was referred to.
    payload = incident_payload(protocol="algemene_veiligheid", protocol_version="1.0.0",
                               referrals=["veilig_thuis", "nidos"],
                               steps=[{"step": "acuut_gevaar", "answer": "nee"},
                                      {"step": "wie_bewoner", "answer": "amv"}],
                               outcome="algemene_veiligheidsstappen")
    created = await _record(client, auth, payload)
    assert created["reference"].startswith("VEI-")
    assert {item["action"] for item in created["follow_ups"]} == {
        "Veilig Thuis om advies gevraagd", "Vervolggesprek met de bewoner",
        "Beoordeeld door de contactpersoon veiligheid",
    }  # fmt: skip
    without_vt = await _record(client, auth, incident_payload(
        protocol="algemene_veiligheid", referrals=["politie"], conversation_id="fu-neutral-2",
        steps=[{"step": "acuut_gevaar", "answer": "nee"}], outcome="steun_op_locatie"))
    assert {item["action"] for item in without_vt["follow_ups"]} == {
        "Vervolggesprek met de bewoner", "Beoordeeld door de contactpersoon veiligheid"}
