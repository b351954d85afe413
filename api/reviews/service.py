"""Appending review events: checks the transition table, the actor and the scope."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from api import access
from api.audit.service import record_read
from api.auth.schemas import User
from api.incidents.models import Incident, IncidentReviewEvent
from api.models_base import as_utc, utcnow
from api.reviews.schemas import CorrectionItem, ReviewEventCreate, ReviewEventOut, ReviewHistory
from api.reviews.transitions import INITIAL_STATUS, TRANSITIONS, allowed_from
from api.security.deidentify import deidentify


class ReviewError(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


def _parse_id(incident_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(incident_id)
    except ValueError:
        return None


def current_status(session: Session, incident_id: uuid.UUID) -> str:
    status = session.scalar(
        select(IncidentReviewEvent.status)
        .where(IncidentReviewEvent.incident_id == incident_id)
        .order_by(IncidentReviewEvent.id.desc())
        .limit(1)
    )
    return status or INITIAL_STATUS


def _readable(session: Session, user: User, incident_id: str, *, lock: bool = False) -> Incident:
    key = _parse_id(incident_id)
    stmt = select(Incident).where(Incident.id == key)
    if lock:
        # Serialises concurrent transitions of one incident (a no-op on SQLite,
        # which has one writer anyway).
        stmt = stmt.with_for_update()
    incident = session.scalar(stmt) if key is not None else None
    if incident is None or not access.can_read(user, incident.location, incident.staff_id):
        # 404 outside the user's scope: do not confirm that it exists.
        raise ReviewError(404, "incident not found")
    return incident


def append(session: Session, user: User, incident_id: str, payload: ReviewEventCreate) -> ReviewEventOut:
    incident = _readable(session, user, incident_id, lock=True)
    status = current_status(session, incident.id)
    if payload.status is None:
        if not access.may_note(user, status, incident.location, incident.staff_id):
            raise ReviewError(
                403,
                "only a supervisor of this location who did not record the incident (or the counsellor, "
                "during a correction) may add a note",
            )
        target = status
    else:
        target = payload.status
        actor = TRANSITIONS.get((status, target))
        if actor is None:
            allowed = ", ".join(allowed_from(status)) or "none (final)"
            raise ReviewError(409, f"transition '{status}' → '{target}' is not allowed; from '{status}': {allowed}")
        if not access.may_act(user, actor, incident.location, incident.staff_id):
            reason = access.refusal(user, actor, incident.location, incident.staff_id)
            raise ReviewError(403, f"'{status}' → '{target}': {reason}")
    event = IncidentReviewEvent(
        # Notes are free text: de-identified before storage (issue 6).
        incident_id=incident.id, status=target, actor=user.sub, note=deidentify(payload.note), created_at=utcnow()
    )
    session.add(event)
    session.commit()
    return ReviewEventOut.model_validate(event)


def history(session: Session, user: User, incident_id: str) -> ReviewHistory:
    incident = _readable(session, user, incident_id)
    events = session.scalars(
        select(IncidentReviewEvent)
        .where(IncidentReviewEvent.incident_id == incident.id)
        .order_by(IncidentReviewEvent.id)
    ).all()
    status = events[-1].status if events else INITIAL_STATUS
    record_read(session, user, "review_history", [incident.id])  # audit (issue 6)
    return ReviewHistory(
        incident_id=str(incident.id),
        review_status=status,
        allowed_next=allowed_from(status),
        allowed_for_user=access.allowed_transitions(user, status, incident.location, incident.staff_id),
        items=[ReviewEventOut.model_validate(event) for event in events],
    )


def my_corrections(session: Session, user: User) -> list[CorrectionItem]:
    """The user's own incidents whose latest review status is ``correctie_gevraagd``."""
    latest = aliased(IncidentReviewEvent)
    newer = aliased(IncidentReviewEvent)
    rows: Any = session.execute(
        select(Incident, latest)
        .join(latest, latest.incident_id == Incident.id)
        .where(
            Incident.staff_id == user.sub,
            latest.status == "correctie_gevraagd",
            ~select(newer.id).where(newer.incident_id == Incident.id, newer.id > latest.id).exists(),
        )
        .order_by(latest.created_at.desc())
    ).all()
    return [
        CorrectionItem(
            incident_id=str(incident.id),
            reference=incident.reference,
            location=incident.location,
            protocol=incident.protocol,
            created_at=as_utc(incident.created_at).isoformat(),
            requested_by=event.actor,
            requested_at=as_utc(event.created_at).isoformat(),
            note=event.note,
        )
        for incident, event in rows
    ]
