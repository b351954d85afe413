"""Indicators per location and period, computed by the database.

Three aggregate queries, each GROUP BY (period, location[, protocol]); Python only
reshapes the few aggregated rows, it never walks incidents:

1. incidents: count per protocol, per norm SUM(applies/met/deviation) (the norm
   expressions of ``norms_sql``), reviewed count, average hours to review, open
   corrections. Review facts come from ONE grouped pass over
   ``incident_review_events`` (first time each status was reached; the latest
   status is compared through MAX(id) per status, so no second join is needed).
2. sessions: count per protocol.
3. median hours to review: ``percentile_cont(0.5)`` on PostgreSQL; on SQLite (no
   percentile function) the middle row(s) by ROW_NUMBER()/COUNT() windows.

Period buckets: ``date_trunc('week'|'month', … AT TIME ZONE 'UTC')`` on PostgreSQL;
``date(…, 'weekday 0', '-6 days')`` (ISO week's Monday) / ``strftime('%Y-%m-01', …)``
on SQLite. Both yield the bucket's first day as YYYY-MM-DD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Date, Float, and_, case, cast, exists, func, null, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from api import access
from api.auth.schemas import User
from api.incidents.models import Incident, IncidentReviewEvent
from api.indicators import rollup_read
from api.indicators.norms_sql import (
    Facts,
    dialect_of,
    epoch_day_number,
    epoch_day_start,
    epoch_days,
    epoch_days_of,
    norm_expression,
    statuses_needed,
)
from api.indicators.rollup_read import Counts
from api.indicators.schemas import (
    CountBlock,
    IndicatorRow,
    Indicators,
    NormCounts,
    NormInfo,
    ReviewBlock,
)
from api.sessions.models import GuidanceSession
from knowledge.norms import Norm

Granularity = Literal["week", "month"]
OPEN_CORRECTION = "correctie_gevraagd"
REVIEWED = "afgehandeld"


@dataclass(frozen=True)
class Query:
    date_from: datetime
    date_to: datetime  # exclusive
    granularity: Granularity
    location: str | None
    now: datetime


def bucket(dialect: str, column: Any, granularity: Granularity | None) -> ColumnElement[Any]:
    if granularity is None:
        return null()
    if dialect == "postgresql":
        return cast(func.date_trunc(granularity, func.timezone("UTC", column)), Date)
    if granularity == "week":
        return func.date(column, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", column)


def _scope(user: User, column: Any, location: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [access.aggregate_filter(user, column)]
    if location:
        conditions.append(column == location.strip().upper())
    return conditions


def _review_facts(dialect: str, statuses: tuple[str, ...], since: datetime, incidents: Any) -> Any:
    """One row per reviewed incident: first time each needed status was reached,
    and MAX(id) with/without status ``correctie_gevraagd`` (latest status test).

    Only events from ``since`` on: a review event is always later than its
    incident, so events before the period cannot belong to its incidents."""
    event = IncidentReviewEvent
    columns = [
        epoch_days(dialect, func.min(case((event.status == status, event.created_at)))).label(f"reached_{status}")
        for status in sorted({*statuses, REVIEWED})
    ]
    return (
        select(
            event.incident_id.label("incident_id"),
            *columns,
            func.max(case((event.status == OPEN_CORRECTION, event.id))).label("last_correction_id"),
            func.max(case((event.status != OPEN_CORRECTION, event.id))).label("last_other_id"),
        )
        .where(event.created_at >= since, event.incident_id.in_(incidents))
        .group_by(event.incident_id)
        .subquery("review_facts")
    )


def _incident_base(
    session: Session,
    user: User,
    query: Query,
    norms: dict[str, Norm],
    *,
    with_sessions: bool = True,
    incident_id: Any = None,
) -> tuple[Any, Any, Any]:
    """``incident_id``: only that incident (the rollup's per-incident refresh)."""
    dialect = dialect_of(session)
    conditions = [
        Incident.created_at >= query.date_from,
        Incident.created_at < query.date_to,
        *_scope(user, Incident.location, query.location),
    ]
    if incident_id is not None:
        conditions.append(Incident.id == incident_id)
    # Aggregate only the review events of the incidents in scope and period.
    in_scope = select(Incident.id).where(*conditions)
    rev = _review_facts(dialect, statuses_needed(norms), query.date_from, in_scope)
    gs = GuidanceSession
    facts = Facts(
        protocol=Incident.protocol,
        acute=Incident.acute,
        referrals=Incident.referrals,
        created_t=epoch_days(dialect, Incident.created_at),
        created_day=epoch_day_number(dialect, Incident.created_at),
        session_start_t=epoch_days(dialect, gs.started_at),
        status_reached_t={status: rev.c[f"reached_{status}"] for status in statuses_needed(norms)},
    )
    joined = select(Incident)
    if with_sessions:
        # The conversation's first run of the incident's protocol: a conversation may
        # run several protocols (one session each); at most one row per incident.
        earlier = aliased(GuidanceSession)
        first_run = ~exists().where(
            earlier.conversation_id == gs.conversation_id,
            earlier.protocol == gs.protocol,
            or_(earlier.started_at < gs.started_at, and_(earlier.started_at == gs.started_at, earlier.id < gs.id)),
        )
        joined = joined.outerjoin(
            gs,
            and_(gs.conversation_id == Incident.conversation_id, gs.protocol == Incident.protocol, first_run),
        )
    joined = joined.outerjoin(rev, rev.c.incident_id == Incident.id).where(and_(*conditions))
    return joined, facts, rev


def open_correction_flag(rev: Any) -> ColumnElement[Any]:
    """1 when the incident's latest review status is ``correctie_gevraagd``."""
    return case(
        (
            and_(
                rev.c.last_correction_id.is_not(None),
                or_(rev.c.last_other_id.is_(None), rev.c.last_correction_id > rev.c.last_other_id),
            ),
            1,
        ),
        else_=0,
    )


def incident_statement(session: Session, user: User, query: Query, norms: dict[str, Norm]) -> Any:
    """The main aggregate (also EXPLAINed by bench/indicators.py)."""
    dialect = dialect_of(session)
    joined, facts, rev = _incident_base(session, user, query, norms)
    now_t = epoch_days_of(query.now)
    flags = [norm_expression(norm, facts, now_t) for norm in norms.values()]
    period = bucket(dialect, Incident.created_at, query.granularity).label("period")
    review_hours = (rev.c[f"reached_{REVIEWED}"] - facts.created_t) * 24
    open_correction = open_correction_flag(rev)
    norm_columns = []
    for index, flag in enumerate(flags):
        norm_columns += [
            func.sum(flag.applies).label(f"n{index}_applies"),
            func.sum(flag.met).label(f"n{index}_met"),
            func.sum(flag.deviation).label(f"n{index}_deviation"),
        ]
    stmt = joined.with_only_columns(
        period,
        Incident.location,
        Incident.protocol,
        func.count().label("incidents"),
        *norm_columns,
        func.count(rev.c[f"reached_{REVIEWED}"]).label("reviewed"),
        func.sum(review_hours).label("review_hours_sum"),
        func.sum(open_correction).label("open_corrections"),
    ).group_by(period, Incident.location, Incident.protocol)
    return stmt


def _incident_rows(session: Session, user: User, query: Query, norms: dict[str, Norm]) -> list[Any]:
    return list(session.execute(incident_statement(session, user, query, norms)).all())


def _session_rows(session: Session, user: User, query: Query) -> list[Any]:
    gs = GuidanceSession
    period = bucket(dialect_of(session), gs.started_at, query.granularity).label("period")
    stmt = (
        select(period, gs.location, gs.protocol, func.count().label("sessions"))
        .where(gs.started_at >= query.date_from, gs.started_at < query.date_to,
               *_scope(user, gs.location, query.location))
        .group_by(period, gs.location, gs.protocol)
    )  # fmt: skip
    return list(session.execute(stmt).all())


def _median_rows(
    session: Session, user: User, query: Query, norms: dict[str, Norm], granularity: Granularity | None
) -> dict[tuple[Any, str], float]:
    dialect = dialect_of(session)
    joined, facts, rev = _incident_base(session, user, query, norms, with_sessions=False)
    period = bucket(dialect, Incident.created_at, granularity).label("period")
    hours = cast((rev.c[f"reached_{REVIEWED}"] - facts.created_t) * 24, Float).label("hours")
    reviewed = joined.where(rev.c[f"reached_{REVIEWED}"].is_not(None))
    # PostgreSQL refuses GROUP BY NULL: without buckets group by location only.
    groups = (Incident.location,) if granularity is None else (period, Incident.location)
    if dialect == "postgresql":
        stmt = reviewed.with_only_columns(
            period, Incident.location, func.percentile_cont(0.5).within_group(hours).label("median")
        ).group_by(*groups)
        return {(row.period, row.location): row.median for row in session.execute(stmt)}
    ranked = reviewed.with_only_columns(
        period,
        Incident.location.label("location"),
        hours,
        func.row_number().over(partition_by=groups, order_by=hours).label("rn"),
        func.count().over(partition_by=groups).label("cnt"),
    ).subquery("ranked")
    middle = (
        select(ranked.c.period, ranked.c.location, func.avg(ranked.c.hours).label("median"))
        .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
        .group_by(ranked.c.location, *(() if granularity is None else (ranked.c.period,)))
    )
    return {(row.period, row.location): row.median for row in session.execute(middle)}


def _key(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _norm_counts(norm: Norm, applies: int, met: int, deviation: int) -> NormCounts:
    return NormCounts(
        applicable=applies,
        met=met,
        deviations=deviation,
        pending=applies - met - deviation,
        share_met=round(met / (met + deviation), 4) if met + deviation else None,
    )


class _Acc:
    def __init__(self, norm_ids: list[str]) -> None:
        self.sessions: dict[str, int] = {}
        self.incidents: dict[str, int] = {}
        self.norms = {norm_id: [0, 0, 0] for norm_id in norm_ids}
        self.reviewed = 0
        self.review_hours = 0.0
        self.open_corrections = 0

    def add(self, protocol: str, counts: Counts) -> None:
        if counts.incidents:
            self.incidents[protocol] = self.incidents.get(protocol, 0) + counts.incidents
        if counts.sessions:
            self.sessions[protocol] = self.sessions.get(protocol, 0) + counts.sessions
        for norm_id, values in counts.norms.items():
            if norm_id in self.norms:
                self.norms[norm_id] = [a + b for a, b in zip(self.norms[norm_id], values, strict=True)]
        self.reviewed += counts.reviewed
        self.review_hours += counts.review_hours_sum
        self.open_corrections += counts.open_corrections

    def row(self, norms: dict[str, Norm], period: str | None, location: str, median: float | None) -> IndicatorRow:
        return IndicatorRow(
            period=period,
            location=location,
            sessions=CountBlock(total=sum(self.sessions.values()), per_protocol=dict(sorted(self.sessions.items()))),
            incidents=CountBlock(total=sum(self.incidents.values()), per_protocol=dict(sorted(self.incidents.items()))),
            norms={norm_id: _norm_counts(norms[norm_id], *counts) for norm_id, counts in self.norms.items()},
            review=ReviewBlock(
                reviewed=self.reviewed,
                median_hours=None if median is None else round(float(median), 2),
                avg_hours=round(self.review_hours / self.reviewed, 2) if self.reviewed else None,
            ),
            open_corrections=self.open_corrections,
        )


def _direct_counts(
    session: Session, user: User, query: Query, norms: dict[str, Norm]
) -> dict[tuple[Any, str, str], Counts]:
    """Counts per (period, location, protocol) straight from incidents, events and sessions."""
    result: dict[tuple[Any, str, str], Counts] = {}
    for row in _incident_rows(session, user, query, norms):
        mapping = row._mapping
        result[(_key(row.period), row.location, row.protocol)] = Counts(
            incidents=row.incidents,
            reviewed=int(row.reviewed or 0),
            review_hours_sum=float(row.review_hours_sum or 0.0),
            open_corrections=int(row.open_corrections or 0),
            norms={
                norm_id: [int(mapping[f"n{index}_{suffix}"] or 0) for suffix in ("applies", "met", "deviation")]
                for index, norm_id in enumerate(norms)
            },
        )
    for row in _session_rows(session, user, query):
        result.setdefault((_key(row.period), row.location, row.protocol), Counts()).sessions += row.sessions
    return result


def _whole_days(query: Query) -> tuple[int, int] | None:
    """The first and the end (exclusive) UTC day of the period's whole days, if any."""
    first = math.ceil(epoch_days_of(query.date_from))
    end = math.floor(epoch_days_of(query.date_to))
    return (first, end) if first < end else None


def _counts(
    session: Session, user: User, query: Query, norms: dict[str, Norm], *, from_rollup: bool
) -> list[tuple[tuple[Any, str, str], Counts]]:
    """The whole days from the rollup, a partial first and last day directly."""
    days = _whole_days(query) if from_rollup else None
    if days is None:
        return list(_direct_counts(session, user, query, norms).items())
    first, end = days
    parts = list(
        rollup_read.day_counts(
            session, lambda column: _scope(user, column, query.location), first, end, query.granularity, norms,
            epoch_days_of(query.now),
        ).items()
    )  # fmt: skip
    for start, stop in ((query.date_from, epoch_day_start(first)), (epoch_day_start(end), query.date_to)):
        if start < stop:
            edge = replace(query, date_from=start, date_to=stop)
            parts += _direct_counts(session, user, edge, norms).items()
    return parts


#: Transaction-local planner settings for the aggregates on PostgreSQL: enough
#: memory to sort/hash a year of incidents without spilling to disk, and no
#: parallel workers (each worker would rebuild the review-facts hash on its own;
#: measured by bench/indicators.py).
PG_SETTINGS = {"work_mem": "128MB", "max_parallel_workers_per_gather": "0"}


def indicators(session: Session, user: User, query: Query, norms: dict[str, Norm]) -> Indicators:
    if dialect_of(session) == "postgresql":
        for name, value in PG_SETTINGS.items():
            session.execute(select(func.set_config(name, value, True)))
    # The rollup is only read when it was built with these norms (else: direct query).
    fresh = rollup_read.is_fresh(session, norms)
    norm_ids = list(norms)
    per_period: dict[tuple[str | None, str], _Acc] = {}
    per_location: dict[str, _Acc] = {}
    for (period, location, protocol), counts in _counts(session, user, query, norms, from_rollup=fresh):
        per_period.setdefault((_key(period), location), _Acc(norm_ids)).add(protocol, counts)
        per_location.setdefault(location, _Acc(norm_ids)).add(protocol, counts)

    if fresh:
        dialect = dialect_of(session)
        medians, totals_median = rollup_read.medians(
            session, lambda column: _scope(user, column, query.location), query.date_from, query.date_to,
            _whole_days(query), query.granularity, lambda column: bucket(dialect, column, query.granularity),
        )  # fmt: skip
    else:
        medians = {
            (_key(p), loc): m for (p, loc), m in _median_rows(session, user, query, norms, query.granularity).items()
        }
        totals_median = {loc: m for (_p, loc), m in _median_rows(session, user, query, norms, None).items()}
    return Indicators(
        date_from=query.date_from,
        date_to=query.date_to,
        granularity=query.granularity,
        norms=[NormInfo(id=norm.id, title=norm.title, description=norm.description) for norm in norms.values()],
        rows=[
            per_period[key].row(norms, key[0], key[1], medians.get(key))
            for key in sorted(per_period, key=lambda k: (k[0] or "", k[1]))
        ],
        totals=[per_location[loc].row(norms, None, loc, totals_median.get(loc)) for loc in sorted(per_location)],
    )


def default_period(granularity: Granularity, now: datetime) -> tuple[datetime, datetime]:
    span = timedelta(weeks=12) if granularity == "week" else timedelta(days=365)
    return now - span, now
