"""Bounds for every numeric and date query parameter (issue 14, finding 7).

Without them an ``offset`` past 2**63 overflowed the database driver, a ``to`` of
9999-12-31 overflowed ``datetime`` when a day was added, and a dashboard period
from the year 1000 drew 52,000 empty weeks (7 MB). Out of bounds is a 422 that
names the bound (API) or an error page that says what to change (pages).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query

#: More rows than any list will hold; far below the database's 64-bit limit.
MAX_OFFSET = 1_000_000
#: Dates the data can have: the product started in 2026; the bounds leave room.
MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2100, 12, 31)
#: The dashboard and GET /api/v1/indicators give one column per week: at most three years of them.
MAX_PERIOD_DAYS = 3 * 366

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"rows to skip (0..{MAX_OFFSET})")]


def day_in_range(day: date) -> bool:
    return MIN_DAY <= day <= MAX_DAY


def out_of_range_message(value: str) -> str:
    return f"'{value}' is outside {MIN_DAY.isoformat()}..{MAX_DAY.isoformat()}"
