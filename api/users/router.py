"""``/api/v1/users``: admins manage local accounts. With ``COA_AUTH_MODE=oidc`` roles
come from the identity provider: the list is readable, every change answers 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.exceptions import RequestValidationError

from api.auth.dependencies import AdminUser
from api.auth.models import UserAccount
from api.auth.schemas import User
from api.config import Settings, get_settings
from api.db import SessionDep
from api.users import service
from api.users.schemas import UserChange, UserCreate, UserId, UserOut

router = APIRouter(prefix="/api/v1/users", tags=["users"])

OIDC_READ_ONLY = "users and roles come from the identity provider (COA_AUTH_MODE=oidc): change them there"


def _local_admin(user: AdminUser, settings: Annotated[Settings, Depends(get_settings)]) -> User:
    # After the token check: without a valid admin token nothing is said about the mode.
    if settings.auth_mode == "oidc":
        raise HTTPException(status.HTTP_409_CONFLICT, detail=OIDC_READ_ONLY)
    return user


LocalAdmin = Annotated[User, Depends(_local_admin)]


def _account(session: SessionDep, user_id: int) -> UserAccount:
    account = service.get_user(session, user_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user {user_id}")
    return account


@router.get("", response_model=list[UserOut])
def list_users(_user: AdminUser, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(account) for account in service.list_users(session)]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(payload: UserCreate, user: LocalAdmin, session: SessionDep) -> UserOut:
    try:
        return UserOut.model_validate(service.create_user(session, user, payload))
    except service.UserError as exc:
        raise RequestValidationError(exc.errors) from exc


@router.patch("/{user_id}", response_model=UserOut)
def change_user(user_id: UserId, payload: UserChange, user: LocalAdmin, session: SessionDep) -> UserOut:
    try:
        return UserOut.model_validate(service.change_user(session, user, _account(session, user_id), payload))
    except service.UserError as exc:
        raise RequestValidationError(exc.errors) from exc


@router.post("/{user_id}/deactivate", response_model=UserOut)
def deactivate_user(user_id: UserId, user: LocalAdmin, session: SessionDep) -> UserOut:
    """The account can no longer log in and its sessions end at once."""
    try:
        return UserOut.model_validate(service.deactivate(session, user, _account(session, user_id)))
    except service.UserError as exc:
        raise RequestValidationError(exc.errors) from exc
