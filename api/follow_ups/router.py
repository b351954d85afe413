"""Follow-up endpoints: list and read them by role and location, change a status.

Scope as the incidents (api/access.py): a counsellor sees the follow-ups of the
incidents it recorded, contact persons and supervisors those of their locations,
admins all (read only). The service role reads nothing; it may only record a
counsellor's answer from the chat, for that counsellor's own incident.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status

from api.auth.dependencies import StaffUser, require_roles
from api.auth.schemas import User
from api.db import SessionDep
from api.follow_ups import service
from api.follow_ups.indicators import FollowUpIndicators, follow_up_indicators
from api.follow_ups.schemas import FollowUpEventCreate, FollowUpList, FollowUpOut
from api.models_base import utcnow
from api.security import bounds
from api.sessions.service import BadFilter, parse_bound

router = APIRouter(prefix="/api/v1/follow-ups", tags=["follow-ups"])
#: Confirmed-action indicators, next to the norm indicators (aggregates: no counsellors).
indicators_router = APIRouter(prefix="/api/v1/indicators", tags=["indicators"])

Confirmer = Annotated[User, Depends(require_roles("counsellor", "contact_person", "supervisor", "admin", "service"))]


@router.get("", response_model=FollowUpList)
def list_follow_ups(
    user: StaffUser,
    session: SessionDep,
    status_: Annotated[Literal["open", "gedaan", "niet_gedaan", "vervallen"] | None, Query(alias="status")] = None,
    location: str | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: bounds.Offset = 0,
) -> FollowUpList:
    filters = service.Filters(status=status_, location=location, overdue=overdue)
    return service.list_for(session, user, filters, limit=limit, offset=offset)


@router.get("/{follow_up_id}", response_model=FollowUpOut, responses={404: {"description": "not found or not yours"}})
def get_follow_up(follow_up_id: str, user: StaffUser, session: SessionDep) -> FollowUpOut:
    found = service.get_for(session, user, follow_up_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="follow-up not found")
    return found


@router.post(
    "/{follow_up_id}/events",
    response_model=FollowUpOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "your role may read this follow-up but not confirm it"},
        404: {"description": "not found or not yours"},
        409: {"description": "no longer open: its status was already recorded"},
    },
)
def change_status(follow_up_id: str, payload: FollowUpEventCreate, user: Confirmer, session: SessionDep) -> FollowUpOut:
    try:
        return service.change_status(session, user, follow_up_id, payload)
    except service.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="follow-up not found") from exc
    except service.Refused as exc:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="confirmed by the counsellor, contact person or supervisor"
        ) from exc
    except service.Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="this follow-up is no longer open") from exc


Aggregates = Annotated[User, Depends(require_roles("contact_person", "supervisor", "admin"))]


@indicators_router.get("/follow-ups", response_model=FollowUpIndicators)
def follow_up_figures(
    user: Aggregates,
    session: SessionDep,
    location: str | None = None,
    date_from: Annotated[str | None, Query(alias="from", description="recorded from (YYYY-MM-DD or ISO)")] = None,
    date_to: Annotated[str | None, Query(alias="to", description="recorded until (day or ISO)")] = None,
) -> FollowUpIndicators:
    # The same bounded date parsing as every other period (api/security/bounds.py).
    try:
        start, end = parse_bound(date_from, end=False), parse_bound(date_to, end=True)
    except BadFilter as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=str(exc)) from exc
    return follow_up_indicators(session, user, utcnow(), location=location, date_from=start, date_to=end)
