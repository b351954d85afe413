"""FastAPI dependencies: the current user and role checks.

401 when there is no valid token, 403 when the token is valid but the role is not
allowed. Scoping to locations / own incidents is done by each domain's service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth.schemas import Role, User
from api.auth.service import InvalidToken, decode_token
from api.config import Settings, get_settings

# auto_error=False: we answer 401 with a WWW-Authenticate header ourselves.
_bearer = HTTPBearer(auto_error=False, description="JWT from /api/v1/auth/login or `make token`")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token")
    try:
        return decode_token(settings, credentials.credentials)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc


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
