"""Review endpoints: append a review event (transition and/or note), read the
history, and the counsellor's list of requested corrections.

Who may do which transition is in ``api/reviews/transitions.py`` (one table).
Reading the history follows the incident read scope. The service role is refused.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.auth.dependencies import StaffUser
from api.db import SessionDep
from api.reviews import service
from api.reviews.schemas import CorrectionItem, ReviewEventCreate, ReviewEventOut, ReviewHistory

router = APIRouter(prefix="/api/v1", tags=["reviews"])

_ERRORS = {
    403: {"description": "not allowed to make this transition"},
    404: {"description": "incident not found or not in scope"},
    409: {"description": "transition not in the table"},
}


@router.post(
    "/incidents/{incident_id}/review-events",
    response_model=ReviewEventOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,  # type: ignore[arg-type]
)
def add_review_event(
    incident_id: str, payload: ReviewEventCreate, user: StaffUser, session: SessionDep
) -> ReviewEventOut:
    try:
        return service.append(session, user, incident_id, payload)
    except service.ReviewError as exc:
        raise HTTPException(exc.status_code, detail=exc.detail) from exc


@router.get("/incidents/{incident_id}/review-events", response_model=ReviewHistory, responses={404: _ERRORS[404]})
def review_history(incident_id: str, user: StaffUser, session: SessionDep) -> ReviewHistory:
    try:
        return service.history(session, user, incident_id)
    except service.ReviewError as exc:
        raise HTTPException(exc.status_code, detail=exc.detail) from exc


@router.get("/me/corrections", response_model=list[CorrectionItem])
def my_corrections(user: StaffUser, session: SessionDep) -> list[CorrectionItem]:
    """Own incidents (by pseudonymous staff id) where a reviewer asked for a correction."""
    return service.my_corrections(session, user)
