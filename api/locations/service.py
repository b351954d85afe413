from __future__ import annotations

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from api.locations.models import KEY_POSITIONS, KeyPositionHolder, Location


def normalise_code(code: str) -> str:
    return code.strip().upper()


def list_locations(session: Session) -> list[Location]:
    return list(session.scalars(select(Location).order_by(Location.code)))


def get_location(session: Session, code: str) -> Location | None:
    return session.get(Location, normalise_code(code))


def key_positions(session: Session, code: str) -> list[KeyPositionHolder]:
    # Listed in the order of KEY_POSITIONS (safety first), not alphabetically.
    order = case(
        {position: index for index, position in enumerate(KEY_POSITIONS)}, value=KeyPositionHolder.position
    )
    stmt = (
        select(KeyPositionHolder)
        .where(KeyPositionHolder.location_code == normalise_code(code))
        .order_by(order, KeyPositionHolder.name)
    )
    return list(session.scalars(stmt))
