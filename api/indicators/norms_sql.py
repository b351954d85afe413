"""The minimum norms (knowledge/norms.yml) as SQL expressions, portable between
PostgreSQL and SQLite.

Every time is turned into a number of days since 1970-01-01 UTC ("epoch days"):
PostgreSQL ``extract(epoch ...)/86400``, SQLite ``julianday(...) - 2440587.5``. Hour
limits, working-day deadlines and "now" are then plain arithmetic, identical on
both databases. Working days are Monday–Friday in UTC; public holidays are not
counted (see README / open points).

Each norm gives three 0/1 integer expressions over an incident's *facts*:
``applies``, ``met`` and ``deviation``. An applicable norm that is neither met nor
deviated is *pending* (a review that is not yet due).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from api.incidents.models import Incident, IncidentReviewEvent
from api.models_base import as_utc
from api.sessions.models import GuidanceSession
from knowledge.norms import Norm

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 1970-01-01 was a Thursday: weekday (Mon=0) of epoch day d is (d + 3) % 7.
_EPOCH_WEEKDAY = 3


def epoch_days(dialect: str, column: Any) -> ColumnElement[Any]:
    """A timestamp as fractional days since 1970-01-01 UTC."""
    if dialect == "postgresql":
        # date_part (double precision), not extract (numeric since PostgreSQL 14:
        # several times slower over a million rows).
        return func.date_part("epoch", column) / 86400.0
    return func.julianday(column) - 2440587.5


def epoch_day_number(dialect: str, column: Any) -> ColumnElement[Any]:
    """The (UTC) calendar day of a timestamp as a whole number of days since 1970-01-01."""
    if dialect == "postgresql":
        # date - date is an integer number of days.
        return cast(func.timezone("UTC", column), Date) - literal_column("DATE '1970-01-01'")
    # julianday of a 1970+ date is positive: CAST truncates, which is floor here.
    return cast(func.julianday(column) - 2440587.5, Integer)


def epoch_days_of(moment: datetime) -> float:
    return (as_utc(moment) - _EPOCH).total_seconds() / 86400.0


def epoch_day_start(day: int) -> datetime:
    """The first instant (UTC) of the day ``day`` days after 1970-01-01."""
    return _EPOCH + timedelta(days=day)


@lru_cache(maxsize=32)
def working_day_offsets(working_days: int) -> tuple[int, ...]:
    """Per weekday of recording (Mon=0..Sun=6): days from the start of that day to the
    (exclusive) deadline, i.e. the end of the ``working_days``-th working day after it."""
    offsets = []
    for weekday in range(7):
        counted, day = 0, 0
        while counted < working_days:
            day += 1
            if (weekday + day) % 7 < 5:
                counted += 1
        offsets.append(day + 1)
    return tuple(offsets)


def referral_flag(referrals: Any, organisation: str) -> ColumnElement[bool]:
    """Does the JSON list of organisation ids contain ``organisation``?

    The list is stored as JSON text (``["politie", "veilig_thuis"]``); organisation
    ids are ``[a-z0-9_]+`` (validated by the knowledge loader), so the quoted id
    cannot match part of another id. Portable and index-free on purpose: the
    indicator query scans the period's incidents anyway.
    """
    return cast(referrals, Text).like(f'%"{organisation}"%')


@dataclass(frozen=True)
class Facts:
    """Column expressions describing one incident, for the norm expressions."""

    protocol: Any
    acute: Any
    referrals: Any
    created_t: Any  # epoch days
    created_day: Any  # whole epoch day
    session_start_t: Any  # epoch days of the guidance session's start, NULL without a session
    status_reached_t: dict[str, Any]  # review status → epoch days it was first reached (or NULL)


@dataclass(frozen=True)
class NormExpr:
    norm: Norm
    applies: ColumnElement[Any]
    met: ColumnElement[Any]
    deviation: ColumnElement[Any]
    #: 1 when the incident is still waiting for something that is already late
    #: (a review norm past its deadline); 0 otherwise.
    overdue: ColumnElement[Any]


def _flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return case((condition, 1), else_=0)


def _applies_to(norm: Norm, facts: Facts) -> ColumnElement[bool]:
    return facts.protocol.in_(norm.protocols) if norm.protocols else true()


def norm_expression(norm: Norm, facts: Facts, now_t: float | ColumnElement[Any]) -> NormExpr:
    """The norm's flags over ``facts``; ``now_t`` (epoch days) a value or a bound parameter."""
    applies = _applies_to(norm, facts)
    overdue: ColumnElement[bool] = false()
    if norm.rule == "referral_within_hours":
        assert norm.referral is not None and norm.hours is not None
        in_time = or_(
            facts.session_start_t.is_(None),
            (facts.created_t - facts.session_start_t) * 24 <= norm.hours,
        )
        met = and_(referral_flag(facts.referrals, norm.referral), in_time)
        deviation = and_(applies, ~met)
    elif norm.rule == "referral_when_acute":
        assert norm.referral is not None
        applies = and_(applies, facts.acute == true())
        met = referral_flag(facts.referrals, norm.referral)
        deviation = and_(applies, ~met)
    elif norm.rule == "review_within_working_days":
        assert norm.status is not None and norm.working_days is not None
        offsets = working_day_offsets(norm.working_days)
        weekday = (facts.created_day + _EPOCH_WEEKDAY) % 7
        deadline = facts.created_day + case(
            *((weekday == index, offset) for index, offset in enumerate(offsets)), else_=offsets[0]
        )
        reached = facts.status_reached_t[norm.status]
        met = and_(reached.is_not(None), reached < deadline)
        now = now_t if isinstance(now_t, ColumnElement) else literal(now_t)
        overdue = and_(applies, reached.is_(None), now >= deadline)
        deviation = and_(applies, or_(and_(reached.is_not(None), reached >= deadline), overdue))
    else:  # pragma: no cover - knowledge.norms validates rule kinds
        raise ValueError(f"no SQL for rule {norm.rule!r}")
    return NormExpr(
        norm=norm,
        applies=_flag(applies),
        met=_flag(and_(applies, met)),
        deviation=_flag(deviation),
        overdue=_flag(overdue),
    )


