"""Guidance-session endpoints.

Writing (``POST /sessions/events``, or several at once with
``POST /sessions/events/batch``) is for the action server's service credential
only; reading is for staff, scoped like incidents (counsellor: own sessions;
contact_person/supervisor: their locations; admin: all). The service role cannot
read: a leaked action-server token must not expose what was discussed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from api.auth.dependencies import ServiceUser, StaffUser
from api.db import SessionDep
from api.knowledge_ref import KnowledgeDep
from api.security.bounds import Offset
from api.security.spreadsheet import csv_cell
from api.sessions import service
from api.sessions.schemas import (
    SessionDetail,
    SessionEventBatchCreate,
    SessionEventBatchOut,
    SessionEventCreate,
    SessionEventOut,
    SessionItem,
    SessionList,
)

router = APIRouter(prefix="/api/v1", tags=["sessions"])

#: The CSV export holds exactly what the list shows (no question/answer texts).
CSV_COLUMNS = [name for name in SessionItem.model_fields if name != "id"]
CSV_COLUMNS.insert(0, "id")
CSV_MAX_ROWS = 50_000


@router.post(
    "/sessions/events",
    response_model=SessionEventOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": SessionEventOut, "description": "idempotency_key seen before: the stored event"}},
)
def record_session_event(
    payload: SessionEventCreate,
    _user: ServiceUser,
    session: SessionDep,
    knowledge: KnowledgeDep,
    response: Response,
) -> SessionEventOut:
    try:
        event, created = service.record_event(session, knowledge, payload)
    except service.SessionValidationError as exc:
        raise RequestValidationError(exc.errors) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return event


@router.post(
    "/sessions/events/batch",
    response_model=SessionEventBatchOut,
    status_code=status.HTTP_200_OK,
)
def record_session_events(
    payload: SessionEventBatchCreate,
    _user: ServiceUser,
    session: SessionDep,
    knowledge: KnowledgeDep,
) -> SessionEventBatchOut:
    """Several events (1..100) in the given order, in one transaction: each as
    ``POST /sessions/events`` would store it (a known ``idempotency_key`` gives the
    stored event); all or nothing: when an event is refused the answer is 422 whose
    ``loc`` names its index (``["body", "events", <index>, <field>]``) and nothing
    of the batch is stored."""
    try:
        events, created = service.record_events(session, knowledge, payload.events)
    except service.SessionValidationError as exc:
        raise RequestValidationError(exc.errors) from exc
    return SessionEventBatchOut(events=events, created=created)


def _filters(
    location: str | None = None,
    protocol: str | None = None,
    status_: str | None = None,
    state: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    overdue: bool | None = None,
    q: str | None = None,
) -> service.SessionFilters:
    try:
        return service.SessionFilters(
            location=location,
            protocol=protocol,
            status=status_,
            state=state,
            date_from=service.parse_bound(date_from, end=False),
            date_to=service.parse_bound(date_to, end=True),
            overdue=overdue,
            q=q,
        )
    except service.BadFilter as exc:
        raise HTTPException(422, detail=str(exc)) from exc


StatusQ = Annotated[str | None, Query(alias="status", description="review status of the session's incident")]
StateQ = Annotated[str | None, Query(pattern="^(lopend|onderbroken|afgerond|gestopt)$", description="session state")]
FromQ = Annotated[str | None, Query(alias="from", description="started on/after (YYYY-MM-DD or ISO date-time)")]
ToQ = Annotated[str | None, Query(alias="to", description="started before the end of this day / before this time")]
KeywordQ = Annotated[str | None, Query(max_length=200, description="keyword in step ids, texts, answers, outcome")]


@router.get("/sessions", response_model=SessionList)
def list_sessions(
    user: StaffUser,
    session: SessionDep,
    location: str | None = None,
    protocol: str | None = None,
    status_: StatusQ = None,
    state: StateQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    overdue: bool | None = None,
    q: KeywordQ = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> SessionList:
    filters = _filters(location, protocol, status_, state, date_from, date_to, overdue, q)
    items, total = service.list_sessions(session, user, filters, limit=limit, offset=offset)
    return SessionList(items=items, total=total)


@router.get("/sessions.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
def export_sessions(
    user: StaffUser,
    session: SessionDep,
    location: str | None = None,
    protocol: str | None = None,
    status_: StatusQ = None,
    state: StateQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    overdue: bool | None = None,
    q: KeywordQ = None,
) -> StreamingResponse:
    filters = _filters(location, protocol, status_, state, date_from, date_to, overdue, q)
    items, _total = service.list_sessions(session, user, filters, limit=CSV_MAX_ROWS)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for item in items:
            writer.writerow([csv_cell(getattr(item, column)) for column in CSV_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="begeleidingssessies.csv"'},
    )


@router.get(
    "/sessions/{session_id}", response_model=SessionDetail, responses={404: {"description": "not found or not yours"}}
)
def get_session(session_id: str, user: StaffUser, session: SessionDep) -> SessionDetail:
    detail = service.get_session_detail(session, user, session_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="session not found")
    return detail
