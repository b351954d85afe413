"""De-identification of free text before storage, and the audit log of reads
(issue 6, parts 4 and 5). The names, numbers and dates are invented."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.audit.models import AuditEntry
from api.incidents.models import IncidentReviewEvent
from api.models_base import utcnow
from api.security.deidentify import deidentify
from api.sessions.models import SessionEvent
from tests.api.conftest import TokenFactory
from tests.api.factories import make_incident, make_session

NOTE = (
    "Gesproken met Fatima Yilmaz (tel. 06-12345678, ook +31 6 8765 4321), geboren 3 april 1990; mail f.y@voorbeeld.nl"
)
SECRETS = ("Fatima", "Yilmaz", "06-12345678", "8765 4321", "3 april 1990", "f.y@voorbeeld.nl")


def test_deidentify_replaces_names_numbers_and_dates() -> None:
    result = deidentify(NOTE)
    assert result is not None
    for secret in SECRETS:
        assert secret not in result, (secret, result)
    assert "[PERSOON-1]" in result and "[TELEFOONNUMMER" in result and "[DATUM-1]" in result
    assert deidentify("ja") == "ja" and deidentify(None) is None and deidentify("") == ""


async def test_review_notes_are_stored_deidentified(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    incident = make_incident(seeded, created_at=utcnow() - timedelta(hours=1), location="TERAPEL")
    response = await client.post(
        f"/api/v1/incidents/{incident.id}/review-events", json={"note": NOTE}, headers=auth("supervisor", "TERAPEL")
    )
    assert response.status_code == 201, response.text
    stored = seeded.scalar(select(IncidentReviewEvent.note).where(IncidentReviewEvent.incident_id == incident.id))
    assert stored is not None and "[PERSOON-1]" in stored
    for secret in SECRETS:
        assert secret not in stored and secret not in response.text


async def test_free_text_answers_are_stored_deidentified(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload
) -> None:
    service = auth("service")
    base = {"conversation_id": "deid-1", "location": "TERAPEL", "protocol": "eergerelateerd_geweld",
            "protocol_version": "1.0.0"}  # fmt: skip
    free = await client.post(
        "/api/v1/sessions/events",
        json={
            **base,
            "idempotency_key": "deid-e1",
            "event": {
                "type": "answer_given",
                "step": "vrije_toelichting",
                "text": "Bewoner Ahmed El Amrani belde 06-11223344",
                "answer": NOTE,
            },
        },
        headers=service,
    )
    assert free.status_code == 201, free.text
    yes_no = await client.post(
        "/api/v1/sessions/events",
        json={
            **base,
            "idempotency_key": "deid-e2",
            "event": {"type": "answer_given", "step": "acuut_gevaar", "answer": "ja"},
        },
        headers=service,
    )
    assert yes_no.status_code == 201, yes_no.text
    rows = seeded.execute(select(SessionEvent.text, SessionEvent.answer).order_by(SessionEvent.seq)).all()
    stored = " ".join(str(value) for row in rows for value in row)
    for secret in (*SECRETS, "Ahmed", "06-11223344"):
        assert secret not in stored, (secret, stored)
    assert rows[-1].answer == "ja"  # a yes/no answer is not free text
    incident = await client.post(
        "/api/v1/incidents",
        json=incident_payload(
            steps=[{"step": "acuut_gevaar", "answer": "ja"}, {"step": "toelichting", "answer": NOTE}]
        ),
        headers=service,
    )
    assert incident.status_code == 201, incident.text
    steps = incident.json()["steps"]
    assert steps[0]["answer"] == "ja"
    assert all(secret not in str(steps) for secret in SECRETS)


async def test_every_read_by_a_person_is_audited_and_admins_see_it(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    now = utcnow()
    guidance = make_session(seeded, started_at=now - timedelta(hours=2), location="TERAPEL")
    incident = make_incident(seeded, created_at=now, location="TERAPEL", conversation_id=guidance.conversation_id)
    supervisor = auth("supervisor", "TERAPEL", sub="stf-sup-audit")
    assert (await client.get(f"/api/v1/incidents/{incident.id}", headers=supervisor)).status_code == 200
    assert (await client.get(f"/api/v1/sessions/{guidance.id}", headers=supervisor)).status_code == 200
    assert (await client.get("/api/v1/incidents", headers=supervisor)).status_code == 200
    assert (await client.get(f"/api/v1/incidents/{incident.id}/review-events", headers=supervisor)).status_code == 200
    # A page read (cookie) is audited too.
    page = await client.get(
        f"/sessies/{guidance.id}", cookies={"coa_session": supervisor["Authorization"].removeprefix("Bearer ")}
    )
    assert page.status_code == 200
    # A read outside the scope (404) reads nothing and is not logged as a read.
    other = auth("supervisor", "BUDEL", sub="stf-other")
    assert (await client.get(f"/api/v1/incidents/{incident.id}", headers=other)).status_code == 404

    assert (await client.get("/api/v1/audit", headers=supervisor)).status_code == 403
    log = await client.get("/api/v1/audit", params={"actor": "stf-sup-audit"}, headers=auth("admin"))
    assert log.status_code == 200
    items = log.json()["items"]
    seen = {(item["object_type"], item["object_id"], item["path"].split(" ")[1].split("/")[1]) for item in items}
    assert ("incident", str(incident.id), "api") in seen
    assert ("session", str(guidance.id), "api") in seen
    assert ("review_history", str(incident.id), "api") in seen
    assert ("session", str(guidance.id), "sessies") in seen
    listed = [item for item in items if item["object_type"] == "incident_list"]
    assert listed and str(incident.id) in listed[-1]["object_ids"]
    assert all(item["actor"] == "stf-sup-audit" and item["role"] == "supervisor" and item["at"] for item in items)
    assert not seeded.scalars(select(AuditEntry).where(AuditEntry.actor == "stf-other")).all()


def test_the_audit_log_is_append_only(seeded: Session) -> None:
    seeded.add(AuditEntry(actor="a", role="admin", object_type="incident", object_id="x", object_ids=[]))
    seeded.flush()
    for statement in ("UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), seeded.begin_nested():
            seeded.execute(text(statement))
