"""Records filed under a neutral category (issue 12 part 3): the API accepts the
category for incidents and session events, gives it its own reference prefix, lists
and exports it without anything that names orientation or religion, and still shows a
consented privacy protocol's incident under its (neutral) session."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy.orm import Session

from .conftest import TokenFactory

CATEGORY = "algemene_veiligheid"
REVEALING = re.compile(r"lhbt|lgbt|\bcoc\b|roze|homo|lesb|bisek|transg|orient|geloof|bekeer|bekering|religi",
                       re.IGNORECASE)


def event_body(key: str, conversation_id: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"idempotency_key": key, "conversation_id": conversation_id, "location": "BUDEL", "protocol": CATEGORY,
            "protocol_version": "1.1.0", "staff_id": "stf-own", "channel": "rest", "run_id": "run-1",
            "event": event}


async def log_neutral_run(client: httpx.AsyncClient, auth: TokenFactory, conversation_id: str,
                          reference: str) -> None:
    events = [
        {"type": "started", "text": "Veiligheid van een bewoner"},
        {"type": "question_asked", "step": "toestemming_registratie", "text": "Tekst niet in het logboek."},
        {"type": "answer_given", "step": "toestemming_registratie", "answer": "nee"},
        {"type": "outcome", "step": "uitkomst_steun", "outcome": "steun_op_locatie"},
        {"type": "incident_recorded", "step": "uitkomst_steun", "incident_reference": reference},
    ]
    for index, event in enumerate(events):
        response = await client.post("/api/v1/sessions/events", json=event_body(f"{conversation_id}-{index}",
                                                                                 conversation_id, event),
                                      headers=auth("service"))
        assert response.status_code == 201, response.text


async def test_a_consent_refused_record_is_neutral_in_json_and_csv(
        client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload) -> None:
    payload = incident_payload(conversation_id="conv-neutral", location="BUDEL", protocol=CATEGORY,
                               protocol_version="1.1.0", acute=False, referrals=["politie"],
                               steps=[{"step": "acuut_gevaar", "answer": "nee"},
                                      {"step": "toestemming_registratie", "answer": "nee"},
                                      {"step": "wie_dreigt", "answer": "medebewoners"}],
                               outcome="steun_op_locatie")
    created = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["protocol"] == CATEGORY and incident["reference"].startswith("VEI-")
    await log_neutral_run(client, auth, "conv-neutral", incident["reference"])

    supervisor = auth("supervisor", "BUDEL")
    listed = await client.get("/api/v1/incidents", params={"conversation_id": "conv-neutral"}, headers=supervisor)
    sessions = await client.get("/api/v1/sessions", params={"location": "BUDEL"}, headers=supervisor)
    exported = await client.get("/api/v1/sessions.csv", params={"location": "BUDEL"}, headers=supervisor)
    assert listed.status_code == sessions.status_code == exported.status_code == 200
    (item,) = [i for i in sessions.json()["items"] if i["conversation_id"] == "conv-neutral"]
    detail = await client.get(f"/api/v1/sessions/{item['id']}", headers=supervisor)
    assert detail.status_code == 200
    assert [i["incident"]["reference"] for i in detail.json()["incidents"]] == [incident["reference"]]
    assert "conv-neutral" in exported.text and CATEGORY in exported.text
    for text in (listed.text, sessions.text, detail.text, exported.text):
        assert not REVEALING.findall(text), text


async def test_a_consented_privacy_incident_shows_under_its_neutral_session(
        client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload) -> None:
    payload = incident_payload(conversation_id="conv-consent", location="BUDEL", protocol="lhbti_ondersteuning",
                               protocol_version="1.1.0", acute=False, referrals=["coc"],
                               steps=[{"step": "toestemming_registratie", "answer": "ja"},
                                      {"step": "grond_registratie", "answer": "lhbti"}],
                               outcome="steun_op_locatie")
    created = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    assert created.status_code == 201, created.text
    assert created.json()["reference"].startswith("LHBTI-")
    await log_neutral_run(client, auth, "conv-consent", created.json()["reference"])
    supervisor = auth("supervisor", "BUDEL")
    sessions = (await client.get("/api/v1/sessions", params={"location": "BUDEL"}, headers=supervisor)).json()
    (item,) = [i for i in sessions["items"] if i["conversation_id"] == "conv-consent"]
    assert item["protocol"] == CATEGORY
    detail = (await client.get(f"/api/v1/sessions/{item['id']}", headers=supervisor)).json()
    assert [i["incident"]["protocol"] for i in detail["incidents"]] == ["lhbti_ondersteuning"]


async def test_an_unknown_category_is_refused_naming_the_known_ones(
        client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload) -> None:
    response = await client.post("/api/v1/incidents", json=incident_payload(protocol="geheime_categorie"),
                                 headers=auth("service"))
    assert response.status_code == 422
    assert CATEGORY in response.text and "geheime_categorie" in response.text
