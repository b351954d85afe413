"""The indicator rollup equals the direct query, on SQLite and PostgreSQL.

Random incidents, sessions (some started after their incident was recorded), review
events written long after the incident (late reviews) and corrections
(``correctie_gevraagd`` → ``gecorrigeerd``) arrive in several flushes, like the API
writes them; then every figure of ``service.indicators`` read through the rollup
must equal the same call with the rollup switched off (direct query), for periods
that start and end mid-day and on midnight, by week and by month, for an admin, a
supervisor and a location filter. The incrementally kept rollup must also equal a
rebuild from scratch.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.auth.schemas import User
from api.indicators import rollup, service
from api.indicators.models import IndicatorDay, IndicatorNormDay, IndicatorReviewTime, IndicatorRollupState
from api.indicators.norms_ref import get_norms
from api.indicators.rollup_read import is_fresh

from .factories import add_reviews, make_incident, make_session

LOCATIONS = ["TERAPEL", "BUDEL"]
PROTOCOLS = ["eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap", "lhbti_ondersteuning"]
REFERRALS = [[], ["veilig_thuis"], ["politie"], ["politie", "veilig_thuis"], ["fiom"]]
TRAILS = [
    [],
    ["in_behandeling"],
    ["in_behandeling", "afgehandeld"],
    ["in_behandeling", "correctie_gevraagd"],
    ["in_behandeling", "correctie_gevraagd", "gecorrigeerd"],
    ["in_behandeling", "correctie_gevraagd", "gecorrigeerd", "afgehandeld"],
    ["afgehandeld"],
]
START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = START + timedelta(days=75, hours=13, minutes=7)


def _random_data(db: Session, rng: random.Random) -> None:
    pending: list[tuple[object, list[str], datetime]] = []
    for number in range(120):
        created = START + timedelta(seconds=rng.random() * 70 * 86400)
        location, protocol = rng.choice(LOCATIONS), rng.choice(PROTOCOLS)
        conversation = f"rollup-{number}"
        session_first = rng.random() < 0.6
        if session_first:
            started = created - timedelta(minutes=rng.randrange(1, 60 * 40))
            make_session(db, started_at=started, conversation_id=conversation, location=location, protocol=protocol)
        incident = make_incident(
            db, created_at=created, conversation_id=conversation, location=location, protocol=protocol,
            acute=rng.random() < 0.4, referrals=rng.choice(REFERRALS),
        )  # fmt: skip
        if not session_first and rng.random() < 0.5:
            # A session logged after the incident (the outbox delivers late): changes its referral norm.
            make_session(
                db, started_at=created - timedelta(hours=rng.randrange(1, 48)), conversation_id=conversation,
                location=location, protocol=protocol,
            )  # fmt: skip
        if rng.random() < 0.3:
            # A second run of the same protocol in the conversation (not the first run: no effect).
            make_session(
                db, started_at=created + timedelta(minutes=5), conversation_id=conversation, run_id="second",
                location=location, protocol=protocol,
            )  # fmt: skip
        pending.append((incident, rng.choice(TRAILS), created))
    # Review events arrive later, in another order than the incidents, some weeks late.
    rng.shuffle(pending)
    for incident, trail, created in pending:
        at = created + timedelta(hours=rng.randrange(1, 24 * 20))
        for status in trail:
            add_reviews(db, incident, [(status, at)])
            at += timedelta(hours=rng.randrange(1, 24 * 6))


def _queries() -> list[tuple[User, service.Query]]:
    admin = User(sub="t-admin", role="admin")
    supervisor = User(sub="t-sup", role="supervisor", locations=("TERAPEL",))
    mid = START + timedelta(days=3, hours=7, minutes=13)
    midnight = START + timedelta(days=7)
    return [
        (admin, service.Query(mid, NOW, "week", None, NOW)),
        (admin, service.Query(mid, NOW, "month", None, NOW)),
        (admin, service.Query(midnight, midnight + timedelta(days=42), "week", None, NOW)),
        (admin, service.Query(START, NOW + timedelta(days=30), "month", "budel", NOW)),
        (supervisor, service.Query(mid, NOW - timedelta(days=20, hours=5), "week", None, NOW)),
        (supervisor, service.Query(midnight + timedelta(hours=5), midnight + timedelta(hours=20), "week", None, NOW)),
        (admin, service.Query(mid, NOW, "week", None, START + timedelta(days=20))),  # another "now"
    ]


def _rollup_tables(db: Session) -> dict[str, set[tuple]]:
    tables = {}
    for model in (IndicatorDay, IndicatorNormDay, IndicatorReviewTime):
        rows = db.execute(select(model.__table__)).all()
        # Rows whose counts went back to zero are harmless leftovers of the deltas.
        tables[model.__tablename__] = {
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in rows
            if model is IndicatorReviewTime
            or any(v for k, v in row._mapping.items() if k not in ("day",) and isinstance(v, int | float))
        }
    return tables


@pytest.mark.parametrize("seed_value", [1, 2])
def test_rollup_equals_the_direct_query(seeded: Session, seed_value: int) -> None:
    db, norms = seeded, get_norms()
    assert is_fresh(db, norms)
    _random_data(db, random.Random(seed_value))
    through_rollup = [service.indicators(db, user, query, norms) for user, query in _queries()]
    assert sum(t.incidents.total for t in through_rollup[0].totals) > 0
    assert any(row.open_corrections for row in through_rollup[0].rows)
    assert any(n.deviations for row in through_rollup[0].rows for n in row.norms.values())

    incremental = _rollup_tables(db)
    rollup.rebuild(db, norms)
    assert _rollup_tables(db) == incremental

    db.execute(delete(IndicatorRollupState))  # not fresh: service.indicators reads directly
    assert not is_fresh(db, norms)
    direct = [service.indicators(db, user, query, norms) for user, query in _queries()]
    for (user, query), fast, slow in zip(_queries(), through_rollup, direct, strict=True):
        assert fast.model_dump() == slow.model_dump(), (user.role, query)


def test_a_review_moves_the_rollup_in_the_same_transaction(seeded: Session) -> None:
    db, norms = seeded, get_norms()
    created = NOW - timedelta(days=10)
    incident = make_incident(db, created_at=created, location="BUDEL")
    query = service.Query(NOW - timedelta(days=30), NOW, "week", None, NOW)
    admin = User(sub="t-admin", role="admin")
    before = service.indicators(db, admin, query, norms).totals[0]
    add_reviews(db, incident, [("afgehandeld", created + timedelta(hours=30))])
    after = service.indicators(db, admin, query, norms).totals[0]
    assert (before.review.reviewed, after.review.reviewed) == (0, 1)
    assert after.review.median_hours == 30.0
