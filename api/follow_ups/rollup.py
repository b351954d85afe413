"""Keeps the follow-up rollup (``FollowUpDay``) equal to the direct query.

Why: the dashboard's follow-up figures joined every follow-up of the period to its
incident and status event; at a million incidents that took 1.1 s for a year (bench/
indicators.py), more than the whole dashboard may take. Why in the write's own
transaction, like the indicator rollup (api/indicators/rollup.py): a confirmation
shows on the dashboard the moment it is saved. Why so simple: a follow-up is written
once, with its incident, and gets at most one status event, which is final; so
every write only adds to one row, an atomic upsert that concurrent writers cannot
lose. What depends on "now" (open and past the deadline) is not stored: the
reader counts the open follow-ups not yet due in ``OpenFollowUp``, kept here too (a
row inserted with the follow-up, deleted with its status event).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, event, func, insert, select
from sqlalchemy.orm import Session, aliased

from api.follow_ups.models import FollowUp, FollowUpDay, FollowUpEvent, OpenFollowUp
from api.incidents.models import Incident
from api.indicators.norms_sql import epoch_day_number
from api.indicators.rollup import add_to_rows
from api.models_base import as_utc

_KEYS = ("day", "location", "norm", "veilig_thuis")
#: What ``rebuild`` rewrites.
TABLES = (FollowUpDay.__tablename__, OpenFollowUp.__tablename__)
_STATUSES = ("gedaan", "niet_gedaan", "vervallen")


def _rows(session: Session, follow_up_ids: set[Any],
          confirmed_ids: set[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One delta row per new follow-up (``total``) and per new status event, and the
    new follow-ups still open, read back from the database in the flush's transaction."""
    connection = session.connection()
    status = aliased(FollowUpEvent)
    stmt = (select(FollowUp.id, FollowUp.norm, FollowUp.organisation, FollowUp.due_at, Incident.location,
                   epoch_day_number(connection.dialect.name, Incident.created_at).label("day"),
                   status.status, status.created_at.label("status_at"))
            .join(Incident, Incident.id == FollowUp.incident_id)
            .outerjoin(status, (status.follow_up_id == FollowUp.id) & (status.seq == 1))
            .where(FollowUp.id.in_(follow_up_ids | confirmed_ids)))  # fmt: skip
    rows, still_open = [], []
    for found in connection.execute(stmt):
        new_status = found.status if found.id in confirmed_ids else None
        in_time = new_status == "gedaan" and as_utc(found.status_at) <= as_utc(found.due_at)
        keys = {"day": int(found.day), "location": found.location, "norm": found.norm,
                "veilig_thuis": found.organisation == "veilig_thuis"}  # fmt: skip
        rows.append({**keys, "total": int(found.id in follow_up_ids),
                     **{name: int(new_status == name) for name in _STATUSES}, "in_time": int(in_time)})  # fmt: skip
        if found.id in follow_up_ids and found.status is None:
            still_open.append({**keys, "follow_up_id": found.id, "due_at": found.due_at})
    return rows, still_open


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    new_follow_ups = {obj.id for obj in session.new if isinstance(obj, FollowUp)}
    # Every status after "open" is final: a follow-up's only event is its number 1.
    confirmed = {obj.follow_up_id or obj.follow_up.id for obj in session.new
                  if isinstance(obj, FollowUpEvent) and obj.seq == 1}  # fmt: skip
    if not (new_follow_ups or confirmed):
        return
    connection = session.connection()
    rows, still_open = _rows(session, new_follow_ups, confirmed)
    add_to_rows(connection, FollowUpDay.__table__, _KEYS, rows)
    if still_open:
        connection.execute(insert(OpenFollowUp.__table__), still_open)
    if confirmed:
        connection.execute(delete(OpenFollowUp.__table__).where(OpenFollowUp.follow_up_id.in_(confirmed)))


def rebuild(session: Session) -> None:
    """Recompute the rollup from the base tables, set-wise, in the caller's transaction
    (after a bulk load that bypassed the ORM, e.g. bench/indicators.py's COPY)."""
    connection = session.connection()
    status = aliased(FollowUpEvent)
    day = epoch_day_number(connection.dialect.name, Incident.created_at)
    veilig_thuis = func.coalesce(FollowUp.organisation == "veilig_thuis", False)
    counts = [func.coalesce(func.sum(case((status.status == name, 1), else_=0)), 0) for name in _STATUSES]
    in_time = func.coalesce(func.sum(case(((status.status == "gedaan") & (status.created_at <= FollowUp.due_at), 1),
                                          else_=0)), 0)  # fmt: skip
    groups = (day, Incident.location, FollowUp.norm, veilig_thuis)
    connection.execute(delete(FollowUpDay.__table__))
    connection.execute(insert(FollowUpDay.__table__).from_select(
        [*_KEYS, "total", *_STATUSES, "in_time"],
        select(*groups, func.count(), *counts, in_time)
        .select_from(FollowUp)
        .join(Incident, Incident.id == FollowUp.incident_id)
        .outerjoin(status, (status.follow_up_id == FollowUp.id) & (status.seq == 1))
        .group_by(*groups),
    ))  # fmt: skip
    connection.execute(delete(OpenFollowUp.__table__))
    connection.execute(insert(OpenFollowUp.__table__).from_select(
        ["follow_up_id", "due_at", *_KEYS],
        select(FollowUp.id, FollowUp.due_at, *groups)
        .select_from(FollowUp)
        .join(Incident, Incident.id == FollowUp.incident_id)
        .outerjoin(status, (status.follow_up_id == FollowUp.id) & (status.seq == 1))
        .where(status.id.is_(None)),
    ))  # fmt: skip
