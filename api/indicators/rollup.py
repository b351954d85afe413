"""Keeps the indicator rollup (``api.indicators.models``) equal to the direct query.

Why in the write's own transaction: the dashboard must show a review the moment it
is saved, and a rollup that is refreshed later (a materialised view, a cron job)
would disagree with the incident list in between. Why a flush listener and not a
call in each service: every ORM write of an incident, a review event (corrections
are review events) or a guidance session passes through a flush, so no writer can
forget the rollup, tests' factories included.

How: before the flush, the affected incidents' *contribution* (the direct query's
own expressions from ``service._incident_base``, for that one incident) is read;
after the flush it is read again and the difference is added to the day's rows.
The same expressions rebuild the whole rollup set-wise (``rebuild``), so the two
paths cannot drift apart. Contributions leave "now" out: a review norm's incident
that is still waiting is counted as waiting, and the reader turns it into a
deviation once its deadline has passed.

Concurrency (PostgreSQL): the affected incident rows are locked (``FOR UPDATE``)
and a transaction-scoped advisory lock is taken per conversation (a session and
an incident of one conversation change the same contribution), so the second of
two concurrent writers reads its "before" after the first has committed. SQLite
has a single writer.

Bulk loads that bypass the ORM (``bench/indicators.py``'s COPY) call ``rebuild``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Uuid, bindparam, case, delete, event, func, insert, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.auth.schemas import User
from api.incidents.models import Incident, IncidentReviewEvent
from api.indicators import service
from api.indicators.models import (
    REVIEW_BUCKET_BOUNDS,
    IndicatorDay,
    IndicatorNormDay,
    IndicatorReviewHistogram,
    IndicatorReviewTime,
    IndicatorRollupState,
)
from api.indicators.norms_ref import get_norms
from api.indicators.norms_sql import epoch_day_number, norm_expression
from api.indicators.rollup_read import is_fresh, norms_fingerprint
from api.models_base import as_utc
from api.sessions.models import GuidanceSession
from knowledge.norms import Norm

_ROLLUP_USER = User(sub="indicator-rollup", role="admin")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
_BEFORE = "indicator_rollup_before"
_NEW_SESSIONS = "indicator_rollup_sessions"
_DAY_KEYS = ("day", "location", "protocol")


@dataclass(frozen=True)
class Contribution:
    """What one incident adds to its day's rollup rows."""

    day: int
    location: str
    protocol: str
    norms: dict[str, tuple[int, int, int]]  # norm id → (applies, met, late)
    review_hours: float | None
    bucket: int | None  # of review_hours, see models.REVIEW_BUCKET_BOUNDS
    created_at: datetime
    open_correction: int


def review_bucket(hours: Any, low: int = 0, high: int = len(REVIEW_BUCKET_BOUNDS)) -> Any:
    """The bucket of ``hours``: the first bound it is below (a binary tree of CASEs,
    7 comparisons), computed by the database on every path so that bucket order
    and hours order agree exactly."""
    if low == high:
        return literal(low)
    middle = (low + high) // 2
    return case(
        (hours < REVIEW_BUCKET_BOUNDS[middle], review_bucket(hours, low, middle)),
        else_=review_bucket(hours, middle + 1, high),
    )


def contribution_statement(session: Session, norms: dict[str, Norm], incident_id: Any = None) -> Any:
    """Per incident: the direct query's expressions without the GROUP BY. "now" is
    1970, so no review norm counts as overdue (see the module docstring)."""
    dialect = service.dialect_of(session)
    query = service.Query(_EPOCH, _FAR_FUTURE, "week", None, _EPOCH)
    joined, facts, rev = service._incident_base(session, _ROLLUP_USER, query, norms, incident_id=incident_id)
    flags = [norm_expression(norm, facts, 0.0) for norm in norms.values()]
    review_hours = (rev.c[f"reached_{service.REVIEWED}"] - facts.created_t) * 24
    columns = [
        epoch_day_number(dialect, Incident.created_at).label("day"),
        Incident.location,
        Incident.protocol,
        Incident.created_at,
        review_hours.label("review_hours"),
        review_bucket(review_hours).label("bucket"),
        service.open_correction_flag(rev).label("open_correction"),
    ]
    for index, flag in enumerate(flags):
        columns += [
            flag.applies.label(f"n{index}_applies"),
            flag.met.label(f"n{index}_met"),
            flag.deviation.label(f"n{index}_late"),
        ]
    return joined.with_only_columns(Incident.id, *columns)


