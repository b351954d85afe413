"""Incidents: contract shape, idempotency, validation messages, scoping."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.incidents.models import Incident, IncidentReviewEvent
from api.locations.models import KEY_POSITIONS

from .conftest import TokenFactory

Payload = Callable[..., dict[str, Any]]
# Fields every item has (DESIGN.md contract + INTERFACES.md).
ITEM_FIELDS = {
    "id", "reference", "conversation_id", "location", "protocol", "protocol_version", "acute",
    "referrals", "steps", "outcome", "staff_id", "channel", "created_at", "review_status",
    "deviations",  # additive (issue 5): ids of the minimum norms the incident deviates from
    "follow_ups",  # contract (issue 15): the actions the decision asks for, with deadlines
}  # fmt: skip


async def _record(client: httpx.AsyncClient, auth: TokenFactory, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    assert response.status_code == 201, response.text
    return response.json()


async def test_unknown_conversation_gives_the_contract_shape(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    # The exact check of ../shared/contract_check.py.
    response = await client.get(
        "/api/v1/incidents?conversation_id=none", headers=auth("supervisor", "TERAPEL")
    )
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0}


async def test_recorded_incident_has_the_contract_shape(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    payload = incident_payload(conversation_id="conv-shape")
    created = await _record(client, auth, payload)

    response = await client.get(
        "/api/v1/incidents", params={"conversation_id": "conv-shape"}, headers=auth("supervisor", "TERAPEL")
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total"}
    assert body["total"] == 1
    (item,) = body["items"]
    assert set(item) == ITEM_FIELDS
    assert item == created
    uuid.UUID(item["id"])
    assert item["conversation_id"] == "conv-shape"
    assert item["location"] == "TERAPEL"
    assert item["protocol"] == payload["protocol"]
    assert item["protocol_version"] == "1.0.0"
    assert item["acute"] is True
    assert item["referrals"] == ["politie", "veilig_thuis"]
    assert item["steps"] == [{"step": "acuut_gevaar", "answer": "ja"}]
    assert item["outcome"] == "melding_veilig_thuis_acuut"
    assert item["staff_id"] == "stf-7c1a"
    assert item["channel"] == "rest"
    assert item["review_status"] == "nieuw"
    created_at = datetime.fromisoformat(item["created_at"])
    assert created_at.utcoffset() is not None and created_at.utcoffset().total_seconds() == 0
    if payload["protocol"] == "eergerelateerd_geweld":
        assert re.fullmatch(r"EGG-\d{8}-[2-9A-HJKMNP-Z]{4}", item["reference"]), item["reference"]
        assert item["reference"][4:12] == created_at.strftime("%Y%m%d")

    one = await client.get(f"/api/v1/incidents/{item['id']}", headers=auth("admin"))
    assert one.status_code == 200
    # The detail is the list item plus who held the key positions when it was recorded (issue 17).
    detail = one.json()
    holders = detail.pop("key_position_holders")
    assert detail == item
    assert [h["position"] for h in holders] == list(KEY_POSITIONS)
    assert all(h["kind"] == "houder" and h["name"].endswith("-Demo") for h in holders)


async def test_answers_keep_their_types(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    steps = [
        {"step": "a", "answer": "ja"},
        {"step": "b", "answer": 14},
        {"step": "c", "answer": "vrije tekst"},
        {"step": "d", "answer": None},
    ]
    created = await _record(client, auth, incident_payload(steps=steps))
    assert created["steps"] == steps


async def test_same_idempotency_key_records_one_incident(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    seeded: Session,
    incident_payload: Payload,
) -> None:
    payload = incident_payload(idempotency_key="retry-me", conversation_id="conv-retry")
    first = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    second = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json() == first.json()
    count = seeded.scalar(
        select(func.count()).select_from(Incident).where(Incident.idempotency_key == "retry-me")
    )
    assert count == 1
    listed = await client.get("/api/v1/incidents?conversation_id=conv-retry", headers=auth("admin"))
    assert listed.json()["total"] == 1


def _messages(response: httpx.Response) -> dict[tuple[str | int, ...], str]:
    assert response.status_code == 422, response.text
    return {tuple(error["loc"]): error["msg"] for error in response.json()["detail"]}


@pytest.mark.parametrize(
    ("overrides", "loc", "needle"),
    [
        ({"protocol": "kindermishandelingg"}, ("body", "protocol"), "unknown protocol id 'kindermishandelingg'"),
        ({"referrals": ["politie", "ghostbusters"]}, ("body", "referrals", 1),
         "unknown organisation id 'ghostbusters'"),
        ({"location": "ATLANTIS"}, ("body", "location"), "unknown location code 'ATLANTIS'"),
        ({"conversation_id": ""}, ("body", "conversation_id"), "at least 1 character"),
        ({"conversation_id": "   "}, ("body", "conversation_id"), "at least 1 character"),
        ({"idempotency_key": ""}, ("body", "idempotency_key"), "at least 1 character"),
        ({"acute": "misschien"}, ("body", "acute"), "boolean"),
        ({"steps": [{"answer": "ja"}]}, ("body", "steps", 0, "step"), "Field required"),
        ({"referrals": "politie"}, ("body", "referrals"), "list"),
        ({"unexpected": 1}, ("body", "unexpected"), "Extra inputs are not permitted"),
    ],
)  # fmt: skip
async def test_bad_payloads_are_422_saying_what_is_wrong(
    client: httpx.AsyncClient,
    auth: TokenFactory,
    seeded: Session,
    incident_payload: Payload,
    overrides: dict[str, Any],
    loc: tuple[str | int, ...],
    needle: str,
) -> None:
    response = await client.post(
        "/api/v1/incidents", json=incident_payload(**overrides), headers=auth("service")
    )
    messages = _messages(response)
    assert loc in messages, messages
    assert needle in messages[loc]
    assert seeded.scalar(select(func.count()).select_from(Incident)) == 0


async def test_missing_field_is_named(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    payload = incident_payload()
    del payload["protocol_version"]
    messages = _messages(await client.post("/api/v1/incidents", json=payload, headers=auth("service")))
    assert messages[("body", "protocol_version")] == "Field required"


async def test_all_semantic_errors_are_reported_at_once(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    payload = incident_payload(protocol="nope", referrals=["nope"], location="nope")
    messages = _messages(await client.post("/api/v1/incidents", json=payload, headers=auth("service")))
    assert set(messages) == {("body", "protocol"), ("body", "referrals", 0), ("body", "location")}
    assert "TERAPEL" in messages[("body", "location")]  # lists the known codes


async def test_location_code_is_case_insensitive(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    created = await _record(client, auth, incident_payload(location=" terapel "))
    assert created["location"] == "TERAPEL"


@pytest.fixture
async def spread(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> dict[str, dict[str, Any]]:
    """Four incidents: two at TERAPEL (different counsellors), one at BUDEL, one at ZWOLLE."""
    specs = {
        "terapel_a": {"location": "TERAPEL", "staff_id": "stf-7c1a", "conversation_id": "c-ta"},
        "terapel_b": {"location": "TERAPEL", "staff_id": "stf-other", "conversation_id": "c-tb"},
        "budel": {"location": "BUDEL", "staff_id": "stf-2e9b", "conversation_id": "c-b"},
        "zwolle": {"location": "ZWOLLE", "staff_id": None, "conversation_id": "c-z"},
    }
    return {name: await _record(client, auth, incident_payload(**spec)) for name, spec in specs.items()}


async def _visible(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> set[str]:
    response = await client.get("/api/v1/incidents", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


async def test_scoping_by_role(
    client: httpx.AsyncClient, auth: TokenFactory, spread: dict[str, dict[str, Any]]
) -> None:
    ids = {name: incident["id"] for name, incident in spread.items()}
    assert await _visible(client, auth("admin")) == set(ids.values())
    assert await _visible(client, auth("supervisor", "BUDEL")) == {ids["budel"]}
    assert await _visible(client, auth("supervisor", "TERAPEL", "ZWOLLE")) == {
        ids["terapel_a"], ids["terapel_b"], ids["zwolle"],
    }  # fmt: skip
    assert await _visible(client, auth("contact_person", "TERAPEL")) == {ids["terapel_a"], ids["terapel_b"]}
    # A counsellor sees only what they recorded themselves, even at their own location.
    assert await _visible(client, auth("counsellor", "TERAPEL", sub="stf-7c1a")) == {ids["terapel_a"]}
    assert await _visible(client, auth("counsellor", "TERAPEL", sub="stf-nobody")) == set()
    assert await _visible(client, auth("supervisor")) == set()


async def test_supervisor_of_budel_cannot_see_terapel(
    client: httpx.AsyncClient, auth: TokenFactory, spread: dict[str, dict[str, Any]]
) -> None:
    budel = auth("supervisor", "BUDEL")
    terapel_id = spread["terapel_a"]["id"]
    assert await _visible(client, budel, conversation_id="c-ta") == set()
    assert await _visible(client, budel, location="TERAPEL") == set()
    assert (await client.get(f"/api/v1/incidents/{terapel_id}", headers=budel)).status_code == 404
    own = await client.get(f"/api/v1/incidents/{spread['budel']['id']}", headers=budel)
    assert own.status_code == 200
    other = auth("counsellor", sub="stf-2e9b")
    assert (await client.get(f"/api/v1/incidents/{terapel_id}", headers=other)).status_code == 404


async def test_filters_and_paging(
    client: httpx.AsyncClient, auth: TokenFactory, spread: dict[str, dict[str, Any]], protocol_id: str
) -> None:
    admin = auth("admin")
    assert await _visible(client, admin, location="terapel") == {
        spread["terapel_a"]["id"], spread["terapel_b"]["id"],
    }  # fmt: skip
    assert await _visible(client, admin, protocol="other_protocol") == set()
    assert len(await _visible(client, admin, protocol=protocol_id)) == 4

    page = await client.get("/api/v1/incidents", params={"limit": 3, "offset": 0}, headers=admin)
    rest = await client.get("/api/v1/incidents", params={"limit": 3, "offset": 3}, headers=admin)
    assert page.json()["total"] == rest.json()["total"] == 4
    assert len(page.json()["items"]) == 3 and len(rest.json()["items"]) == 1
    seen = [item["id"] for item in page.json()["items"] + rest.json()["items"]]
    assert sorted(seen) == sorted(incident["id"] for incident in spread.values())

    bad = await client.get("/api/v1/incidents", params={"limit": 0}, headers=admin)
    assert bad.status_code == 422


async def test_review_status_is_the_latest_event(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, spread: dict[str, dict[str, Any]]
) -> None:
    incident_id = uuid.UUID(spread["budel"]["id"])
    seeded.add(IncidentReviewEvent(incident_id=incident_id, status="correctie_gevraagd", actor="stf-3b8e"))
    seeded.flush()
    seeded.add(IncidentReviewEvent(incident_id=incident_id, status="beoordeeld", actor="stf-3b8e", note="ok"))
    seeded.commit()
    response = await client.get("/api/v1/incidents", params={"location": "BUDEL"}, headers=auth("admin"))
    (item,) = response.json()["items"]
    assert item["review_status"] == "beoordeeld"
    one = await client.get(f"/api/v1/incidents/{incident_id}", headers=auth("supervisor", "BUDEL"))
    assert one.json()["review_status"] == "beoordeeld"
    others = await _visible(client, auth("admin"), location="ZWOLLE")
    assert others == {spread["zwolle"]["id"]}
    zwolle = await client.get(f"/api/v1/incidents/{spread['zwolle']['id']}", headers=auth("admin"))
    assert zwolle.json()["review_status"] == "nieuw"


@pytest.mark.parametrize("incident_id", ["not-a-uuid", str(uuid.uuid4())])
async def test_unknown_incident_is_404(
    client: httpx.AsyncClient, auth: TokenFactory, incident_id: str
) -> None:
    response = await client.get(f"/api/v1/incidents/{incident_id}", headers=auth("admin"))
    assert response.status_code == 404
