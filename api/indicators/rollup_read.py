"""Reading the indicator rollup (``api.indicators.models``) for whole UTC days.

``service.indicators`` reads the whole days of a period here and the partial first
and last day (a period from a date-time) with the direct query; both give the same
``Counts`` per (period, location, protocol). Callers pass the scope as a function
of the location column, so "who sees what" stays in one place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import TIMESTAMP, Date, Integer, and_, case, cast, func, literal, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from api.indicators.models import IndicatorDay, IndicatorNormDay, IndicatorRollupState
from api.indicators.norms_sql import _EPOCH_WEEKDAY, dialect_of, working_day_offsets
from knowledge.norms import Norm

Scope = Callable[[Any], list[ColumnElement[bool]]]


@lru_cache(maxsize=8)
def _fingerprint(norms: tuple[Norm, ...]) -> str:
    payload = json.dumps([asdict(norm) for norm in norms], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def norms_fingerprint(norms: dict[str, Norm]) -> str:
    return _fingerprint(tuple(norms.values()))


def is_fresh(session: Session, norms: dict[str, Norm]) -> bool:
    """Was the rollup built with these norms? (Else it is not read: see ``rollup.rebuild``.)"""
    stored = session.scalar(select(IndicatorRollupState.norms_fingerprint).where(IndicatorRollupState.id == 1))
    return stored == norms_fingerprint(norms)


@dataclass
class Counts:
    """The additive indicator figures of one (period, location, protocol)."""

    incidents: int = 0
    sessions: int = 0
    reviewed: int = 0
    review_hours_sum: float = 0.0
    open_corrections: int = 0
    norms: dict[str, list[int]] = field(default_factory=dict)  # norm id → [applies, met, deviations]


def day_bucket(dialect: str, day: Any, granularity: str) -> ColumnElement[Any]:
    """The week/month of an epoch-day number, as ``service.bucket`` gives it for a timestamp."""
    if dialect == "postgresql":
        as_date = literal_column("DATE '1970-01-01'") + day
        return cast(func.date_trunc(granularity, cast(as_date, TIMESTAMP)), Date)
    seconds = day * 86400
    if granularity == "week":
        return func.date(seconds, "unixepoch", "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", seconds, "unixepoch")


def _deadline(day: Any, working_days: int) -> ColumnElement[Any]:
    offsets = working_day_offsets(working_days)
    weekday = (day + _EPOCH_WEEKDAY) % 7
    return day + case(*((weekday == index, offset) for index, offset in enumerate(offsets)), else_=offsets[0])


def _deviations(norms: dict[str, Norm], now_t: float) -> ColumnElement[Any]:
    """late, plus the still-waiting incidents of a review norm whose deadline (the same
    for every incident of one day) "now" has passed: ``norm_expression``'s overdue."""
    nd = IndicatorNormDay
    waiting = nd.applies - nd.met - nd.late
    overdue = [
        (and_(nd.norm_id == norm.id, literal(now_t) >= _deadline(nd.day, norm.working_days)), waiting)
        for norm in norms.values()
        if norm.rule == "review_within_working_days" and norm.working_days is not None
    ]
    return nd.late + (case(*overdue, else_=0) if overdue else literal(0))


def day_statement(session: Session, scope: Scope, first_day: int, end_day: int, granularity: str) -> Any:
    d = IndicatorDay
    period = day_bucket(dialect_of(session), d.day, granularity).label("period")
    return (
        select(period, d.location, d.protocol, func.sum(d.incidents), func.sum(d.sessions), func.sum(d.reviewed),
               func.sum(d.review_hours_sum), func.sum(d.open_corrections))
        .where(d.day >= first_day, d.day < end_day, *scope(d.location))
        .group_by(period, d.location, d.protocol)
    )  # fmt: skip


def norm_statement(
    session: Session, scope: Scope, first_day: int, end_day: int, granularity: str,
    norms: dict[str, Norm], now_t: float,
) -> Any:  # fmt: skip
    nd = IndicatorNormDay
    period = day_bucket(dialect_of(session), nd.day, granularity).label("period")
    return (
        select(period, nd.location, nd.protocol, nd.norm_id, func.sum(nd.applies), func.sum(nd.met),
               func.sum(cast(_deviations(norms, now_t), Integer)))
        .where(nd.day >= first_day, nd.day < end_day, nd.norm_id.in_(list(norms)), *scope(nd.location))
        .group_by(period, nd.location, nd.protocol, nd.norm_id)
    )  # fmt: skip


def day_counts(
    session: Session, scope: Scope, first_day: int, end_day: int, granularity: str,
    norms: dict[str, Norm], now_t: float,
) -> dict[tuple[Any, str, str], Counts]:  # fmt: skip
    """Counts per (period, location, protocol) over the days [first_day, end_day)."""
    result: dict[tuple[Any, str, str], Counts] = {}
    for row in session.execute(day_statement(session, scope, first_day, end_day, granularity)):
        result[(row[0], row[1], row[2])] = Counts(
            incidents=int(row[3]), sessions=int(row[4]), reviewed=int(row[5]),
            review_hours_sum=float(row[6]), open_corrections=int(row[7]),
        )  # fmt: skip
    rows = session.execute(norm_statement(session, scope, first_day, end_day, granularity, norms, now_t))
    for row in rows:
        counts = result.setdefault((row[0], row[1], row[2]), Counts())
        counts.norms[row[3]] = [int(row[4]), int(row[5]), int(row[6])]
    return result