def _contribution(row: Any, norms: dict[str, Norm]) -> Contribution:
    mapping = row._mapping
    return Contribution(
        day=int(row.day),
        location=row.location,
        protocol=row.protocol,
        norms={
            norm_id: (int(mapping[f"n{i}_applies"]), int(mapping[f"n{i}_met"]), int(mapping[f"n{i}_late"]))
            for i, norm_id in enumerate(norms)
        },
        review_hours=None if row.review_hours is None else float(row.review_hours),
        # An unreviewed incident has no review time (its NULL falls to the last bucket).
        bucket=None if row.review_hours is None else int(row.bucket),
        created_at=row.created_at,
        open_correction=int(row.open_correction or 0),
    )


#: (dialect, norms fingerprint) → the one-incident statement: built once, because
#: building it costs more than running it (~10 ms of Python on every write).
_ONE_INCIDENT: dict[tuple[str, str], Any] = {}


def _read(session: Session, connection: Connection, norms: dict[str, Norm], incident_id: Any) -> Contribution | None:
    key = (connection.dialect.name, norms_fingerprint(norms))
    if key not in _ONE_INCIDENT:
        _ONE_INCIDENT[key] = contribution_statement(session, norms, bindparam("rollup_incident_id", type_=Uuid))
    # On the flush's connection: session.execute would autoflush inside the flush.
    row = connection.execute(_ONE_INCIDENT[key], {"rollup_incident_id": incident_id}).first()
    return None if row is None else _contribution(row, norms)


#: (dialect, table, key columns, delta columns) → the upsert statement. Built once: building
#: one cost more than running it, and an incident's write runs one per table (issue 16).
_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}


