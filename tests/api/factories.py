"""Direct database factories for the session/review/indicator tests: incidents,
review events and sessions with chosen times (the API always stamps 'now')."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from api.auth.models import UserAccount
from api.directory.models import KeyPositionAssignment
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
    assignment: str = ""  # a key-position holder's assignment id (issue 17)
    account: int = 0  # a counsellor's user account on the location


def scoping_records(db: Session, location: str, staff: str, now: datetime) -> ScopingRecords:
    guidance = make_session(db, started_at=now - timedelta(hours=2), location=location, staff_id=staff)
    incident = make_incident(
        db, created_at=now - timedelta(hours=1), location=location, staff_id=staff,
        conversation_id=guidance.conversation_id,
    )  # fmt: skip
    correction = make_incident(db, created_at=now - timedelta(hours=1), location=location, staff_id=staff)
    add_reviews(db, correction, [("in_behandeling", now), ("correctie_gevraagd", now)])
    follow_up = make_follow_up(db, incident, due_at=now + timedelta(hours=23))
    # A deputy in 2030: overlaps none of the seeded holders, so a change of it is valid.
    assignment = make_assignment(db, location, "lhbti_contactpersoon", f"Matrix Vervanger {location}-Demo",
                                 kind="vervanger", valid_from=date(2030, 1, 1), valid_until=date(2030, 12, 31))
    account = UserAccount(username=f"matrix.{location.lower()}.{uuid.uuid4().hex[:6]}", password_hash="x",
                          role="counsellor", staff_id=f"stf-m-{uuid.uuid4().hex[:8]}", locations=[location])
    db.add(account)
    db.flush()
    return ScopingRecords(str(incident.id), str(correction.id), str(guidance.id), guidance.conversation_id,
                          str(follow_up.id), assignment.assignment_id, account.id)


def make_assignment(db: Session, location: str, position: str, name: str, *, kind: str = "houder",
                    valid_from: date = date(2000, 1, 1), valid_until: date | None = None,
                    recorded_at: datetime | None = None) -> KeyPositionAssignment:
    """Version 1 of a key-position assignment, recorded at ``recorded_at`` (default: long ago)."""
    row = KeyPositionAssignment(
        assignment_id=uuid.uuid4().hex, version=1, location_code=location, position=position, kind=kind,
        name=name, phone="toestel 4999", teams_id=None, email="demo@example.org", valid_from=valid_from,
        valid_until=valid_until, action="aangemaakt", recorded_at=recorded_at or datetime(2000, 1, 1, tzinfo=UTC),
        recorded_by="factory",
    )
    db.add(row)
    db.flush()
    return row
