"""Reading the indicator rollup (``api.indicators.models``) for whole UTC days.

``service.indicators`` reads the whole days of a period here and the partial first
and last day (a period from a date-time) with the direct query; both give the same
``Counts`` per (period, location, protocol). Callers pass the scope as a function
of the location column, so "who sees what" stays in one place.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, Integer, String, and_, bindparam, case, cast, func, literal, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from api.indicators.models import (
    IndicatorDay,
    IndicatorNormDay,
    IndicatorReviewHistogram,
    IndicatorReviewTime,
    IndicatorRollupState,
)
from api.indicators.norms_sql import _EPOCH_WEEKDAY, dialect_of, working_day_offsets
from knowledge.norms import Norm

Scope = Callable[[Any], list[ColumnElement[bool]]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: SQLite allows 500 terms in one UNION ALL.
_PROBES_PER_QUERY = 200


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


class Periods:
    """The weeks/months that cover the days [first_day, end_day), as epoch days.

    Why not ``date_trunc`` per row: the rollup's rows are grouped by a period index
    computed by a binary tree of integer comparisons, several times cheaper than
    turning every row's day into a timestamp and truncating it (measured on the
    year of bench/indicators.py's histogram: ~64,000 rows)."""

    def __init__(self, first_day: int, end_day: int, granularity: str) -> None:
        day = _EPOCH.date() + timedelta(days=first_day)
        start = day - timedelta(days=day.weekday()) if granularity == "week" else day.replace(day=1)
        self.starts: list[int] = []
        self.keys: list[str] = []
        while (start - _EPOCH.date()).days < end_day:
            self.starts.append((start - _EPOCH.date()).days)
            self.keys.append(start.isoformat())
            start = start + timedelta(days=7) if granularity == "week" else (start + timedelta(days=32)).replace(day=1)

    def index(self, day: Any, low: int = 0, high: int | None = None) -> ColumnElement[Any]:
        """SQL: the index of the period holding ``day`` (one of the covered days)."""
        high = len(self.starts) - 1 if high is None else high
        if low == high:
            return literal(low)
        middle = (low + high + 1) // 2
        return case((day < self.starts[middle], self.index(day, low, middle - 1)), else_=self.index(day, middle, high))


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


def day_statement(session: Session, scope: Scope, first_day: int, end_day: int, periods: Periods) -> Any:
    d = IndicatorDay
    period = periods.index(d.day).label("period")
    return (
        select(period, d.location, d.protocol, func.sum(d.incidents), func.sum(d.sessions), func.sum(d.reviewed),
               func.sum(d.review_hours_sum), func.sum(d.open_corrections))
        .where(d.day >= first_day, d.day < end_day, *scope(d.location))
        .group_by(period, d.location, d.protocol)
    )  # fmt: skip


def norm_statement(
    session: Session, scope: Scope, first_day: int, end_day: int, periods: Periods,
    norms: dict[str, Norm], now_t: float,
) -> Any:  # fmt: skip
    nd = IndicatorNormDay
    period = periods.index(nd.day).label("period")
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
    periods = Periods(first_day, end_day, granularity)
    result: dict[tuple[Any, str, str], Counts] = {}
    for row in session.execute(day_statement(session, scope, first_day, end_day, periods)):
        result[(periods.keys[row[0]], row[1], row[2])] = Counts(
            incidents=int(row[3]), sessions=int(row[4]), reviewed=int(row[5]),
            review_hours_sum=float(row[6]), open_corrections=int(row[7]),
        )  # fmt: skip
    rows = session.execute(norm_statement(session, scope, first_day, end_day, periods, norms, now_t))
    for row in rows:
        counts = result.setdefault((periods.keys[row[0]], row[1], row[2]), Counts())
        counts.norms[row[3]] = [int(row[4]), int(row[5]), int(row[6])]
    return result


