"""Direct database factories for the session/review/indicator tests: incidents,
review events and sessions with chosen times (the API always stamps 'now')."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from api.follow_ups.models import FollowUp
from api.incidents.models import Incident, IncidentReviewEvent
from api.sessions.models import GuidanceSession, SessionEvent

_numbers = count(1)


def make_incident(db: Session, *, created_at: datetime, **fields: Any) -> Incident:
    number = next(_numbers)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "reference": f"TST-{uuid.uuid4().hex[:12].upper()}",
        "idempotency_key": f"factory-{uuid.uuid4().hex}",
        "conversation_id": f"factory-conv-{number}-{uuid.uuid4().hex[:6]}",
        "location": "TERAPEL",
        "protocol": "eergerelateerd_geweld",
        "protocol_version": "1.0.0",
        "acute": False,
        "referrals": ["veilig_thuis"],
        "steps": [],
        "outcome": "melding_veilig_thuis",
        "staff_id": "stf-own",
        "channel": "rest",
        "created_at": created_at,
    }
    values.update(fields)
    incident = Incident(**values)
    db.add(incident)
    db.flush()
    return incident


def make_follow_up(db: Session, incident: Incident, *, due_at: datetime, **fields: Any) -> FollowUp:
    values: dict[str, Any] = {
        "id": uuid.uuid4(), "incident_id": incident.id, "key": "veilig_thuis_gebeld", "action": "Veilig Thuis gebeld",
        "organisation": "veilig_thuis", "norm": "veilig_thuis_binnen_24_uur", "due_at": due_at,
        "created_at": incident.created_at,
    }  # fmt: skip
    values.update(fields)
    follow_up = FollowUp(**values)
    db.add(follow_up)
    db.flush()
    return follow_up


def add_reviews(db: Session, incident: Incident, events: Iterable[tuple[str, datetime]], actor: str = "sup") -> None:
    for status, at in events:
        db.add(IncidentReviewEvent(incident_id=incident.id, status=status, actor=actor, note=None, created_at=at))
    db.flush()


def make_session(
    db: Session,
    *,
    started_at: datetime,
    events: Iterable[dict[str, Any]] = (),
    **fields: Any,
) -> GuidanceSession:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "conversation_id": f"factory-session-{uuid.uuid4().hex}",
        "staff_id": "stf-own",
        "location": "TERAPEL",
        "channel": "rest",
        "protocol": "eergerelateerd_geweld",
        "protocol_version": "1.0.0",
        "started_at": started_at,
    }
    values.update(fields)
    guidance = GuidanceSession(**values)
    db.add(guidance)
    db.flush()
    for seq, event in enumerate(events, start=1):
        db.add(
            SessionEvent(
                session_id=guidance.id,
                seq=seq,
                idempotency_key=f"factory-event-{uuid.uuid4().hex}",
                created_at=event.pop("created_at", started_at),
                **event,
            )
        )
    db.flush()
    return guidance


@dataclass
class ScopingRecords:
    """One location's records for the scope and authorisation matrices."""

    incident: str  # review status nieuw, linked to the session
    correction: str  # review status correctie_gevraagd
    session: str
    conversation: str
    follow_up: str = ""  # open, of ``incident``


def scoping_records(db: Session, location: str, staff: str, now: datetime) -> ScopingRecords:
    guidance = make_session(db, started_at=now - timedelta(hours=2), location=location, staff_id=staff)
    incident = make_incident(
        db, created_at=now - timedelta(hours=1), location=location, staff_id=staff,
        conversation_id=guidance.conversation_id,
    )  # fmt: skip
    correction = make_incident(db, created_at=now - timedelta(hours=1), location=location, staff_id=staff)
    add_reviews(db, correction, [("in_behandeling", now), ("correctie_gevraagd", now)])
    follow_up = make_follow_up(db, incident, due_at=now + timedelta(hours=23))
    return ScopingRecords(str(incident.id), str(correction.id), str(guidance.id), guidance.conversation_id,
                          str(follow_up.id))
