"""Guidance session log: append-only events, idempotency, list filters, detail, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.config import get_settings
from api.models_base import utcnow
from api.sessions.models import GuidanceSession, SessionEvent

from .conftest import TokenFactory
from .factories import add_reviews, make_incident, make_session

ROOT = Path(__file__).resolve().parents[2]

CONV = "conv-session-1"


def body(key: str, event: dict[str, Any], conversation_id: str = CONV, **overrides: Any) -> dict[str, Any]:
    payload = {
        "idempotency_key": key,
        "conversation_id": conversation_id,
        "location": "terapel",
        "protocol": "eergerelateerd_geweld",
        "protocol_version": "1.0.0",
        "staff_id": "stf-own",
        "channel": "rest",
        "event": event,
    }
    payload.update(overrides)
    return payload


async def _post(client: httpx.AsyncClient, auth: TokenFactory, payload: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/sessions/events", json=payload, headers=auth("service"))


async def _log_walk(client: httpx.AsyncClient, auth: TokenFactory, conv: str = CONV) -> list[dict[str, Any]]:
    events = [
        {"type": "started", "step": "acuut_gevaar"},
        {"type": "question_asked", "step": "acuut_gevaar", "text": "Is er nu direct gevaar?"},
        {"type": "answer_given", "step": "acuut_gevaar", "answer": "nee"},
        {"type": "advice_shown", "step": "advies", "text": "Overleg met de aandachtsfunctionaris."},
        {"type": "outcome", "step": "einde", "text": "Melden bij Veilig Thuis.", "outcome": "melding_veilig_thuis"},
    ]
    out = []
    for index, event in enumerate(events):
        response = await _post(client, auth, body(f"{conv}-{index}", event, conversation_id=conv))
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


async def test_first_event_creates_the_session_and_events_are_numbered(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    logged = await _log_walk(client, auth)
    assert [event["seq"] for event in logged] == [1, 2, 3, 4, 5]
    assert len({event["session_id"] for event in logged}) == 1
    guidance = seeded.scalar(select(GuidanceSession).where(GuidanceSession.conversation_id == CONV))
    assert guidance is not None and guidance.location == "TERAPEL" and guidance.staff_id == "stf-own"
    assert logged[2]["answer"] == "nee"


async def test_a_retried_event_is_not_stored_twice(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    first = await _post(client, auth, body("k-1", {"type": "started"}))
    again = await _post(client, auth, body("k-1", {"type": "started"}))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert seeded.scalar(select(func.count()).select_from(SessionEvent)) == 1


async def test_answers_of_every_kind_are_kept_as_text(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    answers = [(True, "ja"), (3, "3"), ("ouder_dan_18", "ouder_dan_18")]
    for index, (answer, stored) in enumerate(answers):
        response = await _post(client, auth, body(f"a-{index}", {"type": "answer_given", "answer": answer}))
        assert response.json()["answer"] == stored


@pytest.mark.parametrize("role", ["counsellor", "contact_person", "supervisor", "admin"])
async def test_only_the_service_role_logs_events(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, role: str
) -> None:
    response = await client.post(
        "/api/v1/sessions/events", json=body("x", {"type": "started"}), headers=auth(role, "TERAPEL")
    )
    assert response.status_code == 403


async def test_unknown_location_protocol_and_type_are_refused_with_a_reason(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    response = await _post(client, auth, body("bad-1", {"type": "started"}, location="NERGENS", protocol="x"))
    assert response.status_code == 422
    text = response.text
    assert "unknown location code 'NERGENS'" in text and "unknown protocol id 'x'" in text
    response = await _post(client, auth, body("bad-2", {"type": "gezellig"}))
    assert response.status_code == 422
    response = await client.post("/api/v1/sessions/events", json=body("bad-3", {"type": "started"}))
    assert response.status_code == 401


async def test_incident_recorded_event_links_the_incident(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Any
) -> None:
    created = await client.post(
        "/api/v1/incidents", json=incident_payload(conversation_id=CONV), headers=auth("service")
    )
    reference = created.json()["reference"]
    await _log_walk(client, auth)
    response = await _post(client, auth, body("rec", {"type": "incident_recorded", "incident_reference": reference}))
    assert response.json()["incident_id"] == created.json()["id"]

    listed = await client.get("/api/v1/sessions", headers=auth("supervisor", "TERAPEL"))
    (item,) = listed.json()["items"]
    assert item["state"] == "afgerond"
    assert item["last_outcome"] == "melding_veilig_thuis"
    assert item["incident_reference"] == reference
    assert item["review_status"] == "nieuw"
    assert item["event_count"] == 6
    assert item["ended_at"] is not None

    detail = await client.get(f"/api/v1/sessions/{item['id']}", headers=auth("supervisor", "TERAPEL"))
    assert detail.status_code == 200
    data = detail.json()
    assert [event["type"] for event in data["events"]] == [
        "started", "question_asked", "answer_given", "advice_shown", "outcome", "incident_recorded",
    ]  # fmt: skip
    assert data["events"][1]["text"] == "Is er nu direct gevaar?"
    (incident,) = data["incidents"]
    assert incident["incident"]["reference"] == reference
    assert incident["review_history"] == []
    await client.post(
        f"/api/v1/incidents/{created.json()['id']}/review-events",
        json={"status": "in_behandeling", "note": "Ik kijk ernaar."},
        headers=auth("supervisor", "TERAPEL"),
    )
    detail = await client.get(f"/api/v1/sessions/{item['id']}", headers=auth("supervisor", "TERAPEL"))
    assert detail.json()["review_status"] == "in_behandeling"
    (history,) = detail.json()["incidents"][0]["review_history"]
    assert history["note"] == "Ik kijk ernaar." and history["actor"] == "test-supervisor"


async def test_state_is_derived_from_the_events(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    await _post(client, auth, body("s1", {"type": "started"}, conversation_id="c-running"))
    await _post(client, auth, body("s2", {"type": "started"}, conversation_id="c-stopped"))
    await _post(client, auth, body("s3", {"type": "stopped"}, conversation_id="c-stopped"))
    await _log_walk(client, auth, conv="c-done")
    headers = auth("supervisor", "TERAPEL")
    for state, conv in (("lopend", "c-running"), ("gestopt", "c-stopped"), ("afgerond", "c-done")):
        response = await client.get("/api/v1/sessions", params={"state": state}, headers=headers)
        assert [item["conversation_id"] for item in response.json()["items"]] == [conv]
    running = (await client.get("/api/v1/sessions", params={"state": "lopend"}, headers=headers)).json()
    assert running["items"][0]["ended_at"] is None


async def test_a_run_left_without_a_decision_is_onderbroken(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    """No decision, no stop and no event for longer than the assistant keeps a session:
    the counsellor left it. A run that ended stays what it was, however old."""
    now = utcnow()
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    asked = {"type": "question_asked", "step": "dreiging", "text": "Wordt zij bedreigd door familie?"}
    make_session(seeded, started_at=now - idle - timedelta(hours=1), conversation_id="c-left",
                 events=[{**asked, "created_at": now - idle - timedelta(minutes=1)}])
    make_session(seeded, started_at=now - idle - timedelta(hours=1), conversation_id="c-slow",
                 events=[{**asked, "created_at": now - idle + timedelta(minutes=5)}])
    make_session(seeded, started_at=now - idle - timedelta(hours=1), conversation_id="c-silent")
    make_session(seeded, started_at=now - timedelta(days=3), conversation_id="c-old-stop",
                 events=[{"type": "stopped"}])
    headers = auth("supervisor", "TERAPEL")

    async def conversations(state: str) -> list[str]:
        response = await client.get("/api/v1/sessions", params={"state": state}, headers=headers)
        assert response.status_code == 200, response.text
        return sorted(item["conversation_id"] for item in response.json()["items"])

    assert await conversations("onderbroken") == ["c-left", "c-silent"]
    assert await conversations("lopend") == ["c-slow"]
    assert await conversations("gestopt") == ["c-old-stop"]
    left = (await client.get("/api/v1/sessions", params={"state": "onderbroken"}, headers=headers)).json()
    assert {item["ended_at"] for item in left["items"]} == {None}
    csv_text = (await client.get("/api/v1/sessions.csv", params={"state": "onderbroken"}, headers=headers)).text
    assert "c-left" in csv_text and "c-slow" not in csv_text


async def test_list_filters(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    now = utcnow()
    old = make_session(seeded, started_at=now - timedelta(days=30), conversation_id="c-old")
    egg = make_session(
        seeded,
        started_at=now - timedelta(days=2),
        conversation_id="c-egg",
        events=[{"type": "question_asked", "step": "dreiging", "text": "Wordt zij bedreigd door familie?"}],
    )
    sg = make_session(seeded, started_at=now - timedelta(days=1), conversation_id="c-sg", protocol="seksueel_geweld")
    make_session(seeded, started_at=now, conversation_id="c-budel", location="BUDEL")
    late = make_incident(seeded, created_at=now - timedelta(days=30), conversation_id="c-old")
    done = make_incident(seeded, created_at=now - timedelta(days=2), conversation_id="c-egg")
    add_reviews(seeded, done, [("in_behandeling", now), ("afgehandeld", now)])
    assert late.id and old.id and egg.id and sg.id

    headers = auth("supervisor", "TERAPEL")

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/api/v1/sessions", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["conversation_id"] for item in response.json()["items"]]

    assert await ids() == ["c-sg", "c-egg", "c-old"]  # newest first, BUDEL out of scope
    assert await ids(protocol="seksueel_geweld") == ["c-sg"]
    assert await ids(location="BUDEL") == []
    assert await ids(q="FAMILIE") == ["c-egg"]
    assert await ids(q="100%") == []
    assert await ids(status="afgehandeld") == ["c-egg"]
    assert await ids(status="nieuw") == ["c-old"]
    assert await ids(overdue="true") == ["c-old"]
    assert "c-old" not in await ids(overdue="false")
    start = (now - timedelta(days=3)).date().isoformat()
    assert await ids(**{"from": start}) == ["c-sg", "c-egg"]
    assert await ids(**{"to": (now - timedelta(days=10)).date().isoformat()}) == ["c-old"]
    page = (await client.get("/api/v1/sessions", params={"limit": 1, "offset": 1}, headers=headers)).json()
    assert page["total"] == 3 and [item["conversation_id"] for item in page["items"]] == ["c-egg"]
    bad = await client.get("/api/v1/sessions", params={"from": "gisteren"}, headers=headers)
    assert bad.status_code == 422 and "gisteren" in bad.text


async def test_csv_export_has_the_list_columns_only(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    now = utcnow()
    make_session(
        seeded,
        started_at=now,
        conversation_id="=cmd|' /C calc'!A0",
        events=[{"type": "question_asked", "text": "Geheime vraagtekst"}],
    )
    make_session(seeded, started_at=now, conversation_id="c-budel", location="BUDEL")
    response = await client.get("/api/v1/sessions.csv", headers=auth("supervisor", "TERAPEL"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["id", "conversation_id", "location"]
    assert "events" not in rows[0] and "text" not in rows[0]
    assert len(rows) == 2
    assert rows[1][1].startswith("'=")  # no spreadsheet formula
    assert "Geheime vraagtekst" not in response.text


async def test_unknown_or_malformed_session_id_is_404(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    for session_id in ("nope", "00000000-0000-0000-0000-000000000000"):
        response = await client.get(f"/api/v1/sessions/{session_id}", headers=auth("admin"))
        assert response.status_code == 404


async def test_a_second_protocol_in_the_same_conversation_is_its_own_session(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Any
) -> None:
    first = [
        body("r1-0", {"type": "started"}, run_id="3"),
        body("r1-1", {"type": "outcome", "outcome": "melding_veilig_thuis"}, run_id="3"),
    ]
    second = [
        body("r2-0", {"type": "started"}, run_id="11", protocol="seksueel_geweld"),
        body("r2-1", {"type": "question_asked", "text": "Is het korter dan 7 dagen geleden?"}, run_id="11",
             protocol="seksueel_geweld"),
    ]  # fmt: skip
    stored = [(await _post(client, auth, payload)).json() for payload in first + second]
    assert [event["seq"] for event in stored] == [1, 2, 1, 2]
    assert stored[0]["session_id"] == stored[1]["session_id"] != stored[2]["session_id"] == stored[3]["session_id"]
    rows = seeded.execute(select(GuidanceSession.run_id, GuidanceSession.protocol).order_by(GuidanceSession.run_id))
    assert [tuple(row) for row in rows] == [("11", "seksueel_geweld"), ("3", "eergerelateerd_geweld")]

    # Each session shows the incident of its own protocol only.
    created = await client.post(
        "/api/v1/incidents", json=incident_payload(conversation_id=CONV), headers=auth("service")
    )
    headers = auth("supervisor", "TERAPEL")
    listed = (await client.get("/api/v1/sessions", headers=headers)).json()["items"]
    by_protocol = {item["protocol"]: item for item in listed}
    assert by_protocol["eergerelateerd_geweld"]["incident_reference"] == created.json()["reference"]
    assert by_protocol["seksueel_geweld"]["incident_reference"] is None
    detail = (await client.get(f"/api/v1/sessions/{by_protocol['seksueel_geweld']['id']}", headers=headers)).json()
    assert detail["incidents"] == [] and detail["run_id"] == "11"
    indicators = (await client.get("/api/v1/indicators", headers=headers)).json()
    (total,) = indicators["totals"]
    assert total["incidents"]["total"] == 1 and total["sessions"]["total"] == 2

    # The same run cannot switch protocol; without run_id it is the default run.
    clash = await _post(client, auth, body("r1-2", {"type": "stopped"}, run_id="3", protocol="seksueel_geweld"))
    assert clash.status_code == 422 and "own run_id" in clash.text
    default = await _post(client, auth, body("d-0", {"type": "started"}, conversation_id="c-default"))
    assert default.status_code == 201
    assert seeded.scalar(select(GuidanceSession.run_id).where(GuidanceSession.conversation_id == "c-default")) == "0"


def test_onderbroken_waits_as_long_as_the_assistant_keeps_a_session() -> None:
    """A run counts as left when the assistant's session for it has expired (the next
    message then starts a new one): the API's default must be the same time."""
    import yaml

    from api.config import Settings

    domain = yaml.safe_load((ROOT / "assistant" / "domain" / "base.yml").read_text(encoding="utf-8"))
    assert Settings().session_idle_minutes == domain["session_config"]["session_expiration_time"]


