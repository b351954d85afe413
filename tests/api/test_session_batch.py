"""``POST /api/v1/sessions/events/batch``: several session events in order, in one
transaction, idempotent per event, all or nothing (issue 8: one request per batch
instead of one per event)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from api.sessions import service as sessions_service
from api.sessions.models import GuidanceSession, SessionEvent
from api.sessions.schemas import BATCH_MAX_EVENTS

from .conftest import TokenFactory
from .test_sessions import body

BATCH = "/api/v1/sessions/events/batch"
WALK = [
    {"type": "started", "text": "Eergerelateerd geweld"},
    {"type": "question_asked", "step": "acuut_gevaar", "text": "Is er nu direct gevaar?"},
    {"type": "answer_given", "step": "acuut_gevaar", "answer": "nee"},
    {"type": "answer_given", "step": "vorm_anders", "answer": "Jan de Vries belde op 06-12345678"},
    {"type": "advice_shown", "step": "advies", "text": "Overleg met de aandachtsfunctionaris."},
    {"type": "outcome", "step": "einde", "text": "Melden bij Veilig Thuis.", "outcome": "melding_veilig_thuis"},
]


def walk(conversation: str, prefix: str | None = None) -> list[dict[str, Any]]:
    return [body(f"{prefix or conversation}-{i}", event, conversation_id=conversation) for i, event in enumerate(WALK)]


async def _batch(
    client: httpx.AsyncClient, auth: TokenFactory, events: list[dict[str, Any]], role: str = "service"
) -> httpx.Response:
    return await client.post(BATCH, json={"events": events}, headers=auth(role, "TERAPEL"))


def _count(db: Session, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def _stored(event: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(event[k] for k in ("seq", "type", "step", "text", "answer", "outcome", "incident_reference"))


async def test_a_batch_stores_the_events_in_the_given_order_as_single_posts_would(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    response = await _batch(client, auth, walk("conv-batch"))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["created"] == len(WALK)
    assert [e["seq"] for e in data["events"]] == [1, 2, 3, 4, 5, 6]
    assert [e["type"] for e in data["events"]] == [e["type"] for e in WALK]
    assert len({e["session_id"] for e in data["events"]}) == 1

    singles = []
    for payload in walk("conv-single"):
        answer = await client.post("/api/v1/sessions/events", json=payload, headers=auth("service"))
        assert answer.status_code == 201
        singles.append(answer.json())
    # Same logic per event: numbering, answers as text, free text de-identified alike.
    assert [_stored(e) for e in data["events"]] == [_stored(e) for e in singles]
    assert set(data["events"][0]) == set(singles[0]), "each item has the single endpoint's shape"

    guidance = seeded.scalar(select(GuidanceSession).where(GuidanceSession.conversation_id == "conv-batch"))
    assert guidance is not None and guidance.location == "TERAPEL"
    keys = seeded.scalars(
        select(SessionEvent.idempotency_key).where(SessionEvent.session_id == guidance.id).order_by(SessionEvent.seq)
    ).all()
    assert keys == [f"conv-batch-{i}" for i in range(len(WALK))]


async def test_events_of_several_conversations_keep_each_ones_order(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    a, b = walk("conv-a"), walk("conv-b")
    mixed = [event for pair in zip(a, b, strict=True) for event in pair]
    data = (await _batch(client, auth, mixed)).json()
    assert [e["seq"] for e in data["events"]] == [n for n in range(1, len(WALK) + 1) for _ in (0, 1)]
    assert len({e["session_id"] for e in data["events"]}) == 2


async def test_replaying_a_batch_stores_nothing_twice(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    events = walk("conv-replay")
    first = await _batch(client, auth, events)
    again = await _batch(client, auth, events)
    assert first.status_code == again.status_code == 200
    assert again.json() == {"events": first.json()["events"], "created": 0}
    assert _count(seeded, SessionEvent) == len(WALK)
    assert _count(seeded, GuidanceSession) == 1


async def test_known_keys_in_a_batch_give_the_stored_event_and_only_new_ones_count(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    events = walk("conv-partly")
    single = await client.post("/api/v1/sessions/events", json=events[0], headers=auth("service"))
    assert single.status_code == 201
    # The first one again, a duplicate inside the batch, then the rest.
    data = (await _batch(client, auth, [events[0], events[1], events[1], *events[2:]])).json()
    assert data["created"] == len(WALK) - 1
    assert data["events"][0] == single.json()
    assert data["events"][1] == data["events"][2]
    assert [e["seq"] for e in data["events"]] == [1, 2, 2, 3, 4, 5, 6]
    assert _count(seeded, SessionEvent) == len(WALK)


async def test_the_batch_is_one_transaction(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = []
    commit = seeded.commit
    monkeypatch.setattr(seeded, "commit", lambda: commits.append(1) or commit())
    assert (await _batch(client, auth, walk("conv-one-tx"))).status_code == 200
    assert len(commits) == 1


async def test_a_batch_costs_the_same_statements_whatever_its_length(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    """One read of the known keys, one of the run and its last seq, one flush: event by
    event it was a savepoint and three reads per event (bench/results.md, py-spy). Every
    statement but the rows' INSERTs is counted."""
    statements: list[str] = []
    engine = seeded.get_bind().engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    async def post(events: list[dict[str, Any]]) -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = await _batch(client, auth, events)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, response.text
        assert response.json()["created"] == len(events)
        # The event rows themselves: one INSERT each on SQLite, batched on PostgreSQL.
        return len([s for s in statements if not s.startswith("INSERT INTO session_events")])

    short = await post(walk("conv-cost-short")[:2])
    long = await post([body(f"conv-cost-long-{n}", {"type": "question_asked", "step": f"s{n}"},
                            conversation_id="conv-cost-long") for n in range(40)])
    assert long == short, f"statements besides the rows: {short} for 2 events, {long} for 40"


