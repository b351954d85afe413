"""HTML pages: login/logout and the protocol pages (Dutch)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.auth import login_sessions
from api.auth.cookies import (
    CSRF_FORM_FIELD,
    clear_session_cookie,
    csrf_matches,
    new_csrf_token,
    set_csrf_cookie,
    set_session_cookie,
)
from api.auth.schemas import LoginRequest
from api.auth.service import authenticate
from api.config import Settings, get_settings
from api.db import SessionDep
from api.knowledge_ref import KnowledgeDep
from api.protocols import service
from api.security.login_guard import client_address, guard_of
from api.web.pages import PageUser, current_page_user, render, safe_next
from knowledge import QUESTION_KINDS

router = APIRouter(include_in_schema=False)

SettingsDep = Annotated[Settings, Depends(get_settings)]

WRONG_CREDENTIALS = "Onbekende gebruikersnaam of onjuist wachtwoord."
STALE_FORM = "Het formulier was verlopen. Probeer het opnieuw."


@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    target = "/protocollen" if current_page_user(request, session) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login")
def login_form(
    request: Request, session: SessionDep, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    if current_page_user(request, session) is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    context = {"user": None, "next": safe_next(next_path), "error": None, "username": ""}
    return render(request, "login.html", context)


@router.post("/login")
async def login_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""))

    def again(error: str, status_code: int) -> Response:
        # A fresh CSRF token with every failed attempt. Wrong credentials answer 200
        # with the form again (a 401 would need a WWW-Authenticate challenge).
        token = new_csrf_token()
        response = render(
            request,
            "login.html",
            {"user": None, "next": next_path, "error": error, "username": username, "csrf_token": token},
            status_code=status_code,
        )
        set_csrf_cookie(response, token, settings)
        return response

    if not csrf_matches(request, str(form.get(CSRF_FORM_FIELD) or "")):
        return again(STALE_FORM, 400)
    try:
        credentials = LoginRequest(username=username, password=password)
    except ValueError:
        return again(WRONG_CREDENTIALS, 200)
    guard, client = guard_of(request), client_address(request)
    wait = guard.retry_after(credentials.username, client)
    if wait is not None:
        response = again(f"Te veel mislukte pogingen voor dit account. Probeer het over {math.ceil(wait / 60)} "
                         "minuten opnieuw.", 429)  # fmt: skip
        response.headers["Retry-After"] = str(wait)
        return response
    account = authenticate(session, credentials.username, credentials.password)
    if account is None:
        guard.failed(credentials.username)
        return again(WRONG_CREDENTIALS, 200)
    guard.succeeded(credentials.username, client)
    token, sid, _ttl = login_sessions.start(session, settings, account)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, token, settings)
    # Rotated at login and bound to it (api/auth/login_sessions.py).
    set_csrf_cookie(response, login_sessions.csrf_for(settings, sid), settings)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    user = current_page_user(request, session)  # binds the CSRF check to the login
    if not csrf_matches(request, str(form.get(CSRF_FORM_FIELD) or "")):
        return render(
            request,
            "error.html",
            {"title": "Uitloggen mislukt", "message": STALE_FORM},
            status_code=403,
        )
    if user is not None and user.sid is not None:
        # Ends the login on the server: the old cookie (and its token) no longer work.
        login_sessions.end(session, user.sid, "logout")
    response = RedirectResponse("/login?uitgelogd=1", status_code=303)
    clear_session_cookie(response, settings)
    set_csrf_cookie(response, new_csrf_token(), settings)
    return response


@router.get("/protocollen")
def protocol_list(request: Request, user: PageUser, knowledge: KnowledgeDep) -> Response:
    protocols = [service.summary(protocol) for protocol in service.ordered(knowledge)]
    general = service.summary(knowledge.general_path) if knowledge.general_path else None
    return render(request, "protocols/list.html", {"user": user, "protocols": protocols, "general": general})


@router.get("/protocollen/{protocol_id}")
def protocol_page(request: Request, protocol_id: str, user: PageUser, knowledge: KnowledgeDep) -> Response:
    protocol = knowledge.guide(protocol_id)  # a protocol or the safe general path
    if protocol is None:
        return render(
            request,
            "error.html",
            {
                "user": user,
                "title": "Protocol niet gevonden",
                "message": "Dit protocol bestaat niet (meer). Kies een protocol uit de lijst.",
                "back": ("/protocollen", "Naar alle protocollen"),
            },
            status_code=404,
        )
    detail = service.detail(protocol, knowledge)
    steps_by_id = {step.id: step for step in detail.steps}
    return render(
        request,
        "protocols/detail.html",
        {
            "user": user,
            "protocol": detail,
            "steps_by_id": steps_by_id,
            "edges": {step.id: service.edges(step) for step in protocol.steps.values()},
            "organisations": {org.id: org for org in detail.organisations},
            "protocol_titles": {other.id: other.title for other in knowledge.protocols.values()},
            "mermaid_source": service.mermaid_source(protocol, knowledge),
            "kind_labels": service.KIND_LABELS,
            "question_kinds": QUESTION_KINDS,
            "anchor": service.step_anchor,
            "is_web_url": service.is_web_url,
            "verify_count": sum(1 for step in detail.steps if step.verify),
        },
    )
