"""Locations and who to contact for their key positions: readable by every role, the
service role included (the action server tells counsellors whom to call). Admins
create locations; admins and the location's supervisors change name and aliases."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError

from api import access
from api.auth.dependencies import CurrentUser, StaffUser
from api.db import SessionDep
from api.directory import service as directory
from api.directory.schemas import EARLIEST, LATEST, HolderOut
from api.locations import service
from api.locations.models import Location
from api.locations.schemas import LocationChange, LocationCreate, LocationOut

router = APIRouter(prefix="/api/v1/locations", tags=["locations"])


def _location(session: SessionDep, code: str) -> Location:
    location = service.get_location(session, code)
    if location is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown location code '{code}'")
    return location


@router.get("", response_model=list[LocationOut])
def list_locations(_user: CurrentUser, session: SessionDep) -> list[LocationOut]:
    return [LocationOut.model_validate(location) for location in service.list_locations(session)]


@router.post("", response_model=LocationOut, status_code=status.HTTP_201_CREATED,
             responses={403: {"description": "admins only"},
                        422: {"description": "code taken, alias of another location"}})
def create_location(payload: LocationCreate, user: StaffUser, session: SessionDep) -> LocationOut:
    if not access.may_create_location(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only an admin creates locations")
    try:
        return LocationOut.model_validate(service.create_location(session, user, payload))
    except service.LocationError as exc:
        raise RequestValidationError(exc.errors) from exc


@router.patch("/{code}", response_model=LocationOut, responses={404: {"description": "unknown location code"}})
def change_location(code: str, payload: LocationChange, user: StaffUser, session: SessionDep) -> LocationOut:
    location = _location(session, code)
    if not access.may_manage_directory(user, location.code):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="an admin or a supervisor of this location")
    try:
        return LocationOut.model_validate(service.change_location(session, user, location, payload))
    except service.LocationError as exc:
        raise RequestValidationError(exc.errors) from exc


@router.get(
    "/{code}/key-positions",
    response_model=list[HolderOut],
    responses={404: {"description": "unknown location code"}},
)
def list_key_positions(code: str, _user: CurrentUser, session: SessionDep, on: date | None = None) -> list[HolderOut]:
    """Who to contact per key position on ``on`` (default today): a deputy valid that
    day, else the holder. A position nobody covers is not listed."""
    location = _location(session, code)
    if on is not None and not EARLIEST <= on <= LATEST:
        raise HTTPException(422, detail=f"'on' must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    return directory.holders_on(session, location.code, on)