async def test_a_seq_taken_by_another_writer_meanwhile_still_stores_the_batch_in_order(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = walk("conv-race")
    for payload in events[:3]:
        assert (await client.post("/api/v1/sessions/events", json=payload, headers=auth("service"))).status_code == 201
    # The batch reads the run's last seq before another writer's three events are in:
    # its insert collides on (session_id, seq) and the batch is done event by event.
    max_seq = sessions_service._max_seq
    stale_reads: list[int] = []

    def first_read_stale(db: Session, session_id: Any) -> int:
        if not stale_reads:
            stale_reads.append(0)
            return 0
        return max_seq(db, session_id)

    monkeypatch.setattr(sessions_service, "_max_seq", first_read_stale)
    response = await _batch(client, auth, events)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["created"] == 3
    assert [e["seq"] for e in data["events"]] == [1, 2, 3, 4, 5, 6]
    assert stale_reads == [0], "the stale read was made"
    keys = seeded.scalars(select(SessionEvent.idempotency_key).order_by(SessionEvent.seq)).all()
    assert keys == [f"conv-race-{i}" for i in range(len(WALK))]


async def test_a_refused_event_refuses_the_whole_batch_naming_its_index(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    earlier = await client.post(
        "/api/v1/sessions/events",
        json=body("before-0", {"type": "started"}, conversation_id="conv-before"),
        headers=auth("service"),
    )
    assert earlier.status_code == 201
    good = walk("conv-good")
    bad = body("bad-0", {"type": "started"}, conversation_id="conv-bad", location="NERGENS")
    response = await _batch(client, auth, [*good[:3], bad, *good[3:]])
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "events", 3, "location"]
    assert error["msg"].startswith("event 3: ") and "unknown location code 'NERGENS'" in error["msg"]
    # Nothing of the batch, not even the good events before the bad one; the earlier event stays.
    assert _count(seeded, SessionEvent) == 1
    assert seeded.scalars(select(GuidanceSession.conversation_id)).all() == ["conv-before"]

    # A second protocol in a run of another one: also refused, with the index.
    mismatch = body("mismatch", {"type": "started"}, conversation_id="conv-before", protocol="seksueel_geweld")
    response = await _batch(client, auth, [good[0], mismatch])
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "events", 1, "protocol"]]
    assert _count(seeded, SessionEvent) == 1

    # After the fix the good events go through.
    assert (await _batch(client, auth, good)).json()["created"] == len(WALK)


async def test_a_malformed_event_is_refused_naming_its_index_and_field(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    events = walk("conv-malformed")
    events[2] = {**events[2], "event": {"type": "gezellig"}}
    del events[4]["protocol"]
    response = await _batch(client, auth, events)
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "events", 2, "event", "type"] in locations
    assert ["body", "events", 4, "protocol"] in locations
    assert _count(seeded, SessionEvent) == 0
    response = await client.post(BATCH, json={"events": walk("x"), "extra": 1}, headers=auth("service"))
    assert response.status_code == 422


async def test_size_limit_one_to_a_hundred_events(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    assert BATCH_MAX_EVENTS == 100
    assert (await _batch(client, auth, [])).status_code == 422
    assert (await client.post(BATCH, json={}, headers=auth("service"))).status_code == 422
    many = [
        body(f"many-{n}", {"type": "question_asked", "step": f"s{n}"}, conversation_id="conv-many")
        for n in range(BATCH_MAX_EVENTS + 1)
    ]
    too_many = await _batch(client, auth, many)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["body", "events"]
    assert _count(seeded, SessionEvent) == 0
    full = await _batch(client, auth, many[:BATCH_MAX_EVENTS])
    assert full.status_code == 200 and full.json()["created"] == BATCH_MAX_EVENTS
    assert full.json()["events"][-1]["seq"] == BATCH_MAX_EVENTS


@pytest.mark.parametrize("role", ["counsellor", "contact_person", "supervisor", "admin"])
async def test_only_the_service_role_logs_a_batch(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, role: str
) -> None:
    response = await _batch(client, auth, walk("conv-role"), role=role)
    assert response.status_code == 403
    response = await client.post(BATCH, json={"events": walk("conv-role")})
    assert response.status_code == 401
    assert _count(seeded, SessionEvent) == 0
