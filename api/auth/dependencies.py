"""FastAPI dependencies: the current user and role checks.

401 when there is no valid token or its login has ended (logout, deactivated
account: ``api/auth/login_sessions.py``), 403 when the token is valid but the role
is not allowed. Scoping to locations / own incidents is done by each domain's service.

The token comes from the ``Authorization: Bearer`` header, or, for same-origin
fetches from our own pages, from the ``coa_session`` cookie (``api/auth/cookies.py``).
A header, when present, always wins. A cookie-authenticated request that changes
state must carry the CSRF token in ``X-CSRF-Token`` (403 otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api.auth import login_sessions
from api.auth.cookies import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, bind_csrf, csrf_matches
from api.auth.schemas import Role, User
from api.auth.service import InvalidToken, decode_token
from api.config import Settings, get_settings
from api.db import SessionDep

# auto_error=False: we answer 401 with a WWW-Authenticate header ourselves.
_bearer = HTTPBearer(auto_error=False, description="JWT from /api/v1/auth/login or `make token`")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="session cookie set by the web login (/login); state-changing requests also need X-CSRF-Token",
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie_token: Annotated[str | None, Depends(_cookie)],
    settings: Annotated[Settings, Depends(get_settings)],
    session: SessionDep,
) -> User:
    from_cookie = not ("authorization" in request.headers or not cookie_token)
    if not from_cookie:
        # A malformed Authorization header is an error, never a fall-back to the cookie.
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _unauthorized("missing bearer token")
        token = credentials.credentials
    else:
        assert cookie_token is not None
        token = cookie_token
    try:
        user = decode_token(settings, token)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc
    # Logged out, deactivated, expired login: refused at once (issue 14, finding 5).
    reason = login_sessions.refusal(session, user)
    if reason is not None:
        raise _unauthorized(reason)
    if from_cookie:
        bind_csrf(request, login_sessions.csrf_for(settings, user.sid) if user.sid else None)
        if request.method not in SAFE_METHODS and not csrf_matches(request, request.headers.get(CSRF_HEADER)):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"cookie-authenticated requests that change state need the {CSRF_HEADER} header "
                "with this login's CSRF token",
            )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    allowed = frozenset(roles)

    def _check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"role '{user.role}' may not do this; allowed: {', '.join(sorted(allowed))}",
            )
        return user

    return _check


ServiceUser = Annotated[User, Depends(require_roles("service"))]
StaffUser = Annotated[User, Depends(require_roles("counsellor", "contact_person", "supervisor", "admin"))]
AdminUser = Annotated[User, Depends(require_roles("admin"))]