def statuses_needed(norms: dict[str, Norm]) -> tuple[str, ...]:
    return tuple(sorted({norm.status for norm in norms.values() if norm.status}))


def correlated_facts(dialect: str, incident: Any, norms: dict[str, Norm]) -> Facts:
    """Facts through correlated subqueries: for a handful of incidents (lists, detail)."""
    session = aliased(GuidanceSession)
    start = (
        # The conversation's first run of the incident's protocol (a conversation may
        # run several protocols, each its own session).
        select(epoch_days(dialect, func.min(session.started_at)))
        .where(session.conversation_id == incident.conversation_id, session.protocol == incident.protocol)
        .correlate(incident)
        .scalar_subquery()
    )
    reached = {}
    for status in statuses_needed(norms):
        event = aliased(IncidentReviewEvent)
        reached[status] = (
            select(epoch_days(dialect, func.min(event.created_at)))
            .where(event.incident_id == incident.id, event.status == status)
            .correlate(incident)
            .scalar_subquery()
        )
    return Facts(
        protocol=incident.protocol,
        acute=incident.acute,
        referrals=incident.referrals,
        created_t=epoch_days(dialect, incident.created_at),
        created_day=epoch_day_number(dialect, incident.created_at),
        session_start_t=start,
        status_reached_t=reached,
    )


def incident_norm_flags(
    dialect: str, norms: dict[str, Norm], now: datetime, incident: Any = Incident
) -> list[NormExpr]:
    facts = correlated_facts(dialect, incident, norms)
    now_t = epoch_days_of(now)
    return [norm_expression(norm, facts, now_t) for norm in norms.values()]


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


@lru_cache(maxsize=8)
def _deviations_statement(dialect: str, norms: tuple[Norm, ...]) -> Select[Any]:
    """Built once per dialect and norms, with "now" and the ids as parameters: building
    the norm expressions took ~4 ms of every recorded incident's ~15 (issue 16: the
    decision turn waits for that write)."""
    facts = correlated_facts(dialect, Incident, {norm.id: norm for norm in norms})
    now = bindparam("deviations_now_t", type_=Float)
    flags = [norm_expression(norm, facts, now) for norm in norms]
    return select(Incident.id, *(flag.deviation for flag in flags)).where(
        Incident.id.in_(bindparam("deviations_incident_ids", expanding=True)))


def incident_deviations(
    session: Session, incident_ids: list[Any], norms: dict[str, Norm], now: datetime
) -> dict[Any, list[str]]:
    """Norm ids each incident deviates from, in norms.yml order: one query."""
    if not incident_ids:
        return {}
    ordered = tuple(norms.values())
    rows = session.execute(_deviations_statement(dialect_of(session), ordered), {
        "deviations_now_t": epoch_days_of(now), "deviations_incident_ids": list(incident_ids)}).all()
    return {row[0]: [norm.id for norm, value in zip(ordered, row[1:], strict=True) if value] for row in rows}