def _period_key(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _period_range(key: str, granularity: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(key).replace(tzinfo=UTC)
    if granularity == "week":
        return start, start + timedelta(days=7)
    return start, (start + timedelta(days=32)).replace(day=1)


def _middle_ranks(count: int) -> tuple[int, int]:
    """0-based ranks whose values make the median (percentile_cont(0.5); the SQLite
    path's middle row(s) are the same two)."""
    position = 0.5 * (count - 1)
    return math.floor(position), math.ceil(position)


def _locate(histogram: dict[int, int], rank: int) -> tuple[int, int]:
    """(bucket, offset within it) of the value at ``rank``."""
    seen = 0
    for bucket in sorted(histogram):
        if rank < seen + histogram[bucket]:
            return bucket, rank - seen
        seen += histogram[bucket]
    raise ValueError("rank beyond the histogram")


#: PostgreSQL: all probes in one statement of fixed text, the probes as arrays. Why not
#: the UNION ALL: planning ~100 subqueries took ~35 ms of an admin's year (issue 16);
#: this plans once and runs the same ORDER BY hours OFFSET per probe (LATERAL).
_PG_PROBES = text(
    "SELECT p.n - 1 AS probe, t.hours "
    "FROM unnest(CAST(:locations AS text[]), CAST(:buckets AS integer[]), CAST(:starts AS timestamptz[]), "
    "CAST(:stops AS timestamptz[]), CAST(:offsets AS integer[])) "
    "WITH ORDINALITY AS p(location, bucket, start_at, stop_at, skip, n) "
    "CROSS JOIN LATERAL (SELECT r.hours FROM indicator_review_times AS r WHERE r.location = p.location "
    "AND r.bucket = p.bucket AND r.created_at >= p.start_at AND r.created_at < p.stop_at "
    "ORDER BY r.hours LIMIT 1 OFFSET p.skip) AS t"
)


def _probe_pg(session: Session, probes: list[tuple[str, int, datetime, datetime, int]]) -> dict[int, float]:
    if not probes:
        return {}
    columns = [list(column) for column in zip(*probes, strict=True)]
    params = dict(zip(("locations", "buckets", "starts", "stops", "offsets"), columns, strict=True))
    return {int(row[0]): float(row[1]) for row in session.execute(_PG_PROBES, params)}


def _probe(session: Session, probes: list[tuple[str, int, datetime, datetime, int]], first: int) -> dict[int, float]:
    """The value at each probe's offset in its bucket, location and range: one UNION
    ALL written as text, because building ~130 SQLAlchemy selects per request cost
    more Python time than the database needs to answer them."""
    parts, params = [], []
    for number, (location, bucket, start, stop, offset) in enumerate(probes):
        parts.append(
            f"SELECT {first + number} AS probe, hours FROM (SELECT hours FROM indicator_review_times "
            f"WHERE location = :l{number} AND bucket = {int(bucket)} AND created_at >= :s{number} "
            f"AND created_at < :e{number} ORDER BY hours LIMIT 1 OFFSET {int(offset)}) AS p{number}"
        )
        params += [
            bindparam(f"l{number}", location, type_=String),
            bindparam(f"s{number}", start, type_=DateTime(timezone=True)),
            bindparam(f"e{number}", stop, type_=DateTime(timezone=True)),
        ]
    statement = text(" UNION ALL ".join(parts)).bindparams(*params)
    return {int(row[0]): float(row[1]) for row in session.execute(statement)}


def medians(
    session: Session, scope: Scope, date_from: datetime, date_to: datetime, days: tuple[int, int] | None,
    granularity: str, period_of: Callable[[Any], Any],
) -> tuple[dict[tuple[str, str], float], dict[str, float]]:  # fmt: skip
    """Exact medians of the review hours per (period, location) and per location.

    Why not ``percentile_cont`` over the review times: a year for all locations is
    ~400,000 values, sorted twice per request. Instead the histogram gives each
    group's count per bucket (whole days; the partial first and last day are counted
    from the review times), so the middle rank's bucket is known, and only that
    bucket's rows of that location and period are read (ORDER BY hours OFFSET, by
    the covering index): a few per cent of the values."""
    dialect = dialect_of(session)
    per_period: dict[tuple[str, str], dict[int, int]] = {}
    per_location: dict[str, dict[int, int]] = {}

    def count(period: Any, location: str, bucket: int, reviews: int) -> None:
        for histogram in (per_period.setdefault((_period_key(period), location), {}),
                          per_location.setdefault(location, {})):  # fmt: skip
            histogram[bucket] = histogram.get(bucket, 0) + reviews

    rt, hist = IndicatorReviewTime, IndicatorReviewHistogram
    edges = [(date_from, date_to)]
    if days is not None:
        first, end = days
        periods = Periods(first, end, granularity)
        period = periods.index(hist.day)
        rows = session.execute(
            select(period, hist.location, hist.bucket, func.sum(hist.reviews))
            .where(hist.day >= first, hist.day < end, *scope(hist.location))
            .group_by(period, hist.location, hist.bucket)
        )
        for row in rows:
            count(periods.keys[row[0]], row[1], row[2], row[3])
        edges = [(date_from, _EPOCH + timedelta(days=first)), (_EPOCH + timedelta(days=end), date_to)]
    for start, stop in edges:
        if start < stop:
            period = period_of(rt.created_at)
            rows = session.execute(
                select(period, rt.location, rt.bucket, func.count())
                .where(rt.created_at >= start, rt.created_at < stop, *scope(rt.location))
                .group_by(period, rt.location, rt.bucket)
            )
            for row in rows:
                count(*row)

    # One probe per middle rank: (location, bucket, range, offset).
    probes: list[tuple[str, int, datetime, datetime, int]] = []
    groups: list[tuple[Any, int, int]] = []  # (group key, probe of rank 1, probe of rank 2)
    for key, histogram in [*per_period.items(), *per_location.items()]:
        total = sum(histogram.values())
        if not total:
            continue
        if isinstance(key, tuple):
            location = key[1]
            start, stop = _period_range(key[0], granularity)
            start, stop = max(start, date_from), min(stop, date_to)
        else:
            location, start, stop = key, date_from, date_to
        indexes = []
        for rank in sorted(set(_middle_ranks(total))):
            bucket, offset = _locate(histogram, rank)
            indexes.append(len(probes))
            probes.append((location, bucket, start, stop, offset))
        groups.append((key, indexes[0], indexes[-1]))
    values: dict[int, float] = {}
    if dialect == "postgresql":
        values = _probe_pg(session, probes)
    else:
        for chunk in range(0, len(probes), _PROBES_PER_QUERY):
            values.update(_probe(session, probes[chunk : chunk + _PROBES_PER_QUERY], chunk))

    by_period: dict[tuple[str, str], float] = {}
    by_location: dict[str, float] = {}
    for key, first_probe, second_probe in groups:
        low, high = values[first_probe], values[second_probe]
        # The databases' own arithmetic: PostgreSQL interpolates, SQLite averages.
        median = low + 0.5 * (high - low) if dialect == "postgresql" else (low + high) / 2
        if isinstance(key, tuple):
            by_period[key] = median
        else:
            by_location[key] = median
    return by_period, by_location
