"""Incident endpoints.

Writing is for the action server's service credential only. Reading is for staff,
scoped by role; the service role gets 403 on reads, so that a leaked action-server
token cannot be used to read recorded cases.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError

from api.auth.dependencies import ServiceUser, StaffUser
from api.db import SessionDep
from api.directory import service as directory
from api.incidents import service
from api.incidents.schemas import IncidentCreate, IncidentDetail, IncidentList, IncidentOut
from api.knowledge_ref import KnowledgeDep
from api.security.bounds import Offset

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


@router.post(
    "",
    response_model=IncidentOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": IncidentOut, "description": "idempotency_key seen before: the existing incident"}
    },
)
def create_incident(
    payload: IncidentCreate,
    _user: ServiceUser,
    session: SessionDep,
    knowledge: KnowledgeDep,
    response: Response,
) -> IncidentOut:
    try:
        incident, created = service.create_incident(session, knowledge, payload)
    except service.IncidentValidationError as exc:
        raise RequestValidationError(exc.errors) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return incident


@router.get("", response_model=IncidentList)
def list_incidents(
    user: StaffUser,
    session: SessionDep,
    conversation_id: str | None = None,
    location: str | None = None,
    protocol: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> IncidentList:
    filters = service.IncidentFilters(conversation_id=conversation_id, location=location, protocol=protocol)
    items, total = service.list_incidents(session, user, filters, limit=limit, offset=offset)
    return IncidentList(items=items, total=total)


@router.get(
    "/{incident_id}", response_model=IncidentDetail, responses={404: {"description": "not found or not yours"}}
)
def get_incident(incident_id: str, user: StaffUser, session: SessionDep) -> IncidentDetail:
    incident = service.get_incident(session, user, incident_id)
    if incident is None:
        # 404 rather than 403 outside the user's scope: do not confirm that it exists.
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="incident not found")
    holders = directory.holders_when_recorded(session, incident.location, incident.created_at)
    detail = IncidentDetail.model_validate(incident, from_attributes=True)
    return detail.model_copy(update={"key_position_holders": holders})
