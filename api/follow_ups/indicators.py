"""Indicators on what was done (issue 15, part 5): confirmed follow-ups per location.

The minimum norms count advice ("the decision refers to Veilig Thuis"): shown as
"geadviseerd". These count confirmations: the share of Veilig Thuis follow-ups marked
done within their deadline, and the open and overdue follow-ups per location; and the
same share per follow-up norm (GZA the same day, CSG within 72 hours, ...). Grouped
queries over follow-ups and their (single, final) status event, scoped like every
aggregate (api/access.aggregate_filter); the rollup tables are not involved.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from api import access
from api.auth.schemas import User
from api.follow_ups.models import FollowUp, FollowUpEvent
from api.incidents.models import Incident


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


def _figures(location: str, row: dict[str, int]) -> FollowUpFigures:
    decided = row["veilig_thuis_decided"]
    share = row["veilig_thuis_in_time"] / decided if decided else None
    return FollowUpFigures(location=location, share_veilig_thuis_in_time=share, **row)


def follow_up_indicators(
    session: Session, user: User, now: datetime, *, location: str | None = None,
    date_from: datetime | None = None, date_to: datetime | None = None,
) -> FollowUpIndicators:
    """Per location (of the incident) for decisions recorded in [date_from, date_to]."""
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
    # One grouped query, by location and norm: a handful of rows, summed both ways below.
    groups = (Incident.location, FollowUp.norm, (FollowUp.organisation == "veilig_thuis").label("veilig_thuis"))
    stmt = (
        select(*groups, *(column.label(name) for name, column in measures.items()))
        .select_from(FollowUp)
        .join(Incident, Incident.id == FollowUp.incident_id)
        # Every status after "open" is final, so a follow-up has at most its event number 1.
        .outerjoin(event, and_(event.follow_up_id == FollowUp.id, event.seq == 1))
        .where(access.aggregate_filter(user, Incident.location))
        .group_by(*groups)
    )
    if location:
        stmt = stmt.where(Incident.location == location.strip().upper())
    if date_from is not None:
        stmt = stmt.where(Incident.created_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Incident.created_at <= date_to)

    by_location: dict[str, dict[str, int]] = {}
    by_norm: dict[str, dict[str, int]] = {}
    for row in session.execute(stmt):
        counts = {name: int(row._mapping[name]) for name in measures}
        place = by_location.setdefault(row.location, dict.fromkeys(_LOCATION_COUNTS, 0))
        for name in _LOCATION_COUNTS:
            place[name] += counts.get(name, 0)
        if row.veilig_thuis:
            place["veilig_thuis"] += counts["total"]
            place["veilig_thuis_decided"] += counts["decided"]
            place["veilig_thuis_in_time"] += counts["in_time"]
        norm = by_norm.setdefault(row.norm, dict.fromkeys(_NORM_COUNTS, 0))
        for name in _NORM_COUNTS:
            norm[name] += counts[name]
    items = [_figures(code, by_location[code]) for code in sorted(by_location)]
    totals = {name: sum(getattr(item, name) for item in items) for name in _LOCATION_COUNTS}
    per_norm = [NormFigures(norm=norm_id, share_in_time=counts["in_time"] / counts["decided"] if counts["decided"]
                            else None, **counts) for norm_id, counts in sorted(by_norm.items())]
    return FollowUpIndicators(items=items, totals=_figures("", totals), per_norm=per_norm)
