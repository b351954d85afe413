"""Handing an incident over, and where an incident is now.

The current counsellor and location are derived from the latest handover row (never
stored on the incident), so the history is the truth and cannot disagree with it.
Open follow-ups need no copy: they are scoped by the incident's current place
(``access.current_filter``), so they move with it the moment the row is written.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Subquery, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from api import access
from api.auth.models import UserAccount
from api.auth.schemas import User
from api.follow_ups.models import FollowUp, FollowUpEvent
from api.handovers.models import IncidentHandover
from api.handovers.schemas import HandoverCreate, HandoverList, HandoverOut
from api.incidents.models import Incident
from api.locations.models import Location
from api.models_base import utcnow
from api.security.deidentify import deidentify

Place = tuple[str, str | None]


def latest_handovers() -> Subquery:
    """Each handed-over incident's latest handover: incident_id, location, staff_id."""
    later = aliased(IncidentHandover)
    newer = exists().where(later.incident_id == IncidentHandover.incident_id, later.seq > IncidentHandover.seq)
    return select(
        IncidentHandover.incident_id,
        IncidentHandover.to_location.label("location"),
        IncidentHandover.to_staff_id.label("staff_id"),
    ).where(~newer).subquery("latest_handover")


def _latest(session: Session, incident_id: uuid.UUID) -> IncidentHandover | None:
    return session.scalar(
        select(IncidentHandover).where(IncidentHandover.incident_id == incident_id)
        .order_by(IncidentHandover.seq.desc()).limit(1)
    )  # fmt: skip


def current_place(session: Session, incident: Incident) -> Place:
    """(location, staff_id) where the incident is now."""
    latest = _latest(session, incident.id)
    return (incident.location, incident.staff_id) if latest is None else (latest.to_location, latest.to_staff_id)


def current_places(session: Session, incident_ids: list[uuid.UUID]) -> dict[uuid.UUID, Place]:
    """The handed-over ones among ``incident_ids`` (one query); the others are where recorded."""
    if not incident_ids:
        return {}
    latest = latest_handovers()
    rows = session.execute(select(latest).where(latest.c.incident_id.in_(incident_ids))).all()
    return {row.incident_id: (row.location, row.staff_id) for row in rows}


def readable(session: Session, user: User, incident: Incident) -> bool:
    return access.can_read_incident(user, (incident.location, incident.staff_id), current_place(session, incident))


def history(session: Session, incident: Incident) -> HandoverList:
    rows = session.scalars(
        select(IncidentHandover).where(IncidentHandover.incident_id == incident.id).order_by(IncidentHandover.seq)
    ).all()
    location, staff_id = (rows[-1].to_location, rows[-1].to_staff_id) if rows else (incident.location,
                                                                                    incident.staff_id)
    return HandoverList(current_location=location, current_staff_id=staff_id,
                        items=[HandoverOut.model_validate(row) for row in rows])  # fmt: skip


class NotFound(Exception):
    pass


class Refused(Exception):
    pass


class Conflict(Exception):
    pass


class Invalid(Exception):
    """Semantic errors, in the shape of FastAPI's 422 ``detail`` items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(error["msg"] for error in errors))
        self.errors = errors


def load(session: Session, incident_id: str) -> Incident | None:
    try:
        return session.get(Incident, uuid.UUID(incident_id))
    except ValueError:
        return None


def _invalid(field: str, message: str, value: Any) -> Invalid:
    return Invalid([{"type": "value_error", "loc": ("body", field), "msg": message, "input": value}])


def counsellors_at(session: Session, location: str) -> list[UserAccount]:
    """Active counsellor accounts of ``location`` (who an incident can be handed to there)."""
    accounts = session.scalars(
        select(UserAccount).where(UserAccount.role == "counsellor", UserAccount.active.is_(True))
        .order_by(UserAccount.username)
    ).all()  # fmt: skip
    return [account for account in accounts if location in (account.locations or [])]


def _target(session: Session, payload: HandoverCreate, here: Place) -> Place:
    location = payload.to_location or here[0]
    if session.get(Location, location) is None:
        known = ", ".join(session.scalars(select(Location.code).order_by(Location.code)))
        raise _invalid("to_location", f"unknown location '{location}'; known: {known}", payload.to_location)
    staff_id = payload.to_staff_id
    if staff_id is not None and staff_id not in {a.staff_id for a in counsellors_at(session, location)}:
        raise _invalid("to_staff_id", f"unknown counsellor '{staff_id}' at location {location}: give the staff "
                                      "id of an active counsellor account of that location", staff_id)  # fmt: skip
    if location == here[0] and staff_id in (None, here[1]):
        raise _invalid(
            "to_location" if payload.to_location else "to_staff_id",
            f"same location: the incident is at {location} already"
            + (f" with counsellor {staff_id}" if staff_id else "") + "; name another counsellor or location",
            payload.to_location or staff_id,
        )
    return location, staff_id


def open_follow_ups(session: Session, incident_id: uuid.UUID) -> int:
    answered = select(FollowUpEvent.id).where(FollowUpEvent.follow_up_id == FollowUp.id).exists()
    return session.scalar(select(func.count()).where(FollowUp.incident_id == incident_id, ~answered)) or 0


def hand_over(session: Session, user: User, incident_id: str, payload: HandoverCreate) -> HandoverOut:
    """Append a handover. NotFound outside the user's read scope (existence is not confirmed),
    Refused for whoever may read but not hand over, Invalid (422) for a target that does not
    exist or changes nothing, Conflict when another handover of the incident won the race."""
    incident = load(session, incident_id)
    if incident is None or not readable(session, user, incident):
        raise NotFound()
    latest = _latest(session, incident.id)
    here: Place = (incident.location, incident.staff_id) if latest is None else (latest.to_location,
                                                                                 latest.to_staff_id)
    if not access.may_hand_over(user, here[0]):
        raise Refused()
    location, staff_id = _target(session, payload, here)
    row = IncidentHandover(
        incident_id=incident.id, seq=(latest.seq if latest else 0) + 1, from_location=here[0], from_staff_id=here[1],
        to_location=location, to_staff_id=staff_id, reason=deidentify(payload.reason) or "", actor=user.sub,
        created_at=utcnow(),
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Conflict() from exc
    session.commit()
    out = HandoverOut.model_validate(row)
    return out.model_copy(update={"open_follow_ups": open_follow_ups(session, incident.id)})
