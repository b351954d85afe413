"""``GET /api/v1/audit``: the audit log, for admins only (newest first)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, field_serializer

from api.audit import service
from api.auth.dependencies import AdminUser
from api.db import SessionDep
from api.models_base import as_utc
from api.security.bounds import Offset

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    object_type: str
    object_id: str | None
    object_ids: list[str]
    path: str | None

    @field_serializer("at")
    def _at(self, value: datetime) -> str:
        return as_utc(value).isoformat()


class AuditList(BaseModel):
    items: list[AuditItem]
    total: int


@router.get("/audit", response_model=AuditList)
def read_audit_log(
    _user: AdminUser,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=128, description="pseudonymous staff id")] = None,
    object_id: Annotated[str | None, Query(max_length=64, description="session or incident id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> AuditList:
    # Reading the audit log is not itself a read of case data: it holds no content.
    rows, total = service.list_entries(session, actor=actor, object_id=object_id, limit=limit, offset=offset)
    return AuditList(items=[AuditItem.model_validate(row) for row in rows], total=total)
