"""``GET /api/v1/chat/follow-ups``: what the assistant asks a counsellor about when it
comes back (issue 15, part 2): its open follow-ups that are overdue or due within
``within_hours``, soonest first. Service credential only (the action server); the
answer is recorded through ``POST /api/v1/follow-ups/{id}/events`` with the staff id.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import case, select

from api import access
from api.auth.dependencies import require_roles
from api.auth.schemas import User
from api.db import SessionDep
from api.follow_ups.models import FollowUp
from api.follow_ups.schemas import OPEN, FollowUpList, FollowUpOut
from api.follow_ups.service import is_open
from api.handovers.service import latest_handovers
from api.incidents.models import Incident
from api.models_base import as_utc, utcnow

router = APIRouter(prefix="/api/v1/chat", tags=["follow-ups"])

Chat = Annotated[User, Depends(require_roles("service"))]
StaffId = Annotated[str, Query(min_length=1, max_length=128, description="the verified channel's staff id")]


@router.get("/follow-ups", response_model=FollowUpList)
def due_for_staff(
    user: Chat,
    session: SessionDep,
    staff_id: StaffId,
    within_hours: Annotated[float, Query(ge=0, le=24 * 366)] = 24,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> FollowUpList:
    now = utcnow()
    # The incident's counsellor now: after a handover the one it was handed to (api/handovers).
    latest = latest_handovers()
    handed = latest.c.incident_id.is_not(None)
    counsellor = case((handed, latest.c.staff_id), else_=Incident.staff_id)
    location = case((handed, latest.c.location), else_=Incident.location)
    rows = session.execute(
        select(FollowUp, Incident, location).join(Incident, Incident.id == FollowUp.incident_id)
        .join(latest, latest.c.incident_id == Incident.id, isouter=True)
        .where(access.chat_follow_ups_filter(user, counsellor, staff_id), is_open(),
               FollowUp.due_at <= now + timedelta(hours=within_hours))
        .order_by(FollowUp.due_at, FollowUp.id).limit(limit)
    ).all()  # fmt: skip
    items = [
        FollowUpOut(id=f.id, action=f.action, organisation=f.organisation, due_at=as_utc(f.due_at), status=OPEN,
                    key=f.key, norm=f.norm, incident_id=i.id, reference=i.reference, location=here,
                    overdue=as_utc(f.due_at) < now)
        for f, i, here in rows
    ]  # fmt: skip
    overdue = sum(1 for item in items if item.overdue)
    return FollowUpList(items=items, total=len(items), open=len(items), overdue=overdue)
