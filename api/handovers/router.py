"""Handover endpoints: an incident's handover history, and handing it over.

Reading: whoever reads the incident (where it was recorded or where it is now).
Handing over: a supervisor of the location where the incident is now, or an admin
(``access.may_hand_over``); the rest of its readers get 403, everyone else 404.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError

from api.auth.dependencies import StaffUser
from api.db import SessionDep
from api.handovers import service
from api.handovers.schemas import HandoverCreate, HandoverList, HandoverOut

router = APIRouter(prefix="/api/v1/incidents", tags=["handovers"])

NOT_FOUND = "incident not found"


@router.get("/{incident_id}/handovers", response_model=HandoverList,
            responses={404: {"description": "not found or not yours"}})  # fmt: skip
def list_handovers(incident_id: str, user: StaffUser, session: SessionDep) -> HandoverList:
    incident = service.load(session, incident_id)
    if incident is None or not service.readable(session, user, incident):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NOT_FOUND)
    return service.history(session, incident)


@router.post(
    "/{incident_id}/handovers",
    response_model=HandoverOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "you read this incident but do not hand it over"},
        404: {"description": "not found or not yours"},
        409: {"description": "another handover of this incident was recorded at the same moment"},
        422: {"description": "unknown counsellor or location, or the incident is there already"},
    },
)
def hand_over(incident_id: str, payload: HandoverCreate, user: StaffUser, session: SessionDep) -> HandoverOut:
    try:
        return service.hand_over(session, user, incident_id, payload)
    except service.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NOT_FOUND) from exc
    except service.Refused as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail="handed over by a supervisor of the incident's current location "
                                   "or an admin") from exc  # fmt: skip
    except service.Invalid as exc:
        raise RequestValidationError(exc.errors) from exc
    except service.Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="another handover was recorded first; reload") from exc
