"""IBIS export endpoints: CSV and JSON, per incident and per period.

Who: contact persons and supervisors for the incidents of their locations (recorded
there or handed to them), admins for all (``access.may_export_ibis``); counsellors
register through them (403). Per incident, an incident out of scope is a 404.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response, status

from api import access
from api.auth.dependencies import StaffUser
from api.auth.schemas import User
from api.db import SessionDep
from api.ibis import service
from api.security.spreadsheet import csv_cell
from api.sessions.service import BadFilter, parse_bound

router = APIRouter(prefix="/api/v1", tags=["ibis"])

FromQ = Annotated[str | None, Query(alias="from", description="recorded from (YYYY-MM-DD or ISO 8601)")]
ToQ = Annotated[str | None, Query(alias="to", description="recorded until (a day includes that whole day)")]
CSV_MEDIA = "text/csv; charset=utf-8"


def _allowed(user: User) -> None:
    if not access.may_export_ibis(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the IBIS export is for contact persons, "
                                                              "supervisors and admins")  # fmt: skip


def _period(location: str | None, date_from: str | None, date_to: str | None) -> dict[str, Any]:
    try:
        return {"location": location, "date_from": parse_bound(date_from, end=False),
                "date_to": parse_bound(date_to, end=True)}  # fmt: skip
    except BadFilter as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


def _rows(session: Any, user: User, **filters: Any) -> list[dict[str, Any]]:
    try:
        return service.rows(session, user, **filters)
    except service.TooMany as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


def _one(session: Any, user: User, incident_id: str) -> list[dict[str, Any]]:
    try:
        key = UUID(incident_id)
    except ValueError:
        key = None
    found = _rows(session, user, incident_id=key) if key is not None else []
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="incident not found")
    return found


def _csv(rows: list[dict[str, Any]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(service.COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(";".join(v) if isinstance(v := row[c], list) else v) for c in service.COLUMNS])
    return Response(buffer.getvalue(), media_type=CSV_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


def _json(rows: list[dict[str, Any]]) -> dict[str, Any]:
    items = [{**row, "vastgelegd_op": csv_cell(row["vastgelegd_op"])} for row in rows]
    return {"items": items, "total": len(items)}


@router.get("/ibis/incidents.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def period_csv(user: StaffUser, session: SessionDep, location: str | None = None, date_from: FromQ = None,
               date_to: ToQ = None) -> Response:
    _allowed(user)
    return _csv(_rows(session, user, **_period(location, date_from, date_to)), "ibis-export.csv")


@router.get("/ibis/incidents.json")
def period_json(user: StaffUser, session: SessionDep, location: str | None = None, date_from: FromQ = None,
                date_to: ToQ = None) -> dict[str, Any]:
    _allowed(user)
    return _json(_rows(session, user, **_period(location, date_from, date_to)))


@router.get("/incidents/{incident_id}/ibis.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, 404: {"description": "not found or not yours"}})
def incident_csv(incident_id: str, user: StaffUser, session: SessionDep) -> Response:
    _allowed(user)
    rows = _one(session, user, incident_id)
    return _csv(rows, f"ibis-{rows[0]['referentie']}.csv")


@router.get("/incidents/{incident_id}/ibis.json", responses={404: {"description": "not found or not yours"}})
def incident_json(incident_id: str, user: StaffUser, session: SessionDep) -> dict[str, Any]:
    _allowed(user)
    return _json(_one(session, user, incident_id))
