"""Times as staff read them: Dutch local time (Europe/Amsterdam), "dd-mm-jjjj hh:mm".

Stored and computed in UTC (deadlines, indicator days, the norms' working days); shown
in local time wherever a person reads one (pages, the dossier and its PDF, reminder
mail and Teams), as the chat shows a deadline (actions/follow_up_actions.py). Before,
the pages said UTC and the chat local time, an hour or two apart for the same deadline.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from api.models_base import as_utc

LOCAL_TIME = ZoneInfo("Europe/Amsterdam")


def local_time(value: datetime | None) -> str:
    """``value`` (UTC, naive from SQLite or aware) as Dutch local time; "" for None."""
    if value is None:
        return ""
    return as_utc(value).astimezone(LOCAL_TIME).strftime("%d-%m-%Y %H:%M")
