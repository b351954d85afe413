"""Review workflow: the whole transition table is walked, every other pair is
refused with 409; actors, notes, history and the counsellor's corrections."""

from __future__ import annotations

from datetime import timedelta
from itertools import product

import httpx
import pytest
from sqlalchemy.orm import Session

from api.incidents.models import Incident
from api.models_base import utcnow
from api.reviews.transitions import INITIAL_STATUS, STATUSES, TRANSITIONS
from knowledge.norms import REVIEW_STATUSES

from .conftest import TokenFactory
from .factories import add_reviews, make_incident

TARGETS = [status for status in STATUSES if status != INITIAL_STATUS]
ALL_PAIRS = list(product(STATUSES, TARGETS))


def _at_status(db: Session, status: str) -> Incident:
    incident = make_incident(db, created_at=utcnow() - timedelta(hours=1), staff_id="stf-own")
    if status != INITIAL_STATUS:
        add_reviews(db, incident, [(status, utcnow() - timedelta(minutes=30))])
    return incident


def _actor_headers(auth: TokenFactory, actor: str) -> dict[str, str]:
    if actor == "author":
        return auth("counsellor", "TERAPEL", sub="stf-own")
    return auth("supervisor", "TERAPEL")


def test_the_norms_know_the_same_statuses() -> None:
    assert set(REVIEW_STATUSES) == set(STATUSES)
    assert {status for pair in TRANSITIONS for status in pair} <= set(STATUSES)


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=[f"{s}->{t}" for s, t in ALL_PAIRS])
async def test_every_pair_of_the_table(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, source: str, target: str
) -> None:
    incident = _at_status(seeded, source)
    actor = TRANSITIONS.get((source, target), "reviewer")
    response = await client.post(
        f"/api/v1/incidents/{incident.id}/review-events",
        json={"status": target, "note": f"{source} naar {target}"},
        headers=_actor_headers(auth, actor),
    )
    if (source, target) in TRANSITIONS:
        assert response.status_code == 201, response.text
        event = response.json()
        assert event["status"] == target and event["note"] == f"{source} naar {target}"
        assert event["actor"] == ("stf-own" if actor == "author" else "test-supervisor")
        history = await client.get(
            f"/api/v1/incidents/{incident.id}/review-events", headers=auth("supervisor", "TERAPEL")
        )
        assert history.json()["review_status"] == target
        listed = await client.get(f"/api/v1/incidents/{incident.id}", headers=auth("supervisor", "TERAPEL"))
        assert listed.json()["review_status"] == target
    else:
        assert response.status_code == 409, response.text
        detail = response.json()["detail"]
        assert f"'{source}' → '{target}' is not allowed" in detail


@pytest.mark.parametrize(("source", "target"), list(TRANSITIONS), ids=[f"{s}->{t}" for s, t in TRANSITIONS])
async def test_the_wrong_actor_is_refused(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, source: str, target: str
) -> None:
    incident = _at_status(seeded, source)
    wrong = "reviewer" if TRANSITIONS[(source, target)] == "author" else "author"
    for headers in (_actor_headers(auth, wrong), auth("contact_person", "TERAPEL"), auth("admin")):
        response = await client.post(
            f"/api/v1/incidents/{incident.id}/review-events", json={"status": target}, headers=headers
        )
        assert response.status_code == 403, response.text
    # Another counsellor, or a supervisor of another location, does not even see it.
    for headers in (auth("counsellor", "TERAPEL", sub="stf-other"), auth("supervisor", "BUDEL")):
        response = await client.post(
            f"/api/v1/incidents/{incident.id}/review-events", json={"status": target}, headers=headers
        )
        assert response.status_code == 404


async def test_the_full_correction_round_trip(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    incident = _at_status(seeded, INITIAL_STATUS)
    url = f"/api/v1/incidents/{incident.id}/review-events"
    supervisor = auth("supervisor", "TERAPEL")
    counsellor = auth("counsellor", "TERAPEL", sub="stf-own")

    assert (await client.get("/api/v1/me/corrections", headers=counsellor)).json() == []
    for status in ("in_behandeling", "correctie_gevraagd"):
        assert (await client.post(url, json={"status": status}, headers=supervisor)).status_code == 201
    assert (
        await client.post(url, json={"note": "Graag de verwijzing aanvullen."}, headers=supervisor)
    ).status_code == 201

    (correction,) = (await client.get("/api/v1/me/corrections", headers=counsellor)).json()
    assert correction["reference"] == incident.reference
    assert correction["note"] == "Graag de verwijzing aanvullen."
    assert correction["requested_by"] == "test-supervisor"
    other = auth("counsellor", "TERAPEL", sub="stf-other")
    assert (await client.get("/api/v1/me/corrections", headers=other)).json() == []

    response = await client.post(url, json={"status": "gecorrigeerd", "note": "Aangevuld."}, headers=counsellor)
    assert response.status_code == 201
    assert (await client.get("/api/v1/me/corrections", headers=counsellor)).json() == []
    assert (await client.post(url, json={"note": "nog iets"}, headers=counsellor)).status_code == 403
    assert (await client.post(url, json={"status": "afgehandeld"}, headers=supervisor)).status_code == 201

    history = (await client.get(url, headers=counsellor)).json()
    assert [item["status"] for item in history["items"]] == [
        "in_behandeling", "correctie_gevraagd", "correctie_gevraagd", "gecorrigeerd", "afgehandeld",
    ]  # fmt: skip
    assert history["review_status"] == "afgehandeld" and history["allowed_next"] == []
    assert all(item["created_at"] for item in history["items"])


async def test_payload_needs_a_status_or_a_note(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    incident = _at_status(seeded, INITIAL_STATUS)
    url = f"/api/v1/incidents/{incident.id}/review-events"
    headers = auth("supervisor", "TERAPEL")
    assert (await client.post(url, json={}, headers=headers)).status_code == 422
    assert (await client.post(url, json={"status": "nieuw"}, headers=headers)).status_code == 422
    assert (await client.post(url, json={"status": "in_behandeling"}, headers=auth("service"))).status_code == 403
    assert (
        await client.post("/api/v1/incidents/nope/review-events", json={"note": "x"}, headers=headers)
    ).status_code == 404
