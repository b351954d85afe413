"""Recording and reading incidents, with role scoping."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import access
from api.audit.service import record_read
from api.auth.schemas import User
from api.follow_ups import service as follow_up_service
from api.handovers.service import latest_handovers
from api.incidents.models import Incident, IncidentReviewEvent
from api.incidents.schemas import INITIAL_REVIEW_STATUS, IncidentCreate, IncidentOut
from api.indicators.norms_ref import get_norms
from api.indicators.norms_sql import incident_deviations
from api.locations.models import Location
from api.models_base import utcnow
from api.security.deidentify import free_text_answer
from knowledge import Knowledge

# No 0/O, 1/I/L: references are read aloud and typed over.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_REFERENCE_ATTEMPTS = 8


class IncidentValidationError(Exception):
    """Semantic errors in a payload, in the shape of FastAPI's 422 ``detail`` items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(error["msg"] for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class IncidentFilters:
    conversation_id: str | None = None
    location: str | None = None
    protocol: str | None = None
    #: Any of these protocols (a session's own and those filed with it).
    protocols: tuple[str, ...] | None = None


def new_reference(prefix: str, when: Any = None) -> str:
    """``<prefix>-<yyyymmdd>-<4 characters>``; the prefix is the protocol file's ``reference_prefix``."""
    day = (when or utcnow()).strftime("%Y%m%d")
    suffix = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(4))
    return f"{prefix}-{day}-{suffix}"


def validate_payload(session: Session, knowledge: Knowledge, payload: IncidentCreate) -> None:
    errors: list[dict[str, Any]] = []

    def error(kind: str, loc: tuple[str | int, ...], msg: str, value: Any) -> None:
        errors.append({"type": kind, "loc": ("body", *loc), "msg": msg, "input": value})

    # A neutral record category is filed like a protocol (privacy, record_categories.yml).
    if not knowledge.is_record_id(payload.protocol):
        known = ", ".join(sorted([*knowledge.protocols, *knowledge.categories]))
        error(
            "unknown_protocol",
            ("protocol",),
            f"unknown protocol id '{payload.protocol}'; known: {known}",
            payload.protocol,
        )
    for index, referral in enumerate(payload.referrals):
        if referral not in knowledge.organisations:
            error(
                "unknown_organisation",
                ("referrals", index),
                f"unknown organisation id '{referral}' in referrals",
                referral,
            )
    if session.get(Location, payload.location) is None:
        known = ", ".join(session.scalars(select(Location.code).order_by(Location.code)))
        error(
            "unknown_location",
            ("location",),
            f"unknown location code '{payload.location}'; known: {known or 'none (run python -m api.seed)'}",
            payload.location,
        )
    if errors:
        raise IncidentValidationError(errors)


def _latest_status() -> ScalarSelect[str]:
    """The latest review event's status, correlated to the outer incident row."""
    return (
        select(IncidentReviewEvent.status)
        .where(IncidentReviewEvent.incident_id == Incident.id)
        .order_by(IncidentReviewEvent.id.desc())
        .limit(1)
        .correlate(Incident)
        .scalar_subquery()
    )


def _to_out(incident: Incident, status: str | None) -> IncidentOut:
    out = IncidentOut.model_validate(incident)
    return out.model_copy(update={"review_status": status or INITIAL_REVIEW_STATUS})


def _with_deviations(session: Session, items: list[IncidentOut]) -> list[IncidentOut]:
    """Add the norm deviations (computed in SQL, one query for the whole page)."""
    found = incident_deviations(session, [item.id for item in items], get_norms(), utcnow())
    # And the follow-ups with their latest status (issue 15), one query too.
    follow_ups = follow_up_service.items_for(session, [item.id for item in items])
    return [
        item.model_copy(update={"deviations": found.get(item.id, []), "follow_ups": follow_ups.get(item.id, [])})
        for item in items
    ]


def _by_key(session: Session, key: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.idempotency_key == key))


def create_incident(
    session: Session, knowledge: Knowledge, payload: IncidentCreate
) -> tuple[IncidentOut, bool]:
    """Record an incident; returns (incident, created). A known idempotency key
    returns the incident recorded the first time, unchanged."""
    existing = _by_key(session, payload.idempotency_key)
    if existing is not None:
        return get_status_out(session, existing), False
    validate_payload(session, knowledge, payload)

    data = payload.model_dump(mode="json")
    # Free-text answers are de-identified before storage (issue 6).
    for step in data.get("steps") or []:
        step["answer"] = free_text_answer(knowledge, payload.protocol, step.get("step"), step.get("answer"))
    created_at = utcnow()
    for _attempt in range(_REFERENCE_ATTEMPTS):
        incident = Incident(
            id=uuid.uuid4(),
            reference=new_reference(knowledge.reference_prefix(payload.protocol), created_at),
            created_at=created_at,
            **data,
        )
        try:
            # A savepoint, so that losing a race leaves the session usable.
            with session.begin_nested():
                session.add(incident)
                follow_up_service.create_for_incident(session, knowledge, incident)
        except IntegrityError:
            # Either a concurrent request with the same key won, or (rarely) the
            # random reference collided: tell the two apart and act accordingly.
            existing = _by_key(session, payload.idempotency_key)
            if existing is not None:
                session.commit()
                return get_status_out(session, existing), False
            continue
        session.commit()
        return _with_deviations(session, [_to_out(incident, None)])[0], True
    raise RuntimeError("could not generate a unique incident reference")


def get_status_out(session: Session, incident: Incident) -> IncidentOut:
    status = session.scalar(
        select(IncidentReviewEvent.status)
        .where(IncidentReviewEvent.incident_id == incident.id)
        .order_by(IncidentReviewEvent.id.desc())
        .limit(1)
    )
    return _with_deviations(session, [_to_out(incident, status)])[0]


def _scoped(stmt: Select[Any], user: User) -> Select[Any]:
    # Where it was recorded or where it was handed to (api/handovers).
    return stmt.where(access.incident_filter(user, Incident, latest_handovers()))


def list_incidents(
    session: Session, user: User, filters: IncidentFilters, *, limit: int, offset: int
) -> tuple[list[IncidentOut], int]:
    stmt: Select[Any] = select(Incident, _latest_status().label("review_status"))
    stmt = _scoped(stmt, user)
    if filters.conversation_id is not None:
        stmt = stmt.where(Incident.conversation_id == filters.conversation_id)
    if filters.location is not None:
        stmt = stmt.where(Incident.location == filters.location.strip().upper())
    if filters.protocol is not None:
        stmt = stmt.where(Incident.protocol == filters.protocol)
    if filters.protocols is not None:
        stmt = stmt.where(Incident.protocol.in_(filters.protocols))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.execute(
        stmt.order_by(Incident.created_at.desc(), Incident.id).limit(limit).offset(offset)
    ).all()
    items = _with_deviations(session, [_to_out(incident, status) for incident, status in rows])
    record_read(session, user, "incident_list", [item.id for item in items])  # audit (issue 6)
    return items, total


def get_incident(session: Session, user: User, incident_id: str) -> IncidentOut | None:
    try:
        key = uuid.UUID(incident_id)
    except ValueError:
        return None
    stmt = _scoped(select(Incident, _latest_status().label("review_status")).where(Incident.id == key), user)
    row = session.execute(stmt).first()
    if row is None:
        return None
    record_read(session, user, "incident", [key])  # audit (issue 6)
    return _with_deviations(session, [_to_out(row[0], row[1])])[0]