def test_the_detail_state_agrees_with_its_events_when_one_arrives_while_it_is_read(
    seeded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox delivers a run's "stopped" event while a supervisor opens the page:
    the state and the timeline come from two statements, and must not disagree
    ("lopend" above a "stopped" event, seen in an end-to-end run on PostgreSQL)."""
    import uuid

    from api.auth.schemas import User
    from api.sessions import service

    guidance = make_session(seeded, started_at=utcnow() - timedelta(minutes=5), conversation_id="c-racing",
                            events=[{"type": "started"}])
    first_read = service._item

    def an_event_arrives_after_the_state_was_read(row: Any) -> Any:
        item = first_read(row)
        if item.event_count == 1:
            seeded.add(SessionEvent(session_id=guidance.id, seq=2, type="stopped", created_at=utcnow(),
                                    idempotency_key=f"race-{uuid.uuid4().hex}"))
            seeded.flush()
        return item

    monkeypatch.setattr(service, "_item", an_event_arrives_after_the_state_was_read)
    detail = service.get_session_detail(seeded, User(sub="t-sup", role="supervisor", locations=("TERAPEL",)),
                                        str(guidance.id))
    assert detail is not None
    assert [event.type for event in detail.events] == ["started", "stopped"]
    assert (detail.state, detail.event_count) == ("gestopt", 2)