def add_to_rows(connection: Connection, table: Any, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Adds each row's deltas (every column not in ``keys``) to the row with its keys,
    inserting it when missing: one executemany for all ``rows``."""
    if not rows:
        return
    deltas = tuple(name for name in rows[0] if name not in keys)
    cache_key = (connection.dialect.name, table.name, keys, deltas)
    if cache_key not in _UPSERTS:
        dialects = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
        stmt = dialects[connection.dialect.name](table)
        _UPSERTS[cache_key] = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={name: table.c[name] + stmt.excluded[name] for name in deltas}
        )
    connection.execute(_UPSERTS[cache_key], rows)


def _apply(connection: Connection, contribution: Contribution, sign: int) -> None:
    keys = {"day": contribution.day, "location": contribution.location, "protocol": contribution.protocol}
    reviewed = contribution.review_hours is not None
    add_to_rows(connection, IndicatorDay.__table__, _DAY_KEYS, [{
        **keys, "incidents": sign, "sessions": 0, "reviewed": sign * reviewed,
        "review_hours_sum": sign * (contribution.review_hours or 0.0),
        "open_corrections": sign * contribution.open_correction,
    }])  # fmt: skip
    if contribution.bucket is not None:
        add_to_rows(connection, IndicatorReviewHistogram.__table__, ("day", "location", "bucket"),
                [{"day": contribution.day, "location": contribution.location, "bucket": contribution.bucket,
                  "reviews": sign}])  # fmt: skip
    add_to_rows(connection, IndicatorNormDay.__table__, (*_DAY_KEYS, "norm_id"), [
        {**keys, "norm_id": norm_id, "applies": sign * applies, "met": sign * met, "late": sign * late}
        for norm_id, (applies, met, late) in contribution.norms.items() if applies
    ])  # fmt: skip


def _store_review_time(connection: Connection, incident_id: Any, contribution: Contribution | None) -> None:
    table = IndicatorReviewTime.__table__
    connection.execute(delete(table).where(table.c.incident_id == incident_id))
    if contribution is not None and contribution.review_hours is not None:
        connection.execute(insert(table).values(
            incident_id=incident_id, location=contribution.location, created_at=contribution.created_at,
            day=contribution.day, bucket=contribution.bucket, hours=contribution.review_hours,
        ))  # fmt: skip


def _epoch_day(moment: datetime) -> int:
    return (as_utc(moment).date() - _EPOCH.date()).days


def _lock(connection: Connection, incident_ids: set[Any], conversations: set[str]) -> None:
    if connection.dialect.name != "postgresql":
        return
    for conversation in sorted(conversations):
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"indicators:{conversation}"})
    if incident_ids:
        connection.execute(select(Incident.id).where(Incident.id.in_(incident_ids)).with_for_update())


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    session.info.pop(_BEFORE, None)
    new = [obj for obj in session.new if isinstance(obj, (Incident, IncidentReviewEvent, GuidanceSession))]
    if not new:
        return
    connection = session.connection()
    reviewed = {obj.incident_id or obj.incident.id for obj in new if isinstance(obj, IncidentReviewEvent)}
    runs = [obj for obj in new if isinstance(obj, GuidanceSession)]
    conversations = {obj.conversation_id for obj in new if isinstance(obj, (Incident, GuidanceSession))}
    _lock(connection, reviewed, conversations)
    affected = set(reviewed)
    for run in runs:
        # A session may change the referral norms of incidents already recorded.
        affected.update(connection.scalars(select(Incident.id).where(
            Incident.conversation_id == run.conversation_id, Incident.protocol == run.protocol
        )))  # fmt: skip
    new_incident_ids = {obj.id for obj in new if isinstance(obj, Incident)}
    affected -= new_incident_ids
    norms = get_norms()
    session.info[_BEFORE] = (
        {incident_id: _read(session, connection, norms, incident_id) for incident_id in affected},
        [obj for obj in new if isinstance(obj, Incident)],
        runs,
    )


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    state = session.info.pop(_BEFORE, None)
    if state is None:
        return
    before, incidents, runs = state
    connection = session.connection()
    norms = get_norms()
    for run in runs:
        add_to_rows(connection, IndicatorDay.__table__, _DAY_KEYS, [{
            "day": _epoch_day(run.started_at), "location": run.location, "protocol": run.protocol,
            "incidents": 0, "sessions": 1, "reviewed": 0, "review_hours_sum": 0.0, "open_corrections": 0,
        }])  # fmt: skip
    changes = dict(before)
    changes.update({incident.id: None for incident in incidents})
    for incident_id, old in changes.items():
        new = _read(session, connection, norms, incident_id)
        if old is not None:
            _apply(connection, old, -1)
        if new is not None:
            _apply(connection, new, +1)
        _store_review_time(connection, incident_id, new)


def rebuild(session: Session, norms: dict[str, Norm]) -> None:
    """Recompute the whole rollup from the base tables, set-wise, in the caller's
    transaction (commit afterwards). On PostgreSQL writers wait meanwhile, so no
    delta is lost between the read and the replacement."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text(
            "LOCK TABLE incidents, incident_review_events, guidance_sessions IN SHARE MODE"
        ))  # fmt: skip
    dialect = connection.dialect.name
    for model in (IndicatorDay, IndicatorNormDay, IndicatorReviewTime, IndicatorReviewHistogram, IndicatorRollupState):
        connection.execute(delete(model.__table__))
    per_incident = contribution_statement(session, norms).subquery("contribution")
    c = per_incident.c
    rt, hist = IndicatorReviewTime.__table__, IndicatorReviewHistogram.__table__
    connection.execute(insert(rt).from_select(
        ["incident_id", "location", "created_at", "day", "bucket", "hours"],
        select(c.id, c.location, c.created_at, c.day, c.bucket, c.review_hours).where(c.review_hours.is_not(None)),
    ))  # fmt: skip
    connection.execute(insert(hist).from_select(
        ["day", "location", "bucket", "reviews"],
        select(rt.c.day, rt.c.location, rt.c.bucket, func.count()).group_by(rt.c.day, rt.c.location, rt.c.bucket),
    ))  # fmt: skip
    keys = (c.day, c.location, c.protocol)
    days: dict[tuple[int, str, str], dict[str, Any]] = defaultdict(lambda: {
        "incidents": 0, "sessions": 0, "reviewed": 0, "review_hours_sum": 0.0, "open_corrections": 0,
    })  # fmt: skip
    sums = [func.sum(c[f"n{i}_{part}"]) for i in range(len(norms)) for part in ("applies", "met", "late")]
    norm_rows = []
    for row in connection.execute(select(*keys, func.count(), func.count(c.review_hours),
                                         func.coalesce(func.sum(c.review_hours), 0.0),
                                         func.sum(c.open_correction), *sums).group_by(*keys)):  # fmt: skip
        day = days[(int(row[0]), row[1], row[2])]
        day.update(incidents=row[3], reviewed=row[4], review_hours_sum=float(row[5]), open_corrections=int(row[6]))
        for i, norm_id in enumerate(norms):
            applies, met, late = (int(value or 0) for value in row[7 + 3 * i : 10 + 3 * i])
            if applies:
                norm_rows.append({"day": int(row[0]), "location": row[1], "protocol": row[2], "norm_id": norm_id,
                                  "applies": applies, "met": met, "late": late})  # fmt: skip
    gs = GuidanceSession
    session_day = epoch_day_number(dialect, gs.started_at)
    for row in connection.execute(
        select(session_day, gs.location, gs.protocol, func.count()).group_by(session_day, gs.location, gs.protocol)
    ):
        days[(int(row[0]), row[1], row[2])]["sessions"] = row[3]
    if days:
        connection.execute(insert(IndicatorDay.__table__), [
            {"day": day, "location": location, "protocol": protocol, **values}
            for (day, location, protocol), values in days.items()
        ])  # fmt: skip
    if norm_rows:
        connection.execute(insert(IndicatorNormDay.__table__), norm_rows)
    connection.execute(insert(IndicatorRollupState.__table__).values(id=1, norms_fingerprint=norms_fingerprint(norms)))


