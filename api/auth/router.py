"""POST /api/v1/auth/login: username + password (JSON or OAuth2 form) → bearer token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.auth import login_sessions
from api.auth.chat_token import create_chat_token, token_expiry
from api.auth.cookies import SESSION_COOKIE
from api.auth.dependencies import StaffUser
from api.auth.schemas import ChatTokenResponse, LoginRequest, TokenResponse
from api.auth.service import authenticate
from api.config import Settings, get_settings
from api.db import SessionDep
from api.security.login_guard import client_address, guard_of, too_many_message

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
    responses={
        401: {"description": "unknown user or wrong password"},
        429: {"description": "too many logins from this address, or failed logins of this account"},
    },
)
def login(
    request: Request,
    payload: Annotated[LoginRequest, Depends(_login_payload)],
    session: SessionDep,
    settings: Annotated[Settings, Depends(get_settings)],
) -> TokenResponse:
    guard, client = guard_of(request), client_address(request)
    wait = guard.retry_after(payload.username, client)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, detail=too_many_message(wait), headers={"Retry-After": str(wait)}
        )
    account = authenticate(session, payload.username, payload.password)
    if account is None:
        guard.failed(payload.username)
        # Same answer for unknown user and wrong password: do not reveal accounts.
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="unknown username or wrong password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    guard.succeeded(payload.username, client)
    token, _sid, expires_in = login_sessions.start(session, settings, account)
    return TokenResponse(access_token=token, expires_in=expires_in)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        401: {"description": "no valid token, or its login has already ended"},
        409: {"description": "a hand-minted token (make token) has no login to end; it expires on its own"},
    },
)
def logout(user: StaffUser, session: SessionDep) -> Response:
    """End the login of this token (bearer, or the session cookie with ``X-CSRF-Token``):
    from now on the token and the cookie are refused (401)."""
    if user.sid is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="this token has no login session to end")
    login_sessions.end(session, user.sid, "logout")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
