"""Norm deviations per incident and the indicators, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from api.indicators.norms_sql import working_day_offsets

from .conftest import TokenFactory
from .factories import add_reviews, make_incident, make_session

VT, POLITIE, REVIEW = "veilig_thuis_binnen_24_uur", "politie_bij_acuut", "review_binnen_5_werkdagen"


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def scenario(seeded: Session) -> dict[str, str]:
    db = seeded
    make_session(db, started_at=at(5, 9), conversation_id="c1")
    i1 = make_incident(db, created_at=at(5), conversation_id="c1", referrals=["veilig_thuis"])
    add_reviews(db, i1, [("in_behandeling", at(6)), ("afgehandeld", at(7))])  # 48 h

    i2 = make_incident(db, created_at=at(6), acute=True, referrals=["politie"])
    add_reviews(db, i2, [("in_behandeling", at(19)), ("afgehandeld", at(20))])  # 336 h: late

    make_session(db, started_at=at(5, 9), conversation_id="c3", protocol="seksueel_geweld")
    i3 = make_incident(
        db, created_at=at(7), conversation_id="c3", protocol="seksueel_geweld", acute=True, referrals=["veilig_thuis"]
    )
    add_reviews(db, i3, [("in_behandeling", at(8)), ("correctie_gevraagd", at(8, 11))])

    i4 = make_incident(db, created_at=at(13), protocol="ongewenste_zwangerschap", referrals=["fiom"])
    add_reviews(db, i4, [("in_behandeling", at(13, 12)), ("afgehandeld", at(14))])  # 24 h
    make_session(db, started_at=at(13), protocol="ongewenste_zwangerschap")

    make_incident(db, created_at=at(5), location="BUDEL", staff_id="stf-budel", referrals=[])
    make_session(db, started_at=at(5), location="BUDEL", staff_id="stf-budel")
    return {"i1": str(i1.id), "i2": str(i2.id), "i3": str(i3.id), "i4": str(i4.id)}


def test_working_day_deadlines() -> None:
    # Recorded Mon–Fri: due by the end of the same weekday a week later (5 working days).
    assert working_day_offsets(5) == (8, 8, 8, 8, 8, 7, 6)
    # One working day: Friday → end of Monday; Saturday/Sunday → end of Monday.
    assert working_day_offsets(1) == (2, 2, 2, 2, 4, 3, 2)


async def test_deviations_on_the_incidents(
    client: httpx.AsyncClient, auth: TokenFactory, scenario: dict[str, str]
) -> None:
    headers = auth("supervisor", "TERAPEL")
    expected = {"i1": [], "i2": [VT, REVIEW], "i3": [VT, POLITIE, REVIEW], "i4": []}
    for name, incident_id in scenario.items():
        response = await client.get(f"/api/v1/incidents/{incident_id}", headers=headers)
        assert response.json()["deviations"] == expected[name], name
    listed = (await client.get("/api/v1/incidents", headers=headers)).json()
    assert {item["id"]: item["deviations"] for item in listed["items"]} == {
        scenario[name]: value for name, value in expected.items()
    }


async def test_a_fresh_unreviewed_incident_is_pending_not_deviating(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Any
) -> None:
    created = await client.post(
        "/api/v1/incidents", json=incident_payload(referrals=["veilig_thuis"]), headers=auth("service")
    )
    # acute without politie: flagged at once; the review is not due yet.
    assert created.json()["deviations"] == [POLITIE]


async def test_weekly_indicators(client: httpx.AsyncClient, auth: TokenFactory, scenario: dict[str, str]) -> None:
    response = await client.get(
        "/api/v1/indicators",
        params={"from": "2026-01-01", "to": "2026-01-31", "granularity": "week"},
        headers=auth("supervisor", "TERAPEL"),
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["from"].startswith("2026-01-01") and data["granularity"] == "week"
    assert [norm["id"] for norm in data["norms"]] == [VT, POLITIE, REVIEW]
    assert [(row["period"], row["location"]) for row in data["rows"]] == [
        ("2026-01-05", "TERAPEL"),
        ("2026-01-12", "TERAPEL"),
    ]
    first, second = data["rows"]
    assert first["incidents"] == {"total": 3, "per_protocol": {"eergerelateerd_geweld": 2, "seksueel_geweld": 1}}
    assert first["sessions"] == {"total": 2, "per_protocol": {"eergerelateerd_geweld": 1, "seksueel_geweld": 1}}
    assert first["norms"][VT] == {"applicable": 3, "met": 1, "deviations": 2, "pending": 0, "share_met": 0.3333}
    assert first["norms"][POLITIE] == {"applicable": 2, "met": 1, "deviations": 1, "pending": 0, "share_met": 0.5}
    assert first["norms"][REVIEW] == {"applicable": 3, "met": 1, "deviations": 2, "pending": 0, "share_met": 0.3333}
    assert first["review"] == {"reviewed": 2, "median_hours": 192.0, "avg_hours": 192.0}
    assert first["open_corrections"] == 1
    assert second["incidents"]["per_protocol"] == {"ongewenste_zwangerschap": 1}
    assert second["norms"][VT]["applicable"] == 0 and second["norms"][VT]["share_met"] is None
    assert second["review"] == {"reviewed": 1, "median_hours": 24.0, "avg_hours": 24.0}
    (total,) = data["totals"]
    assert total["period"] is None and total["incidents"]["total"] == 4 and total["sessions"]["total"] == 3
    assert total["review"] == {"reviewed": 3, "median_hours": 48.0, "avg_hours": 136.0}
    assert total["norms"][REVIEW]["met"] == 2


async def test_monthly_indicators_and_scope(
    client: httpx.AsyncClient, auth: TokenFactory, scenario: dict[str, str]
) -> None:
    params = {"from": "2026-01-01", "to": "2026-01-31", "granularity": "month"}
    admin = (await client.get("/api/v1/indicators", params=params, headers=auth("admin"))).json()
    assert [(row["period"], row["location"]) for row in admin["rows"]] == [
        ("2026-01-01", "BUDEL"),
        ("2026-01-01", "TERAPEL"),
    ]
    budel = (await client.get("/api/v1/indicators", params=params, headers=auth("supervisor", "BUDEL"))).json()
    assert [row["location"] for row in budel["rows"]] == ["BUDEL"]
    assert budel["rows"][0]["incidents"]["total"] == 1
    other = await client.get(
        "/api/v1/indicators", params={**params, "location": "TERAPEL"}, headers=auth("supervisor", "BUDEL")
    )
    assert other.json()["rows"] == [] and other.json()["totals"] == []
    for role in ("counsellor", "service"):
        assert (await client.get("/api/v1/indicators", headers=auth(role, "TERAPEL"))).status_code == 403
    bad = await client.get(
        "/api/v1/indicators", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=auth("admin")
    )
    assert bad.status_code == 422


async def test_indicators_move_when_an_incident_is_reviewed(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    incident = make_incident(seeded, created_at=datetime.now(UTC) - timedelta(hours=2))
    headers = auth("supervisor", "TERAPEL")

    async def review_block() -> dict[str, object]:
        data = (await client.get("/api/v1/indicators", headers=headers)).json()
        return data["totals"][0]["norms"][REVIEW]

    assert (await review_block())["pending"] == 1
    for status in ("in_behandeling", "afgehandeld"):
        await client.post(f"/api/v1/incidents/{incident.id}/review-events", json={"status": status}, headers=headers)
    assert (await review_block()) == {"applicable": 1, "met": 1, "deviations": 0, "pending": 0, "share_met": 1.0}


async def test_a_period_of_more_than_three_years_is_a_422_that_says_so(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    headers = auth("admin")
    period = {"from": "2026-01-01", "to": "2028-12-31"}
    three_years = await client.get("/api/v1/indicators", params=period, headers=headers)
    assert three_years.status_code == 200, three_years.text
    longer = await client.get("/api/v1/indicators", params={"to": "2100-12-31"}, headers=headers)
    assert longer.status_code == 422
    assert "at most 1098 days" in longer.json()["detail"]
