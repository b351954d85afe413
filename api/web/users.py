"""The admin page for local user accounts (Dutch): create, change role and
locations, deactivate. With ``COA_AUTH_MODE=oidc`` roles come from the identity
provider: the page lists the accounts read-only and refuses every change.

| route | roles |
| --- | --- |
| ``GET /gebruikers`` | admin |
| ``POST /gebruikers`` | admin (local mode): a new account |
| ``POST /gebruikers/{id}`` | admin (local mode): role and locations |
| ``POST /gebruikers/{id}/deactiveren`` | admin (local mode): no more login, sessions end at once |
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.auth.cookies import CSRF_FORM_FIELD, csrf_matches
from api.auth.schemas import User
from api.config import get_settings
from api.db import SessionDep
from api.locations.service import list_locations
from api.users import service
from api.users.schemas import UserChange, UserCreate, UserId
from api.web.directory import STALE_FORM
from api.web.pages import ROLE_LABELS, render, require_page_roles

router = APIRouter(include_in_schema=False)

AdminPageUser = Annotated[User, require_page_roles("admin")]
STAFF_ROLES = ("counsellor", "contact_person", "supervisor", "admin")
OIDC_NOTE = "Rollen en locaties komen uit Entra ID (OIDC): wijzig ze daar. Deze lijst is alleen-lezen."
SAVED = {"aangemaakt": "Gebruiker aangemaakt.", "gewijzigd": "Gebruiker gewijzigd.",
         "gedeactiveerd": "Gebruiker gedeactiveerd: inloggen kan niet meer en de sessies zijn beëindigd."}


def _read_only() -> bool:
    return get_settings().auth_mode == "oidc"


def _page(request: Request, session: Any, user: User, *, errors: list[str] | None = None,
          values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    return render(request, "users/list.html", {
        "user": user, "accounts": service.list_users(session), "locations": list_locations(session),
        "roles": STAFF_ROLES, "role_labels": ROLE_LABELS, "read_only": _read_only(), "oidc_note": OIDC_NOTE,
        "errors": errors or [], "values": values or {},
        "saved": SAVED.get(request.query_params.get("opgeslagen", "")),
    }, status_code=status_code)


def _messages(exc: ValidationError | service.UserError) -> list[str]:
    items = exc.errors() if isinstance(exc, ValidationError) else exc.errors
    return [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: "
            f"{str(e.get('msg', '')).removeprefix('Value error, ')}" for e in items]


async def _form(request: Request) -> tuple[bool, Any]:
    form = await request.form()
    return csrf_matches(request, str(form.get(CSRF_FORM_FIELD) or "")), form


def _refused(request: Request, session: Any, user: User, ok: bool) -> Response | None:
    if _read_only():
        return _page(request, session, user, errors=[OIDC_NOTE], status_code=409)
    if not ok:
        return _page(request, session, user, errors=[STALE_FORM], status_code=403)
    return None


@router.get("/gebruikers")
def users_page(request: Request, session: SessionDep, user: AdminPageUser) -> Response:
    return _page(request, session, user)


@router.post("/gebruikers")
async def create_user(request: Request, session: SessionDep, user: AdminPageUser) -> Response:
    ok, form = await _form(request)
    if (refused := _refused(request, session, user, ok)) is not None:
        return refused
    values = {"username": str(form.get("username") or ""), "role": str(form.get("role") or ""),
              "locations": [str(code) for code in form.getlist("locations")]}
    try:
        service.create_user(session, user, UserCreate.model_validate(
            {**values, "password": str(form.get("password") or "")}))
    except (ValidationError, service.UserError) as exc:
        session.rollback()
        return _page(request, session, user, errors=_messages(exc), values=values, status_code=422)
    return RedirectResponse("/gebruikers?opgeslagen=aangemaakt", status_code=303)


def _account_or_404(request: Request, session: Any, user: User, user_id: int) -> Any:
    account = service.get_user(session, user_id)
    if account is None:
        return None, _page(request, session, user, errors=["Deze gebruiker bestaat niet."], status_code=404)
    return account, None


@router.post("/gebruikers/{user_id}")
async def change_user(request: Request, user_id: UserId, session: SessionDep, user: AdminPageUser) -> Response:
    ok, form = await _form(request)
    if (refused := _refused(request, session, user, ok)) is not None:
        return refused
    account, missing = _account_or_404(request, session, user, user_id)
    if missing is not None:
        return missing
    try:
        payload = UserChange.model_validate({"role": str(form.get("role") or "") or None,
                                             "locations": [str(code) for code in form.getlist("locations")]})
        service.change_user(session, user, account, payload)
    except (ValidationError, service.UserError) as exc:
        session.rollback()
        return _page(request, session, user, errors=_messages(exc), status_code=422)
    return RedirectResponse("/gebruikers?opgeslagen=gewijzigd", status_code=303)


@router.post("/gebruikers/{user_id}/deactiveren")
async def deactivate_user(request: Request, user_id: UserId, session: SessionDep, user: AdminPageUser) -> Response:
    ok, _form_data = await _form(request)
    if (refused := _refused(request, session, user, ok)) is not None:
        return refused
    account, missing = _account_or_404(request, session, user, user_id)
    if missing is not None:
        return missing
    try:
        service.deactivate(session, user, account)
    except service.UserError as exc:
        session.rollback()
        return _page(request, session, user, errors=_messages(exc), status_code=422)
    return RedirectResponse("/gebruikers?opgeslagen=gedeactiveerd", status_code=303)
