"""Times as staff read them: Dutch local time (Europe/Amsterdam), "dd-mm-jjjj hh:mm".

Stored and computed in UTC (deadlines, indicator days, the norms' working days); shown
in local time wherever a person reads one: the chat (actions) and the pages, the dossier
and its PDF, reminder mail and Teams (api). One definition for both, so the same
deadline reads the same everywhere.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Europe/Amsterdam")


def _utc(value: datetime) -> datetime:
    # SQLite gives naive datetimes; everything stored is UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def local_today() -> date:
    """Today as a Dutch day (a deputy's first and last day): from 23:00 or 22:00 UTC on,
    that is already the next day."""
    return datetime.now(LOCAL_TIME).date()


def local_day(value: datetime) -> date:
    """The Dutch day of ``value`` (UTC, naive or aware)."""
    return _utc(value).astimezone(LOCAL_TIME).date()


def local_time(value: datetime | None) -> str:
    """``value`` (UTC, naive or aware) as Dutch local time; "" for None."""
    if value is None:
        return ""
    return _utc(value).astimezone(LOCAL_TIME).strftime("%d-%m-%Y %H:%M")


def local_deadline(value: datetime | None) -> str:
    """A deadline as a person reads it. A working-day norm ends at midnight UTC after its
    last day (``FollowUpNorm.due_at``, the same days as the review norm's indicators);
    that is shown as the last minute of that day, "14-12-2026 23:59", not as
    "15-12-2026 01:00": an hour or two before the instant, never after it. Only such a
    deadline falls on midnight UTC to the microsecond; any other is ``local_time``."""
    if value is None:
        return ""
    moment = _utc(value)
    if moment.time() != time(0):
        return local_time(moment)
    return f"{moment.date() - timedelta(days=1):%d-%m-%Y} 23:59"
