"""Creating follow-ups for a recorded decision, listing them per user, and changing
their status (a new event row each time)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import access
from api.auth.schemas import User
from api.follow_ups.models import FollowUp, FollowUpEvent
from api.follow_ups.schemas import OPEN, FollowUpEventCreate, FollowUpEventOut, FollowUpItem, FollowUpList, FollowUpOut
from api.handovers.service import Place, current_place, current_places, latest_handovers
from api.incidents.models import Incident
from api.models_base import as_utc, utcnow
from api.security.deidentify import deidentify
from knowledge import Knowledge
from knowledge.norms import FollowUpNorm, load_follow_up_norms


@lru_cache(maxsize=1)
def follow_up_norms() -> dict[str, FollowUpNorm]:
    return load_follow_up_norms()


def planned(knowledge: Knowledge, protocol_id: str, referrals: list[str], created_at: datetime) -> list[dict[str, Any]]:
    """The follow-ups a decision of ``protocol_id`` with ``referrals`` asks for, with their
    deadlines from the norms. An incident filed under the neutral category gets the general
    path's follow-ups (also a privacy protocol's decision without consent: they name no
    situation)."""
    protocol = knowledge.guide(protocol_id)
    if protocol is None:
        return []
    norms = follow_up_norms()
    return [{"key": item.id, "action": item.action, "organisation": item.organisation, "norm": item.norm,
             "due_at": norms[item.norm].due_at(as_utc(created_at))}
            for item in protocol.follow_ups if item.applies(referrals) and item.norm in norms]  # fmt: skip


def create_for_incident(session: Session, knowledge: Knowledge, incident: Incident) -> None:
    """Add the follow-ups the decision asks for (in the incident's transaction)."""
    items = planned(knowledge, incident.protocol, incident.referrals, incident.created_at)
    if not items:
        return
    session.flush()  # the incident row first: its follow-ups refer to it
    for values in items:
        session.add(FollowUp(id=uuid.uuid4(), incident_id=incident.id, created_at=incident.created_at, **values))


def latest_status() -> ScalarSelect[str]:
    """The latest event's status, correlated to the outer follow-up row (NULL: open)."""
    return (
        select(FollowUpEvent.status)
        .where(FollowUpEvent.follow_up_id == FollowUp.id)
        .order_by(FollowUpEvent.seq.desc())
        .limit(1)
        .correlate(FollowUp)
        .scalar_subquery()
    )


def is_open() -> Any:
    """SQL: the follow-up has no status event yet (every status after ``open`` is final)."""
    return ~select(FollowUpEvent.id).where(FollowUpEvent.follow_up_id == FollowUp.id).correlate(FollowUp).exists()


def items_for(session: Session, incident_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[FollowUpItem]]:
    """The incident contract's ``follow_ups`` for a page of incidents, in one query."""
    if not incident_ids:
        return {}
    rows = session.execute(
        select(FollowUp, latest_status()).where(FollowUp.incident_id.in_(incident_ids))
        .order_by(FollowUp.due_at, FollowUp.key)
    ).all()  # fmt: skip
    found: dict[uuid.UUID, list[FollowUpItem]] = {}
    for follow_up, status in rows:
        found.setdefault(follow_up.incident_id, []).append(FollowUpItem(
            id=follow_up.id, action=follow_up.action, organisation=follow_up.organisation,
            due_at=as_utc(follow_up.due_at), status=status or OPEN,
        ))  # fmt: skip
    return found


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    location: str | None = None
    overdue: bool | None = None


def _scoped(stmt: Select[Any], user: User) -> Select[Any]:
    # Where the incident is now: handed over, its open follow-ups go with it (api/handovers).
    return stmt.join(Incident, Incident.id == FollowUp.incident_id).where(
        access.current_filter(user, Incident, latest_handovers())
    )


def _out(follow_up: FollowUp, incident: Incident, status: str | None, now: datetime, location: str,
         history: list[FollowUpEventOut] | None = None) -> FollowUpOut:
    status = status or OPEN
    due_at = as_utc(follow_up.due_at)
    return FollowUpOut(
        id=follow_up.id, action=follow_up.action, organisation=follow_up.organisation, due_at=due_at,
        status=status, key=follow_up.key, norm=follow_up.norm, incident_id=incident.id,
        reference=incident.reference, location=location,
        overdue=status == OPEN and due_at < now, history=history or [],
    )  # fmt: skip


def list_for(session: Session, user: User, filters: Filters, *, limit: int = 200, offset: int = 0) -> FollowUpList:
    """The follow-ups ``user`` may see (access.current_filter: where the incident is now), soonest deadline first."""
    now = utcnow()
    status = latest_status().label("status")
    base = _scoped(select(FollowUp, Incident, status), user)
    counts = _scoped(select(func.count(), func.count().filter(FollowUp.due_at < now)), user).where(is_open())
    if filters.location is not None:
        code = filters.location.strip().upper()
        base, counts = base.where(Incident.location == code), counts.where(Incident.location == code)
    if filters.status == OPEN:
        base = base.where(is_open())
    elif filters.status is not None:
        base = base.where(latest_status() == filters.status)
    if filters.overdue is not None:
        late = is_open() & (FollowUp.due_at < now)
        base = base.where(late if filters.overdue else ~late)
    total = session.scalar(select(func.count()).select_from(base.order_by(None).subquery())) or 0
    rows = session.execute(base.order_by(FollowUp.due_at, FollowUp.id).limit(limit).offset(offset)).all()
    open_count, overdue_count = session.execute(counts).one()
    moved = current_places(session, list({i.id for _, i, _ in rows}))
    items = [_out(f, i, s, now, moved.get(i.id, (i.location, None))[0]) for f, i, s in rows]
    return FollowUpList(items=items, total=total, open=open_count,
                        overdue=overdue_count)


def counts_for(session: Session, user: User) -> tuple[int, int]:
    """(open, overdue) follow-ups in ``user``'s scope: the header badge."""
    now = utcnow()
    stmt = _scoped(select(func.count(), func.count().filter(FollowUp.due_at < now)), user).where(is_open())
    open_count, overdue_count = session.execute(stmt).one()
    return open_count, overdue_count


def _load(session: Session, follow_up_id: str) -> tuple[FollowUp, Incident] | None:
    try:
        key = uuid.UUID(follow_up_id)
    except ValueError:
        return None
    row = session.execute(
        select(FollowUp, Incident).join(Incident, Incident.id == FollowUp.incident_id).where(FollowUp.id == key)
    ).first()
    return None if row is None else (row[0], row[1])


def _detail(follow_up: FollowUp, incident: Incident, place: Place) -> FollowUpOut:
    history = [FollowUpEventOut.model_validate(event) for event in follow_up.events]
    return _out(follow_up, incident, history[-1].status if history else None, utcnow(), place[0], history)


def get_for(session: Session, user: User, follow_up_id: str) -> FollowUpOut | None:
    loaded = _load(session, follow_up_id)
    if loaded is None:
        return None
    place = current_place(session, loaded[1])
    return _detail(*loaded, place) if access.can_read(user, *place) else None


class NotFound(Exception):
    pass


class Refused(Exception):
    pass


class Conflict(Exception):
    pass


def change_status(session: Session, user: User, follow_up_id: str, payload: FollowUpEventCreate) -> FollowUpOut:
    """Record a status change as a new event. NotFound outside the user's scope (existence
    is not confirmed), Refused for a role that may read but not confirm, Conflict when the
    follow-up is no longer open (someone else was first)."""
    loaded = _load(session, follow_up_id)
    if loaded is None:
        raise NotFound()
    follow_up, incident = loaded
    place = current_place(session, incident)
    if user.role == "service":
        # The chat records the counsellor's answer: only for the incident's counsellor (after a
        # handover: the one it was handed to).
        if payload.staff_id is None or payload.staff_id != place[1]:
            raise NotFound()
        actor = payload.staff_id
    else:
        if not access.can_read(user, *place):
            raise NotFound()
        if not access.may_confirm_follow_up(user, *place):
            raise Refused()
        actor = user.sub
    seq = (session.scalar(select(func.max(FollowUpEvent.seq)).where(FollowUpEvent.follow_up_id == follow_up.id))
           or 0)  # fmt: skip
    if seq:
        raise Conflict()
    event = FollowUpEvent(follow_up_id=follow_up.id, seq=seq + 1, status=payload.status,
                          reason=deidentify(payload.reason), actor=actor, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError as exc:
        raise Conflict() from exc
    session.commit()
    session.refresh(follow_up)
    return _detail(follow_up, incident, place)
