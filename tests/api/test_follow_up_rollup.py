"""The follow-up rollup equals the direct query, on SQLite and PostgreSQL.

Random incidents with one or two follow-ups each; status events (done in time, done
late, not done, lapsed) written later and in another order, some never (open, some
past the deadline, some not yet due). Every figure of ``follow_up_indicators``
through the rollup must equal the same call on the direct query, for periods that
start and end mid-day and on midnight, without bounds, for an admin, a supervisor
and a location filter, and at another "now". The incrementally kept rollup must also
equal a rebuild from scratch.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.schemas import User
from api.follow_ups import rollup
from api.follow_ups.indicators import follow_up_indicators
from api.follow_ups.models import FollowUpDay, FollowUpEvent, OpenFollowUp

from .factories import make_follow_up, make_incident

LOCATIONS = ["TERAPEL", "BUDEL", "GILZE"]
KINDS = [
    {"key": "veilig_thuis_gebeld", "organisation": "veilig_thuis", "norm": "veilig_thuis_binnen_24_uur", "hours": 24},
    {"key": "csg_gebeld", "organisation": "centrum_seksueel_geweld", "norm": "csg_binnen_72_uur", "hours": 72},
    {"key": "vervolggesprek", "organisation": None, "norm": "vervolggesprek_binnen_een_week", "hours": 168},
]
START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = START + timedelta(days=40, hours=13, minutes=7)


def _random_data(db: Session, rng: random.Random) -> None:
    confirmations = []
    for _ in range(150):
        created = START + timedelta(seconds=rng.random() * 41 * 86400)
        incident = make_incident(db, created_at=created, location=rng.choice(LOCATIONS))
        for kind in rng.sample(KINDS, rng.choice([1, 1, 2])):
            due = created + timedelta(hours=kind["hours"])
            follow_up = make_follow_up(db, incident, due_at=due, key=kind["key"], organisation=kind["organisation"],
                                       norm=kind["norm"], action=kind["key"])  # fmt: skip
            if rng.random() < 0.25:
                continue  # open: past the deadline or not yet due, depending on "now"
            status = rng.choice(["gedaan", "gedaan", "niet_gedaan", "vervallen"])
            confirmations.append((follow_up, status, created + timedelta(hours=kind["hours"] * rng.random() * 1.6)))
    rng.shuffle(confirmations)
    for follow_up, status, at in confirmations:
        db.add(FollowUpEvent(follow_up_id=follow_up.id, seq=1, status=status, actor="t", reason=None, created_at=at))
        if rng.random() < 0.3:
            db.flush()
    db.flush()


def _calls() -> list[tuple[User, dict]]:
    admin = User(sub="t-admin", role="admin")
    supervisor = User(sub="t-sup", role="supervisor", locations=("TERAPEL", "GILZE"))
    mid = START + timedelta(days=3, hours=7, minutes=13)
    midnight = START + timedelta(days=7)
    return [
        (admin, {"now": NOW}),
        (admin, {"now": NOW, "date_from": mid, "date_to": NOW}),
        (admin, {"now": NOW, "date_from": midnight, "date_to": midnight + timedelta(days=14)}),
        (admin, {"now": NOW, "date_from": mid, "location": "budel"}),
        (admin, {"now": NOW, "date_to": NOW - timedelta(days=2, hours=3)}),
        (supervisor, {"now": NOW, "date_from": mid, "date_to": NOW - timedelta(days=20, hours=5)}),
        (supervisor, {"now": NOW, "date_from": midnight + timedelta(hours=5),
                      "date_to": midnight + timedelta(hours=20)}),
        (admin, {"now": START + timedelta(days=20, hours=2), "date_from": mid}),  # another "now"
    ]


def _rollup_rows(db: Session) -> set[tuple]:
    # Rows whose counts are all zero would be harmless; the deltas only add, so there are none.
    days = {("day", *row) for row in db.execute(select(FollowUpDay.__table__)).all()}
    return days | {("open", *row) for row in db.execute(select(OpenFollowUp.__table__)).all()}


@pytest.mark.parametrize("seed_value", [1, 2])
def test_rollup_equals_the_direct_query(seeded: Session, seed_value: int) -> None:
    db = seeded
    _random_data(db, random.Random(seed_value))
    for user, call in _calls():
        now = call.pop("now")
        fast = follow_up_indicators(db, user, now, **call)
        slow = follow_up_indicators(db, user, now, from_rollup=False, **call)
        assert fast.model_dump() == slow.model_dump(), (user.role, call)
    everything = follow_up_indicators(db, User(sub="t-admin", role="admin"), NOW).totals
    assert everything.total > 150 and everything.gedaan and everything.niet_gedaan and everything.vervallen
    assert everything.overdue and everything.open > everything.overdue  # some open, some not yet due
    assert 0 < everything.veilig_thuis_in_time < everything.veilig_thuis_decided

    incremental = _rollup_rows(db)
    assert any(row[0] == "open" for row in incremental)
    rollup.rebuild(db)
    assert _rollup_rows(db) == incremental


def test_a_confirmation_moves_the_figures_in_the_same_transaction(seeded: Session) -> None:
    db = seeded
    incident = make_incident(db, created_at=NOW - timedelta(days=5), location="BUDEL")
    follow_up = make_follow_up(db, incident, due_at=NOW - timedelta(days=4))
    admin = User(sub="t-admin", role="admin")
    before = follow_up_indicators(db, admin, NOW, date_from=NOW - timedelta(days=30)).totals
    db.add(FollowUpEvent(follow_up_id=follow_up.id, seq=1, status="gedaan", actor="t", reason=None,
                         created_at=NOW - timedelta(days=4, hours=2)))  # fmt: skip
    db.flush()
    after = follow_up_indicators(db, admin, NOW, date_from=NOW - timedelta(days=30)).totals
    assert (before.overdue, before.gedaan, before.veilig_thuis_in_time) == (1, 0, 0)
    assert (after.overdue, after.gedaan, after.veilig_thuis_in_time) == (0, 1, 1)
