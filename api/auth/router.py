"""POST /api/v1/auth/login: username + password (JSON or OAuth2 form) → bearer token."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.auth.chat_token import create_chat_token, token_expiry
from api.auth.cookies import SESSION_COOKIE
from api.auth.dependencies import StaffUser
from api.auth.schemas import ChatTokenResponse, LoginRequest, TokenResponse
from api.auth.service import authenticate, create_token
from api.config import Settings, get_settings
from api.db import SessionDep

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_LOGIN_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}},
}


async def _login_payload(request: Request) -> LoginRequest:
    # One endpoint for both: JSON for scripts and the dashboard, the OAuth2 password
    # form so that the "Authorize" button of /docs works.
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            raw: Any = {key: form.get(key) for key in ("username", "password") if key in form}
        else:
            raw = await request.json()
    except ValueError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": f"body is not valid JSON: {exc}",
                    "input": None,
                }
            ]
        ) from exc
    try:
        return LoginRequest.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        ) from exc


@router.post(
    "/login",
    response_model=TokenResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _LOGIN_BODY_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _LOGIN_BODY_SCHEMA},
            },
        }
    },
    responses={401: {"description": "unknown user or wrong password"}},
)
def login(
    payload: Annotated[LoginRequest, Depends(_login_payload)],
    session: SessionDep,
    settings: Annotated[Settings, Depends(get_settings)],
) -> TokenResponse:
    account = authenticate(session, payload.username, payload.password)
    if account is None:
        # Same answer for unknown user and wrong password: do not reveal accounts.
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="unknown username or wrong password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    ttl = timedelta(hours=settings.token_ttl_hours)
    token = create_token(
        settings, sub=account.staff_id, role=account.role, locations=account.locations, ttl=ttl
    )
    return TokenResponse(access_token=token, expires_in=int(ttl.total_seconds()))


@router.post(
    "/chat-token",
    response_model=ChatTokenResponse,
    responses={
        401: {"description": "no valid session cookie or bearer token"},
        403: {"description": "cookie without the X-CSRF-Token header, or a role that may not chat"},
    },
)
def chat_token(
    request: Request,
    user: StaffUser,
    settings: Annotated[Settings, Depends(get_settings)],
    response: Response,
) -> ChatTokenResponse:
    """A 15-minute token for the web chat socket (``aud: webchat``), for the logged-in
    staff member. Called by the chat page with the session cookie and ``X-CSRF-Token``
    (see ``api/auth/chat_token.py``); a bearer token works too."""
    header = request.headers.get("authorization", "")
    session = header.split(" ", 1)[1].strip() if header.lower().startswith("bearer ") else None
    session = session or request.cookies.get(SESSION_COOKIE)
    token, expires_in = create_chat_token(settings, user, not_after=token_expiry(session))
    response.headers["Cache-Control"] = "no-store"
    return ChatTokenResponse(token=token, expires_in=expires_in)
