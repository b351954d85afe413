"""Who may see what, and who may review what: the ONE place for it.

The pattern of Signalen's ``filter_for_user``: per role a SQL filter (for lists,
counts and aggregates) and the same rule as a Python check (for one loaded row),
plus the review transitions a user may make on an incident. Every route and page
asks this module; none writes its own role test, so a new route cannot forget a
rule or get one subtly different.

| role | rows it may read | review |
| --- | --- | --- |
| admin | all | never |
| supervisor | its locations | ``reviewer`` transitions there, never on an incident it recorded (four eyes) |
| contact_person | its locations | never |
| counsellor | its own (``staff_id`` = the token's ``sub``) | ``author`` transitions on its own incidents |
| service, anything else | nothing | never |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from api.auth.schemas import User
from api.reviews.transitions import TRANSITIONS, Actor, allowed_from

#: Roles that read by location; admins read everything, counsellors their own.
LOCATION_ROLES = frozenset({"contact_person", "supervisor"})
#: Roles that see aggregates (indicators, the dashboard): never per-person data.
AGGREGATE_ROLES = frozenset({"contact_person", "supervisor", "admin"})


def row_filter(user: User, location_col: Any, staff_col: Any | None = None) -> ColumnElement[bool]:
    """SQL condition: the rows ``user`` may read. ``staff_col`` is the column with the
    pseudonymous staff id of whoever recorded the row (None: the table has none, so a
    counsellor sees nothing of it)."""
    if user.role == "admin":
        return true()
    if user.role in LOCATION_ROLES:
        return location_col.in_(user.locations)
    if user.role == "counsellor" and staff_col is not None:
        return staff_col == user.sub
    return false()


def aggregate_filter(user: User, location_col: Any) -> ColumnElement[bool]:
    """SQL condition for counts and indicators: whole locations, never per person."""
    if user.role not in AGGREGATE_ROLES:
        return false()
    return row_filter(user, location_col)


def can_read(user: User, location: str | None, staff_id: str | None) -> bool:
    """The Python twin of ``row_filter`` for one loaded row."""
    if user.role == "admin":
        return True
    if user.role in LOCATION_ROLES:
        return location in user.locations
    if user.role == "counsellor":
        return staff_id is not None and staff_id == user.sub
    return False


def is_author(user: User, staff_id: str | None) -> bool:
    """Recorded by this user (whatever its role: a supervisor may chat too)."""
    return staff_id is not None and staff_id == user.sub


def is_reviewer(user: User, location: str | None, staff_id: str | None) -> bool:
    """A supervisor of the location who did not record the incident (four eyes)."""
    return user.role == "supervisor" and location in user.locations and not is_author(user, staff_id)


def may_act(user: User, actor: Actor, location: str | None, staff_id: str | None) -> bool:
    if actor == "reviewer":
        return is_reviewer(user, location, staff_id)
    return user.role == "counsellor" and is_author(user, staff_id)


def may_note(user: User, status: str, location: str | None, staff_id: str | None) -> bool:
    """A note alone: a reviewer, or the counsellor who recorded it while a correction is asked."""
    if is_reviewer(user, location, staff_id):
        return True
    return status == "correctie_gevraagd" and may_act(user, "author", location, staff_id)


def allowed_transitions(user: User, status: str, location: str | None, staff_id: str | None) -> list[str]:
    """The target statuses ``user`` may choose from ``status`` (what a page offers)."""
    return [
        target for target in allowed_from(status) if may_act(user, TRANSITIONS[(status, target)], location, staff_id)
    ]


def refusal(user: User, actor: Actor, location: str | None, staff_id: str | None) -> str:
    """Why ``may_act`` said no, for the 403 detail."""
    if actor == "reviewer" and user.role == "supervisor" and is_author(user, staff_id):
        return "four eyes: you recorded this incident yourself, another supervisor of the location reviews it"
    if actor == "reviewer":
        return "done by a supervisor of the incident's location"
    return "done by the counsellor who recorded the incident"


# --------------------------------------------------------------------------- directory and users (issue 17)


def may_manage_directory(user: User, location: str | None) -> bool:
    """Create, change and end key-position assignments of ``location``; change its name and aliases:
    admins everywhere, supervisors on their own locations."""
    if user.role == "admin":
        return True
    return user.role == "supervisor" and location in user.locations


def may_create_location(user: User) -> bool:
    return user.role == "admin"


def may_confirm_follow_up(user: User, location: str | None, staff_id: str | None) -> bool:
    """Mark a follow-up of this incident done, not done or lapsed (issue 15, "Mijn acties"):
    whoever reads it as counsellor, contact person or supervisor; admins read only."""
    return user.role in ("counsellor", *LOCATION_ROLES) and can_read(user, location, staff_id)


# --------------------------------------------------------------------------- handover and the record (issue 15 part 6)
#
# An incident handed over (api/handovers) has two places: where it was recorded (the
# incident row: that location's staff and the recording counsellor keep reading their
# record and review it there) and where it is now (its latest handover's counsellor and
# location: they read it too, and only they work on its open follow-ups). ``latest`` is
# a selectable with the columns incident_id, location, staff_id of each incident's
# latest handover (``api.handovers.service.latest_handovers``).


def _handed_to(user: User, incident_id_col: Any, latest: Any) -> ColumnElement[bool]:
    """The incident's latest handover puts it in ``user``'s scope."""
    return incident_id_col.in_(
        select(latest.c.incident_id).where(row_filter(user, latest.c.location, latest.c.staff_id))
    )


def incident_filter(user: User, incident: Any, latest: Any) -> ColumnElement[bool]:
    """SQL: the incidents ``user`` may read: in scope where recorded or where handed to."""
    if user.role == "admin":
        return true()
    return or_(row_filter(user, incident.location, incident.staff_id), _handed_to(user, incident.id, latest))


def current_filter(user: User, incident: Any, latest: Any) -> ColumnElement[bool]:
    """SQL: the incidents whose follow-ups ``user`` works on: in scope where the incident is now."""
    if user.role == "admin":
        return true()
    never_handed = incident.id.not_in(select(latest.c.incident_id))
    return or_(and_(never_handed, row_filter(user, incident.location, incident.staff_id)),
               _handed_to(user, incident.id, latest))  # fmt: skip


def can_read_incident(user: User, recorded: tuple[str, str | None], current: tuple[str, str | None]) -> bool:
    """The Python twin of ``incident_filter``: (location, staff_id) recorded and now."""
    return can_read(user, *recorded) or can_read(user, *current)


def may_hand_over(user: User, current_location: str | None) -> bool:
    """Hand an incident to another counsellor or location: a supervisor of the location
    where it is now, or an admin."""
    return user.role == "admin" or (user.role == "supervisor" and current_location in user.locations)


def may_export_ibis(user: User) -> bool:
    """The IBIS export is registration work of the locations: contact persons and supervisors
    (their locations) and admins; a counsellor registers through them."""
    return user.role in AGGREGATE_ROLES


def chat_follow_ups_filter(user: User, staff_col: Any, staff_id: str) -> ColumnElement[bool]:
    """SQL condition for the chat's question about open follow-ups: the service credential
    (the action server) reads those of the counsellor it talks to, named by the staff id a
    verified channel stated; ``unverified`` (the open REST channel) names nobody."""
    if user.role != "service" or not staff_id or staff_id == "unverified":
        return false()
    return staff_col == staff_id
