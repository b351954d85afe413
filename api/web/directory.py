"""Pages to keep the key-position directory current (Dutch), and the locations.

The pages call ``api.directory.service`` and ``api.locations.service`` with the
logged-in user, after the same check as the JSON API (``api.access``): admins on
every location, supervisors on their own. Plain HTML forms with the CSRF field (no
script needed, so they work with the keyboard alone); after a change: 303 back.

| route | roles |
| --- | --- |
| ``GET /sleutelposities`` | supervisor, admin (their locations, the gaps; admins: new location) |
| ``GET /sleutelposities/{code}`` | supervisor of the location, admin |
| ``POST /sleutelposities/{code}/toewijzingen`` | the same: a new holder or deputy (``replaces``: succeeds one) |
| ``POST /sleutelposities/{code}/toewijzingen/{id}`` | the same: change contact details or period |
| ``POST /sleutelposities/{code}/toewijzingen/{id}/beeindigen`` | the same: end it |
| ``POST /sleutelposities/{code}/locatie`` | the same: name and aliases |
| ``POST /locaties`` | admin: a new location |
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api import access
from api.auth.cookies import CSRF_FORM_FIELD, csrf_matches
from api.auth.schemas import User
from api.db import SessionDep
from api.directory import service
from api.directory.schemas import AssignmentChange, AssignmentCreate
from api.locations import service as locations_service
from api.locations.models import Location
from api.locations.schemas import LocationChange, LocationCreate
from api.web.pages import render, require_page_roles
from knowledge import KEY_POSITIONS
from knowledge.local_time import local_today

router = APIRouter(include_in_schema=False)

DirectoryUser = Annotated[User, require_page_roles("supervisor", "admin")]

STALE_FORM = "Het formulier was verlopen. Probeer het opnieuw."
KIND_LABELS = {"houder": "Houder", "vervanger": "Vervanger"}
ACTION_LABELS = {"aangemaakt": "Aangemaakt", "gewijzigd": "Gewijzigd", "beeindigd": "Beëindigd"}
GAP_LABELS = {"nooit_bezet": "Nooit bezet", "periode_verlopen": "Periode verlopen"}
SAVED = {
    "aangemaakt": "Opgeslagen: de nieuwe toewijzing staat erin.",
    "gewijzigd": "Opgeslagen: de toewijzing is gewijzigd.",
    "beeindigd": "Opgeslagen: de toewijzing is beëindigd.",
    "locatie": "Opgeslagen: de locatie is gewijzigd.",
}


def _errors(exc: ValidationError | service.DirectoryError | locations_service.LocationError) -> list[str]:
    items = exc.errors() if isinstance(exc, ValidationError) else exc.errors
    messages = []
    for item in items:
        field = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        messages.append(f"{field}: {message}" if field else message)
    return messages


def _form_data(form: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: str(form.get(name)) for name in fields if form.get(name) is not None}


def _status(row: Any, today: date) -> str:
    if row.valid_until is not None and row.valid_until < row.valid_from:
        return "geannuleerd"
    if row.valid_until is not None and row.valid_until < today:
        return "beëindigd"
    if row.valid_from > today:
        return "toekomstig"
    return "actief"


def _my_locations(session: Any, user: User) -> list[Location]:
    return [loc for loc in locations_service.list_locations(session) if access.may_manage_directory(user, loc.code)]


def _overview(request: Request, session: Any, user: User, *, errors: list[str] | None = None,
              values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    locations = _my_locations(session, user)
    gaps = service.gaps(session, [loc.code for loc in locations])
    return render(request, "directory/overview.html", {
        "user": user, "locations": locations, "gaps": gaps, "gap_labels": GAP_LABELS,
        "may_create": access.may_create_location(user), "errors": errors or [], "values": values or {},
        "created": request.query_params.get("nieuw"),
    }, status_code=status_code)


def _location_page(request: Request, session: Any, user: User, location: Location, *,
                   errors: list[str] | None = None, values: dict[str, Any] | None = None,
                   status_code: int = 200) -> Response:
    today = local_today()
    rows = service.current_rows(session, [location.code])
    contacts = service.contacts(rows, today)
    return render(request, "directory/location.html", {
        "user": user, "location": location, "today": today, "positions": KEY_POSITIONS,
        "contacts": {p: [c for c in contacts if c.position == p] for p in KEY_POSITIONS},
        "assignments": [{"row": r, "status": _status(r, today), "history": service.history(session, r.assignment_id)}
                        for r in rows],
        "open_assignments": [r for r in rows if _status(r, today) in ("actief", "toekomstig")],
        "kind_labels": KIND_LABELS, "action_labels": ACTION_LABELS,
        "errors": errors or [], "values": values or {}, "saved": SAVED.get(request.query_params.get("opgeslagen", "")),
    }, status_code=status_code)


def _allowed_location(session: Any, user: User, code: str) -> Location | None:
    location = locations_service.get_location(session, code)
    if location is None or not access.may_manage_directory(user, location.code):
        return None
    return location


def _not_yours(request: Request, user: User) -> Response:
    # The same answer for an unknown location and one of someone else: 404.
    return render(request, "error.html", {
        "user": user, "title": "Locatie niet gevonden",
        "message": "Deze locatie bestaat niet of u beheert haar niet.",
        "back": ("/sleutelposities", "Naar sleutelposities"),
    }, status_code=404)


@router.get("/sleutelposities")
def overview(request: Request, session: SessionDep, user: DirectoryUser) -> Response:
    return _overview(request, session, user)


@router.get("/sleutelposities/{code}")
def location_page(request: Request, code: str, session: SessionDep, user: DirectoryUser) -> Response:
    location = _allowed_location(session, user, code)
    if location is None:
        return _not_yours(request, user)
    return _location_page(request, session, user, location)


async def _submitted(request: Request, fields: tuple[str, ...]) -> tuple[bool, dict[str, Any]]:
    form = await request.form()
    return csrf_matches(request, str(form.get(CSRF_FORM_FIELD) or "")), _form_data(form, fields)


@router.post("/sleutelposities/{code}/toewijzingen")
async def create_assignment(request: Request, code: str, session: SessionDep, user: DirectoryUser) -> Response:
    ok, data = await _submitted(request, ("position", "kind", "name", "phone", "teams_id", "email",
                                          "valid_from", "valid_until", "replaces"))
    location = _allowed_location(session, user, code)
    if location is None:
        return _not_yours(request, user)
    if not ok:
        return _location_page(request, session, user, location, errors=[STALE_FORM], values=data, status_code=403)
    try:
        service.create(session, user, location.code, AssignmentCreate.model_validate(data))
    except (ValidationError, service.DirectoryError) as exc:
        session.rollback()
        return _location_page(request, session, user, location, errors=_errors(exc), values=data, status_code=422)
    return RedirectResponse(f"/sleutelposities/{location.code}?opgeslagen=aangemaakt", status_code=303)


@router.post("/sleutelposities/{code}/toewijzingen/{assignment_id}")
async def change_assignment(
    request: Request, code: str, assignment_id: str, session: SessionDep, user: DirectoryUser
) -> Response:
    ok, data = await _submitted(request, ("name", "phone", "teams_id", "email", "valid_from", "valid_until"))
    location = _allowed_location(session, user, code)
    if location is None:
        return _not_yours(request, user)
    if not ok:
        return _location_page(request, session, user, location, errors=[STALE_FORM], status_code=403)
    # An emptied "until" field means open-ended: send it as null, not as "leave unchanged".
    data = {k: (v if v.strip() or k not in ("valid_until",) else None) for k, v in data.items()}
    try:
        service.change(session, user, location.code, assignment_id, AssignmentChange.model_validate(data))
    except service.NotFound:
        return _not_yours(request, user)
    except (ValidationError, service.DirectoryError) as exc:
        session.rollback()
        return _location_page(request, session, user, location, errors=_errors(exc), status_code=422)
    return RedirectResponse(f"/sleutelposities/{location.code}?opgeslagen=gewijzigd", status_code=303)


@router.post("/sleutelposities/{code}/toewijzingen/{assignment_id}/beeindigen")
async def end_assignment(
    request: Request, code: str, assignment_id: str, session: SessionDep, user: DirectoryUser
) -> Response:
    ok, data = await _submitted(request, ("last_day",))
    location = _allowed_location(session, user, code)
    if location is None:
        return _not_yours(request, user)
    if not ok:
        return _location_page(request, session, user, location, errors=[STALE_FORM], status_code=403)
    try:
        last_day = date.fromisoformat(data["last_day"]) if data.get("last_day", "").strip() else None
    except ValueError:
        return _location_page(request, session, user, location, errors=["last_day: geen geldige datum"],
                              status_code=422)
    try:
        service.end(session, user, location.code, assignment_id, last_day)
    except service.NotFound:
        return _not_yours(request, user)
    except service.DirectoryError as exc:
        session.rollback()
        return _location_page(request, session, user, location, errors=_errors(exc), status_code=422)
    return RedirectResponse(f"/sleutelposities/{location.code}?opgeslagen=beeindigd", status_code=303)


@router.post("/sleutelposities/{code}/locatie")
async def change_location(request: Request, code: str, session: SessionDep, user: DirectoryUser) -> Response:
    ok, data = await _submitted(request, ("name", "aliases"))
    location = _allowed_location(session, user, code)
    if location is None:
        return _not_yours(request, user)
    if not ok:
        return _location_page(request, session, user, location, errors=[STALE_FORM], status_code=403)
    try:
        locations_service.change_location(session, user, location, LocationChange.model_validate(data))
    except (ValidationError, locations_service.LocationError) as exc:
        session.rollback()
        return _location_page(request, session, user, location, errors=_errors(exc), status_code=422)
    return RedirectResponse(f"/sleutelposities/{location.code}?opgeslagen=locatie", status_code=303)


@router.post("/locaties")
async def create_location(request: Request, session: SessionDep, user: DirectoryUser) -> Response:
    ok, data = await _submitted(request, ("code", "name", "aliases"))
    if not access.may_create_location(user):
        return render(request, "error.html", {"user": user, "title": "Geen toegang",
                                              "message": "Alleen een beheerder maakt een locatie aan."},
                      status_code=403)
    if not ok:
        return _overview(request, session, user, errors=[STALE_FORM], values=data, status_code=403)
    try:
        location = locations_service.create_location(session, user, LocationCreate.model_validate(data))
    except (ValidationError, locations_service.LocationError) as exc:
        session.rollback()
        return _overview(request, session, user, errors=_errors(exc), values=data, status_code=422)
    return RedirectResponse(f"/sleutelposities?nieuw={location.code}", status_code=303)