def ensure_fresh(session: Session, norms: dict[str, Norm] | None = None) -> bool:
    """Rebuild when the rollup was built with other norms (or never); True when rebuilt."""
    norms = norms if norms is not None else get_norms()
    if is_fresh(session, norms):
        return False
    rebuild(session, norms)
    return True


ROLLUP_TABLES = ("indicator_days", "indicator_norm_days", "indicator_review_times", "indicator_review_histogram")


def vacuum(engine: Engine, tables: tuple[str, ...] = ROLLUP_TABLES) -> None:
    """After a rebuild on PostgreSQL: VACUUM sets the visibility map, without which
    the medians' index-only scans visit the heap for every row (measured at 1 M
    incidents: 3.4 s instead of ~0.4 s for a year), and ANALYZE gives the planner
    the new row counts. Autovacuum would do both, later."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


def main() -> int:
    """``python -m api.indicators.rollup``: build the rollup when missing or stale.
    Run after ``alembic upgrade head`` (``api.seed`` does it in development; the
    production migration job runs this)."""
    from api.db import get_sessionmaker

    with get_sessionmaker()() as session:
        rebuilt = ensure_fresh(session)
        session.commit()
        if rebuilt:
            vacuum(session.get_bind().engine)
    print("indicator rollup rebuilt" if rebuilt else "indicator rollup up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
