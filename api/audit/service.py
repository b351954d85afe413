"""``record_read``: called by the services that hand out sessions and incidents.

The request path comes from a context variable set by ``AuditPathMiddleware`` so
that the services need no request object: an API read shows ``/api/v1/...``, a
page read ``/sessies/...``. Reads by the service role are not people's reads (and
the service role cannot read anyway); calls outside a request (scripts) carry no path.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from api.audit.models import AuditEntry
from api.auth.schemas import User
from api.models_base import utcnow

_request_path: ContextVar[str | None] = ContextVar("coa_audit_request_path", default=None)


class AuditPathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _request_path.set(f"{scope['method']} {scope['path']}"[:300])
        try:
            await self.app(scope, receive, send)
        finally:
            _request_path.reset(token)


def record_read(session: Session, user: User, object_type: str, ids: Iterable[object]) -> None:
    """Append one audit row and commit it (reads do not commit otherwise)."""
    if user.role == "service":
        return
    id_list = [str(value) for value in ids]
    single = object_type in ("incident", "session", "review_history")
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=user.sub[:128],
            role=user.role,
            action="read",
            object_type=object_type,
            object_id=id_list[0] if single and id_list else None,
            object_ids=[] if single else id_list,
            path=_request_path.get(),
        )
    )
    session.commit()


def record_change(session: Session, user: User, object_type: str, object_id: object, action: str) -> None:
    """Append one audit row for a change (create, update, end, deactivate) in the
    caller's transaction: the change and its audit row are committed together."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=user.sub[:128],
            role=user.role,
            action=action[:16],
            object_type=object_type[:32],
            object_id=str(object_id)[:64],
            object_ids=[],
            path=_request_path.get(),
        )
    )


def list_entries(
    session: Session,
    *,
    actor: str | None = None,
    object_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    from sqlalchemy import func

    stmt = select(AuditEntry)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if object_id:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditEntry.id.desc()).offset(offset).limit(limit)).all()
    return list(rows), total
