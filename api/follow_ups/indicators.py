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
from typing import Any

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
    veilig_thuis = FollowUp.organisation == "veilig_thuis"
    columns = {
        "total": func.count(),
        "gedaan": func.count().filter(event.status == "gedaan"),
        "niet_gedaan": func.count().filter(event.status == "niet_gedaan"),
        "vervallen": func.count().filter(event.status == "vervallen"),
        "open": func.count().filter(is_open),
        "overdue": func.count().filter(is_open & (FollowUp.due_at < now)),
        "veilig_thuis": func.count().filter(veilig_thuis),
        "veilig_thuis_decided": func.count().filter(veilig_thuis & (~is_open | (FollowUp.due_at < now))),
        "veilig_thuis_in_time": func.count().filter(
            veilig_thuis & (event.status == "gedaan") & (event.created_at <= FollowUp.due_at)
        ),
    }
    decided = ~is_open | (FollowUp.due_at < now)
    in_time = (event.status == "gedaan") & (event.created_at <= FollowUp.due_at)
    by_norm = {
        "total": func.count(),
        "open": func.count().filter(is_open),
        "overdue": columns["overdue"],
        "decided": func.count().filter(decided),
        "in_time": func.count().filter(in_time),
    }

    def scoped(group: Any, measures: dict[str, Any]) -> Any:
        stmt = (
            select(group, *(column.label(name) for name, column in measures.items()))
            .select_from(FollowUp)
            .join(Incident, Incident.id == FollowUp.incident_id)
            # Every status after "open" is final, so a follow-up has at most its event number 1.
            .outerjoin(event, and_(event.follow_up_id == FollowUp.id, event.seq == 1))
            .where(access.aggregate_filter(user, Incident.location))
            .group_by(group)
            .order_by(group)
        )
        if location:
            stmt = stmt.where(Incident.location == location.strip().upper())
        if date_from is not None:
            stmt = stmt.where(Incident.created_at >= date_from)
        if date_to is not None:
            stmt = stmt.where(Incident.created_at <= date_to)
        return session.execute(stmt)

    items = [_figures(row.location, {name: int(row._mapping[name]) for name in columns})
             for row in scoped(Incident.location, columns)]  # fmt: skip
    totals = {name: sum(getattr(item, name) for item in items) for name in columns}
    per_norm = []
    for row in scoped(FollowUp.norm, by_norm):
        figures = {name: int(row._mapping[name]) for name in by_norm}
        share = figures["in_time"] / figures["decided"] if figures["decided"] else None
        per_norm.append(NormFigures(norm=row.norm, share_in_time=share, **figures))
    return FollowUpIndicators(items=items, totals=_figures("", totals), per_norm=per_norm)
