"""Times are shown in Dutch local time (api/local_time.py), summer and winter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from api.local_time import local_time


def test_winter_and_summer_time_and_naive_values_from_sqlite() -> None:
    assert local_time(datetime(2026, 12, 14, 16, 55, tzinfo=UTC)) == "14-12-2026 17:55"  # CET, +1
    assert local_time(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "01-07-2026 12:00"  # CEST, +2
    assert local_time(datetime(2026, 7, 1, 10, 0)) == "01-07-2026 12:00"  # naive: stored UTC
    assert local_time(datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))) == "01-07-2026 12:00"
    assert local_time(None) == ""
