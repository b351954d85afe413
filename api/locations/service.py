from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit.service import record_change
from api.auth.schemas import User
from api.locations.models import Location
from api.locations.schemas import LocationChange, LocationCreate


class LocationError(Exception):
    """Semantic errors, in the shape of FastAPI's 422 ``detail`` items."""

    def __init__(self, loc: str, msg: str, value: object = None) -> None:
        super().__init__(msg)
        self.errors = [{"type": "value_error", "loc": ("body", loc), "msg": msg, "input": value}]


def normalise_code(code: str) -> str:
    return code.strip().upper()


def list_locations(session: Session) -> list[Location]:
    return list(session.scalars(select(Location).order_by(Location.code)))


def get_location(session: Session, code: str) -> Location | None:
    return session.get(Location, normalise_code(code))


def _alias_owner(session: Session, aliases: list[str], skip: str | None = None) -> tuple[str, str] | None:
    """Another location that already answers to one of ``aliases`` (a message would be ambiguous)."""
    for location in list_locations(session):
        if location.code == skip:
            continue
        taken = {location.name.lower(), location.code.lower(), *location.aliases}
        for alias in aliases:
            if alias in taken:
                return alias, location.code
    return None


def create_location(session: Session, user: User, payload: LocationCreate) -> Location:
    if session.get(Location, payload.code) is not None:
        raise LocationError("code", f"location code '{payload.code}' is already taken", payload.code)
    clash = _alias_owner(session, [payload.name.lower(), *payload.aliases])
    if clash:
        raise LocationError("aliases", f"'{clash[0]}' already names location {clash[1]}", clash[0])
    location = Location(code=payload.code, name=payload.name, aliases=payload.aliases)
    session.add(location)
    record_change(session, user, "location", payload.code, "create")
    session.commit()
    return location


def change_location(session: Session, user: User, location: Location, payload: LocationChange) -> Location:
    name = payload.name if payload.name is not None else location.name
    aliases = payload.aliases if payload.aliases is not None else list(location.aliases)
    clash = _alias_owner(session, [name.lower(), *aliases], skip=location.code)
    if clash:
        raise LocationError("aliases", f"'{clash[0]}' already names location {clash[1]}", clash[0])
    # A location row is reference data, not history: its name may be corrected in place
    # (incidents keep the code); the audit log says who changed it and when.
    location.name, location.aliases = name, aliases
    record_change(session, user, "location", location.code, "update")
    session.commit()
    return location
