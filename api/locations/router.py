"""Locations and key positions: readable by every role, the service role included
(the action server tells counsellors whom to call)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.auth.dependencies import CurrentUser
from api.db import SessionDep
from api.locations import service
from api.locations.schemas import KeyPositionOut, LocationOut

router = APIRouter(prefix="/api/v1/locations", tags=["locations"])


@router.get("", response_model=list[LocationOut])
def list_locations(_user: CurrentUser, session: SessionDep) -> list[LocationOut]:
    return [LocationOut.model_validate(location) for location in service.list_locations(session)]


@router.get(
    "/{code}/key-positions",
    response_model=list[KeyPositionOut],
    responses={404: {"description": "unknown location code"}},
)
def list_key_positions(code: str, _user: CurrentUser, session: SessionDep) -> list[KeyPositionOut]:
    if service.get_location(session, code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown location code '{code}'")
    return [KeyPositionOut.model_validate(holder) for holder in service.key_positions(session, code)]
