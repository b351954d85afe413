"""``GET /api/v1/indicators``: for supervisors and contact persons (their locations)
and admins (all). Counsellors and the service role are refused (403)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from api.auth.dependencies import require_roles
from api.auth.schemas import User
from api.db import SessionDep
from api.indicators import service
from api.indicators.norms_ref import NormsDep
from api.indicators.schemas import Indicators
from api.models_base import utcnow
from api.security import bounds
from api.sessions.service import BadFilter, parse_bound

router = APIRouter(prefix="/api/v1", tags=["indicators"])

IndicatorUser = Annotated[User, Depends(require_roles("contact_person", "supervisor", "admin"))]


@router.get("/indicators", response_model=Indicators, response_model_by_alias=True)
def get_indicators(
    user: IndicatorUser,
    session: SessionDep,
    norms: NormsDep,
    date_from: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD or ISO date-time")] = None,
    date_to: Annotated[str | None, Query(alias="to", description="inclusive day, or exclusive date-time")] = None,
    location: str | None = None,
    granularity: Literal["week", "month"] = "week",
) -> Indicators:
    now = utcnow()
    default_from, default_to = service.default_period(granularity, now)
    try:
        start = parse_bound(date_from, end=False) or default_from
        end = parse_bound(date_to, end=True) or default_to
    except BadFilter as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    if end <= start:
        raise HTTPException(422, detail="'to' must be after 'from'")
    if (end - start).days > bounds.MAX_PERIOD_DAYS:
        # The dashboard's bound: each week of the period is a bucket, and 75 years of weeks
        # held a worker for seconds on an empty database.
        raise HTTPException(422, detail=f"the period from 'from' to 'to' is at most {bounds.MAX_PERIOD_DAYS} days")
    query = service.Query(date_from=start, date_to=end, granularity=granularity, location=location, now=now)
    return service.indicators(session, user, query, norms)
