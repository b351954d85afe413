"""Key-position assignments of a location: admins everywhere, supervisors on their
own locations (``api.access.may_manage_directory``). Every write appends a version."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError

from api import access
from api.auth.dependencies import StaffUser
from api.auth.schemas import User
from api.db import SessionDep
from api.directory import service
from api.directory.models import KeyPositionAssignment
from api.directory.schemas import (
    AssignmentChange,
    AssignmentCreate,
    AssignmentEnd,
    AssignmentOut,
    AssignmentWithHistory,
    Gap,
)
from api.locations.service import get_location

router = APIRouter(prefix="/api/v1/locations/{code}", tags=["key positions"])

_ERRORS = {403: {"description": "not an admin or a supervisor of this location"},
           404: {"description": "unknown location or assignment"},
           422: {"description": "unknown position id, overlapping periods, ..."}}


def _allowed(session: SessionDep, user: User, code: str) -> str:
    location = get_location(session, code)
    if location is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown location code '{code}'")
    if not access.may_manage_directory(user, location.code):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="an admin or a supervisor of this location")
    return location.code


def _out(row: KeyPositionAssignment) -> AssignmentOut:
    return AssignmentOut.model_validate(row)


@router.get("/assignments", response_model=list[AssignmentWithHistory], responses=_ERRORS)
def list_assignments(code: str, user: StaffUser, session: SessionDep) -> list[AssignmentWithHistory]:
    """Every assignment (also ended ones) in its newest version, with all its versions."""
    location = _allowed(session, user, code)
    return [
        AssignmentWithHistory(**_out(row).model_dump(),
                              history=[_out(v) for v in service.history(session, row.assignment_id)])
        for row in service.current_rows(session, [location])
    ]


@router.get("/gaps", response_model=list[Gap], responses=_ERRORS)
def list_gaps(code: str, user: StaffUser, session: SessionDep) -> list[Gap]:
    """Key positions without a holder today (never filled, or the period ended)."""
    return service.gaps(session, [_allowed(session, user, code)])


@router.post("/assignments", response_model=AssignmentOut, status_code=status.HTTP_201_CREATED, responses=_ERRORS)
def create_assignment(code: str, payload: AssignmentCreate, user: StaffUser, session: SessionDep) -> AssignmentOut:
    location = _allowed(session, user, code)
    try:
        return _out(service.create(session, user, location, payload))
    except service.DirectoryError as exc:
        raise RequestValidationError(exc.errors) from exc


@router.patch("/assignments/{assignment_id}", response_model=AssignmentOut, responses=_ERRORS)
def change_assignment(
    code: str, assignment_id: str, payload: AssignmentChange, user: StaffUser, session: SessionDep
) -> AssignmentOut:
    location = _allowed(session, user, code)
    try:
        return _out(service.change(session, user, location, assignment_id, payload))
    except service.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except service.DirectoryError as exc:
        raise RequestValidationError(exc.errors) from exc


@router.post("/assignments/{assignment_id}/end", response_model=AssignmentOut, responses=_ERRORS)
def end_assignment(
    code: str, assignment_id: str, payload: AssignmentEnd, user: StaffUser, session: SessionDep
) -> AssignmentOut:
    location = _allowed(session, user, code)
    try:
        return _out(service.end(session, user, location, assignment_id, payload.last_day))
    except service.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except service.DirectoryError as exc:
        raise RequestValidationError(exc.errors) from exc
