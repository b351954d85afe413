"""The decision record as a PDF: ``GET /api/v1/incidents/{id}/record.pdf``.

Scoped like the incident (api/access.py, through the incidents service, which also
writes the read to the audit log): out of scope is a 404, the service role a 403.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy.orm import Session

from api.auth.dependencies import StaffUser
from api.auth.schemas import User
from api.db import SessionDep
from api.incidents import service as incidents
from api.incidents.models import Incident
from api.knowledge_ref import KnowledgeDep
from api.records import pdf
from api.records.service import DecisionRecord, build
from knowledge import Knowledge

router = APIRouter(prefix="/api/v1/incidents", tags=["records"])


def record_for(session: Session, knowledge: Knowledge, user: User, incident_id: str) -> DecisionRecord | None:
    """The record when ``user`` may read the incident, else None (the pages use it too)."""
    found = incidents.get_incident(session, user, incident_id)
    incident = session.get(Incident, uuid.UUID(incident_id)) if found is not None else None
    if found is None or incident is None:
        return None
    return build(session, knowledge, incident, found.review_status)


@router.get("/{incident_id}/record.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}, 404: {"description": "not found or not yours"}})
def record_pdf(incident_id: str, user: StaffUser, session: SessionDep, knowledge: KnowledgeDep) -> Response:
    record = record_for(session, knowledge, user, incident_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="incident not found")
    return Response(pdf.render(record), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="dossier-{record.reference}.pdf"',
        "Cache-Control": "no-store",
    })  # fmt: skip
