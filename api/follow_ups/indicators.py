"""Indicators on what was done (issue 15, part 5): confirmed follow-ups per location.

The minimum norms count advice ("the decision refers to Veilig Thuis"): shown as
"geadviseerd". These count confirmations: the share of Veilig Thuis follow-ups marked
done within their deadline, and the open and overdue follow-ups per location; and the
same share per follow-up norm (GZA the same day, CSG within 72 hours, ...). Scoped
like every aggregate (api/access.aggregate_filter). The whole days of a period come
from the rollup (api/follow_ups/rollup.py), the partial first and last day from the
direct query over follow-ups and their (single, final) status event; both give the
same measures per (location, norm, Veilig Thuis or not). What depends on "now" comes
from the open follow-ups not yet due (``OpenFollowUp``, kept with the rollup).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from api import access
from api.auth.schemas import User
from api.follow_ups.models import FollowUp, FollowUpDay, FollowUpEvent, OpenFollowUp
from api.incidents.models import Incident
from api.indicators.norms_sql import epoch_day_start, epoch_days_of


class FollowUpFigures(BaseModel):
    location: str
    total: int
    gedaan: int
    niet_gedaan: int
    vervallen: int
    open: int
    overdue: int = Field(description="open and past the deadline")
    veilig_thuis: int = Field(description="'Veilig Thuis gebeld' follow-ups")
    veilig_thuis_decided: int = Field(description="of these: confirmed, or open past the deadline")
    veilig_thuis_in_time: int = Field(description="of these: marked done before the deadline (24 hours)")
    share_veilig_thuis_in_time: float | None = Field(
        description="veilig_thuis_in_time / veilig_thuis_decided; null when none is decided yet"
    )


class NormFigures(BaseModel):
    """One follow-up norm (``follow_up_norms`` in knowledge/norms.yml) over the whole scope:
    GZA the same day, CSG within 72 hours, not only Veilig Thuis."""

    norm: str
    total: int
    open: int
    overdue: int = Field(description="open and past the deadline")
    decided: int = Field(description="confirmed, or open past the deadline")
    in_time: int = Field(description="marked done before the deadline")
    share_in_time: float | None = Field(description="in_time / decided; null when none is decided yet")


class FollowUpIndicators(BaseModel):
    items: list[FollowUpFigures]
    totals: FollowUpFigures
    per_norm: list[NormFigures] = Field(default_factory=list, description="by norm id")


_LOCATION_COUNTS = ("total", "gedaan", "niet_gedaan", "vervallen", "open", "overdue",
                    "veilig_thuis", "veilig_thuis_decided", "veilig_thuis_in_time")
_NORM_COUNTS = ("total", "open", "overdue", "decided", "in_time")
_MEASURES = ("total", "gedaan", "niet_gedaan", "vervallen", "open", "overdue", "decided", "in_time")


def _figures(location: str, row: dict[str, int]) -> FollowUpFigures:
    decided = row["veilig_thuis_decided"]
    share = row["veilig_thuis_in_time"] / decided if decided else None
    return FollowUpFigures(location=location, share_veilig_thuis_in_time=share, **row)


Group = tuple[str, str, bool]  # location, norm, Veilig Thuis or not


def _direct_counts(session: Session, where: list[ColumnElement[bool]], now: datetime) -> dict[Group, dict[str, int]]:
    """The measures per group straight from the follow-ups, their incidents and status events."""
    event = aliased(FollowUpEvent)
    is_open = event.id.is_(None)
    measures = {
        "total": func.count(),
        "gedaan": func.count().filter(event.status == "gedaan"),
        "niet_gedaan": func.count().filter(event.status == "niet_gedaan"),
        "vervallen": func.count().filter(event.status == "vervallen"),
        "open": func.count().filter(is_open),
        "overdue": func.count().filter(is_open & (FollowUp.due_at < now)),
        "decided": func.count().filter(~is_open | (FollowUp.due_at < now)),
        "in_time": func.count().filter((event.status == "gedaan") & (event.created_at <= FollowUp.due_at)),
    }
    groups = (Incident.location, FollowUp.norm, (FollowUp.organisation == "veilig_thuis").label("veilig_thuis"))
    stmt = (
        select(*groups, *(column.label(name) for name, column in measures.items()))
        .select_from(FollowUp)
        .join(Incident, Incident.id == FollowUp.incident_id)
        # Every status after "open" is final, so a follow-up has at most its event number 1.
        .outerjoin(event, and_(event.follow_up_id == FollowUp.id, event.seq == 1))
        .where(*where)
        .group_by(*groups)
    )
    return {(row.location, row.norm, bool(row.veilig_thuis)): {name: int(row._mapping[name]) for name in measures}
            for row in session.execute(stmt)}  # fmt: skip


def _days(column: Any, first: int | None, end: int | None) -> list[ColumnElement[bool]]:
    """The epoch days [first, end) of ``column`` (None: unbounded)."""
    return ([column >= first] if first is not None else []) + ([column < end] if end is not None else [])


def _pending_counts(session: Session, where: list[ColumnElement[bool]], first: int | None, end: int | None,
                    now: datetime) -> dict[Group, int]:
    """The open follow-ups not yet due of the whole days [first, end): one range of
    the covering index on ``OpenFollowUp.due_at`` (recorded in the last days only)."""
    pending = OpenFollowUp
    stmt = (select(pending.location, pending.norm, pending.veilig_thuis, func.count().label("waiting"))
            .where(*where, *_days(pending.day, first, end), pending.due_at >= now)
            .group_by(pending.location, pending.norm, pending.veilig_thuis))  # fmt: skip
    return {(row.location, row.norm, bool(row.veilig_thuis)): int(row.waiting) for row in session.execute(stmt)}


def _rollup_counts(session: Session, where: list[ColumnElement[bool]], first: int | None,
                   end: int | None) -> dict[Group, dict[str, int]]:
    """The stored measures of the whole days [first, end) (None: unbounded)."""
    day = FollowUpDay
    sums = {name: func.sum(getattr(day, name)) for name in ("total", "gedaan", "niet_gedaan", "vervallen", "in_time")}
    stmt = select(day.location, day.norm, day.veilig_thuis, *(column.label(name) for name, column in sums.items()))
    stmt = stmt.where(*where, *_days(day.day, first, end)).group_by(day.location, day.norm, day.veilig_thuis)
    return {(row.location, row.norm, bool(row.veilig_thuis)): {name: int(row._mapping[name] or 0) for name in sums}
            for row in session.execute(stmt)}  # fmt: skip


def _counts(session: Session, user: User, now: datetime, location: str | None, date_from: datetime | None,
            date_to: datetime | None, from_rollup: bool) -> dict[Group, dict[str, int]]:
    """The whole UTC days of the period from the rollup, a partial first and last day
    directly; figures that depend on "now" from the open follow-ups not yet due."""
    def scope(column: Any) -> list[ColumnElement[bool]]:
        clauses = [access.aggregate_filter(user, column)]
        return [*clauses, column == location.strip().upper()] if location else clauses

    def span(start: datetime | None, before: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
        clauses = scope(Incident.location)
        clauses += [Incident.created_at >= start] if start is not None else []
        clauses += [Incident.created_at < before] if before is not None else []
        return clauses + ([Incident.created_at <= until] if until is not None else [])

    first = math.ceil(epoch_days_of(date_from)) if date_from is not None else None
    end = math.floor(epoch_days_of(date_to)) if date_to is not None else None
    if not from_rollup or (first is not None and end is not None and first >= end):
        return _direct_counts(session, span(date_from, None, date_to), now)
    first_start = epoch_day_start(first) if first is not None else None
    end_start = epoch_day_start(end) if end is not None else None
    totals: dict[Group, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_MEASURES, 0))
    pending = _pending_counts(session, scope(OpenFollowUp.location), first, end, now)
    for group, counts in _rollup_counts(session, scope(FollowUpDay.location), first, end).items():
        waiting = pending.get(group, 0)
        counts["open"] = counts["total"] - counts["gedaan"] - counts["niet_gedaan"] - counts["vervallen"]
        counts.update(overdue=counts["open"] - waiting, decided=counts["total"] - waiting)
        for name in _MEASURES:
            totals[group][name] += counts[name]
    edges = []
    if first_start is not None and date_from is not None and date_from < first_start:
        edges.append(span(date_from, first_start, None))
    if end_start is not None and date_to is not None and end_start <= date_to:
        edges.append(span(end_start, None, date_to))
    for edge in edges:
        for group, counts in _direct_counts(session, edge, now).items():
            for name in _MEASURES:
                totals[group][name] += counts[name]
    return dict(totals)


def follow_up_indicators(
    session: Session, user: User, now: datetime, *, location: str | None = None,
    date_from: datetime | None = None, date_to: datetime | None = None, from_rollup: bool = True,
) -> FollowUpIndicators:
    """Per location (of the incident) for decisions recorded in [date_from, date_to];
    ``from_rollup=False``: all from the direct query (the rollup's equality test)."""
    by_location: dict[str, dict[str, int]] = {}
    by_norm: dict[str, dict[str, int]] = {}
    for (place_code, norm_id, veilig_thuis), counts in _counts(session, user, now, location, date_from, date_to,
                                                              from_rollup).items():  # fmt: skip
        if not counts["total"]:
            continue
        place = by_location.setdefault(place_code, dict.fromkeys(_LOCATION_COUNTS, 0))
        for name in _LOCATION_COUNTS:
            place[name] += counts.get(name, 0)
        if veilig_thuis:
            place["veilig_thuis"] += counts["total"]
            place["veilig_thuis_decided"] += counts["decided"]
            place["veilig_thuis_in_time"] += counts["in_time"]
        norm = by_norm.setdefault(norm_id, dict.fromkeys(_NORM_COUNTS, 0))
        for name in _NORM_COUNTS:
            norm[name] += counts[name]
    items = [_figures(code, by_location[code]) for code in sorted(by_location)]
    totals = {name: sum(getattr(item, name) for item in items) for name in _LOCATION_COUNTS}
    per_norm = [NormFigures(norm=norm_id, share_in_time=counts["in_time"] / counts["decided"] if counts["decided"]
                            else None, **counts) for norm_id, counts in sorted(by_norm.items())]
    return FollowUpIndicators(items=items, totals=_figures("", totals), per_norm=per_norm)
