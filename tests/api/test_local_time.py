"""Times are shown in Dutch local time (knowledge/local_time.py), summer and winter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from knowledge.local_time import local_day, local_deadline, local_time, local_today


def test_winter_and_summer_time_and_naive_values_from_sqlite() -> None:
    assert local_time(datetime(2026, 12, 14, 16, 55, tzinfo=UTC)) == "14-12-2026 17:55"  # CET, +1
    assert local_time(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "01-07-2026 12:00"  # CEST, +2
    assert local_time(datetime(2026, 7, 1, 10, 0)) == "01-07-2026 12:00"  # naive: stored UTC
    assert local_time(datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))) == "01-07-2026 12:00"
    assert local_time(None) == ""


def test_a_working_day_deadline_is_the_end_of_its_last_day() -> None:
    """FollowUpNorm.due_at ends a working-day norm at midnight UTC after the last day: shown
    as 23:59 of that day, not as 01:00 (winter) or 02:00 (summer) of the next."""
    assert local_deadline(datetime(2026, 12, 15, 0, 0, tzinfo=UTC)) == "14-12-2026 23:59"
    assert local_deadline(datetime(2026, 7, 2, 0, 0)) == "01-07-2026 23:59"  # naive: stored UTC
    # Any other deadline (hours after the decision) is its local time.
    assert local_deadline(datetime(2026, 12, 14, 16, 55, tzinfo=UTC)) == "14-12-2026 17:55"
    assert local_deadline(datetime(2026, 12, 15, 0, 0, 0, 1, tzinfo=UTC)) == "15-12-2026 01:00"
    assert local_deadline(None) == ""


def test_the_review_follow_up_of_a_decision_shows_as_its_last_working_day() -> None:
    from knowledge.norms import load_follow_up_norms

    norms = load_follow_up_norms()
    working = [norm for norm in norms.values() if norm.working_days]
    assert working, "no working-day follow-up norm in knowledge/norms.yml"
    for norm in working:
        decided = datetime(2026, 12, 7, 19, 45, 12, 345678, tzinfo=UTC)  # a Monday evening
        shown = local_deadline(norm.due_at(decided))
        assert shown.endswith(" 23:59"), shown
        last_day = datetime.strptime(shown, "%d-%m-%Y %H:%M").date()
        assert last_day.weekday() < 5 and (last_day - decided.date()).days >= norm.working_days


def test_a_day_is_a_dutch_day() -> None:
    """A deputy valid "today" (the directory): at 23:30 UTC in winter, 22:30 in summer, the
    Dutch day has already turned."""
    assert local_day(datetime(2026, 12, 7, 23, 30, tzinfo=UTC)) == date(2026, 12, 8)
    assert local_day(datetime(2026, 12, 7, 22, 30)) == date(2026, 12, 7)  # naive: stored UTC
    assert local_day(datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == date(2026, 7, 2)
    assert local_today() == datetime.now(UTC).astimezone(ZoneInfo("Europe/Amsterdam")).date()
